"""The steps of the monthly close and the annual review that are not pipeline stages.

Each is a thin composition of pipeline stages, dbt (through `pipeline.build_warehouse`)
and the published tables; each is idempotent, so re-running a close changes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from stls_warehouse.config import paths
from stls_warehouse.orchestration.calendar import annual_review_as_of, close_for_month


@contextmanager
def as_of_date(day: str) -> Iterator[None]:
    """Judge return statuses at `day` (dbt reads STLS_AS_OF_DATE) for the duration of a step."""
    saved = os.environ.get("STLS_AS_OF_DATE")
    os.environ["STLS_AS_OF_DATE"] = day
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("STLS_AS_OF_DATE", None)
        else:
            os.environ["STLS_AS_OF_DATE"] = saved


def build_as_of(day: str) -> dict[str, Any]:
    from stls_warehouse import pipeline

    with as_of_date(day):
        return pipeline.build_warehouse() | {"as_of": day}


def close_completeness(close: dict[str, Any]) -> dict[str, Any]:
    """Statuses of the close's returns at its as-of date; call inside the writer pool."""
    from stls_warehouse.quality.completeness import period_completeness

    result = period_completeness(paths().warehouse, close["period_keys"], close["as_of"])
    return result.as_dict()


def alert_late_returns(completeness: dict[str, Any]) -> dict[str, Any]:
    from stls_warehouse.orchestration.alerts import overdue_alert

    sent = overdue_alert(completeness["label"], completeness["late"])
    return {"late": len(completeness["late"]), "alert_sent": sent}


def warehouse_gates(run_id: str | None) -> dict[str, Any]:
    """The gates on the built warehouse, for every DAG's `gate_warehouse` task.

    A blocking failure fails the task at once with AirflowFailException: the data will not
    change on a retry, and publication (the next task) never runs.
    """
    from airflow.sdk.exceptions import AirflowFailException

    from stls_warehouse import pipeline
    from stls_warehouse.quality.warehouse_gates import GateFailed

    try:
        return pipeline.gate_warehouse(run_id or "manual")
    except GateFailed as failed:
        raise AirflowFailException(str(failed)) from failed


def annual_as_of(financial_year: str) -> str:
    return annual_review_as_of(financial_year).isoformat()


def year_gate(financial_year: str) -> dict[str, Any]:
    """The annual completeness gate, on the published tables: raises when the year is open."""
    from stls_warehouse.quality.completeness import require_year_complete
    from stls_warehouse.reports.source import published_year_completeness

    result = published_year_completeness(paths(), financial_year)
    require_year_complete(result)
    return result.as_dict()


def monthly_report(month: str) -> list[dict[str, Any]]:
    """The monthly report of each ledger period the month's close covered."""
    from stls_warehouse.reports.monthly import write_monthly_report

    home = paths().ensure()
    return [write_monthly_report(home, period.key) for period in close_for_month(month).ledger_periods]


def annual_report(financial_year: str) -> dict[str, Any]:
    from stls_warehouse.reports.annual import write_annual_report

    return write_annual_report(paths().ensure(), financial_year)


def evidence_pack(financial_year: str) -> dict[str, Any]:
    from stls_warehouse.reports.evidence import write_evidence_pack

    return write_evidence_pack(paths().ensure(), financial_year)
