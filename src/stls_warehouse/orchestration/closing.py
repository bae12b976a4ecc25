"""The steps of the monthly close and the annual review that are not pipeline stages.

Each is a thin composition of pipeline stages, dbt (through `pipeline.build_warehouse`)
and the published tables; each is idempotent, so re-running a close changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypedDict

from stls_warehouse.config import paths
from stls_warehouse.orchestration.calendar import CloseDetails, annual_review_as_of, close_for_month
from stls_warehouse.pipeline import BuildResult

if TYPE_CHECKING:
    from stls_warehouse.reports.annual import AnnualReportFiles
    from stls_warehouse.reports.evidence import EvidencePackFile
    from stls_warehouse.reports.monthly import MonthlyReportFile

log = logging.getLogger(__name__)


class CloseBuild(BuildResult):
    as_of: str  # the status date the build judged at


class LateAlert(TypedDict):
    late: int  # late returns
    alert_sent: bool  # county finance's list
    schools_mailed: list[str]  # SLAs whose contacts were mailed
    contacts_file: bool  # whether the returns service has published its contacts


def build_as_of(day: str) -> CloseBuild:
    """Build the warehouse with return statuses judged at `day` (the dbt var `as_of_date`)."""
    from stls_warehouse import pipeline

    return {**pipeline.build_warehouse(as_of=day), "as_of": day}


def close_completeness(close: CloseDetails) -> dict[str, Any]:
    """Statuses of the close's returns at its as-of date; call inside the writer pool."""
    from stls_warehouse.quality.completeness import period_completeness

    result = period_completeness(paths().warehouse, close["period_keys"], close["as_of"])
    return result.as_dict()


def alert_late_returns(completeness: Mapping[str, Any]) -> LateAlert:
    """County finance's list of every late return (`STLS_ALERT_TO`), and each late school's
    own e-mail to the contacts the returns service publishes; without that file, the list
    alone, as the log says."""
    from stls_warehouse.contacts import ContactsFileInvalid, contacts_file, read_contacts
    from stls_warehouse.orchestration.alerts import overdue_alert, overdue_school_alerts

    label, late = completeness["label"], completeness["late"]
    sent = overdue_alert(label, late)
    home = paths()
    try:
        contacts = read_contacts(home)
    except ContactsFileInvalid as bad:
        log.error("schools not mailed: %s", bad)
        contacts = None
    else:
        if contacts is None:
            log.warning(
                "schools not mailed: the returns service has not published %s; the overdue "
                "returns went to STLS_ALERT_TO only",
                contacts_file(home),
            )
    mailed = overdue_school_alerts(label, late, contacts) if contacts is not None and late else {}
    return {
        "late": len(late),
        "alert_sent": sent,
        "schools_mailed": sorted(mailed),
        "contacts_file": contacts is not None,
    }


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


def monthly_report(month: str) -> list[MonthlyReportFile]:
    """The monthly report of each ledger period the month's close covered."""
    from stls_warehouse.reports.monthly import write_monthly_report

    home = paths().ensure()
    return [write_monthly_report(home, period.key) for period in close_for_month(month).ledger_periods]


def annual_report(financial_year: str) -> AnnualReportFiles:
    from stls_warehouse.reports.annual import write_annual_report

    return write_annual_report(paths().ensure(), financial_year)


def evidence_pack(financial_year: str) -> EvidencePackFile:
    from stls_warehouse.reports.evidence import write_evidence_pack

    return write_evidence_pack(paths().ensure(), financial_year)
