"""Monthly close: one run per month closes that month's ledger period and KPI month.

Runs on the 20th, after every due date of the previous month's returns (due days per
return type in `dbt_project/seeds/ref_return_deadlines.csv`); a run
closes the month before its logical date, or the month given as the `month` parameter
(`YYYY-MM`) when triggered by hand or back-filled. Statuses are judged at the close day of
that month, never at the wall clock, so re-running or back-filling a close gives the same
tables. Steps: take in anything still waiting in the landing zone and the returns service's
decisions (explanations, sign-offs, waivers) not loaded yet, build the warehouse,
check completeness against the due dates and e-mail the overdue returns, run the warehouse
gates, publish, and announce the closed period (`stls://closed/period`, which starts the
monthly report) and, at the April close that finishes P13, the closed financial year
(`stls://closed/year`, which starts the annual review). Warehouse steps share the
one-slot pool `stls_warehouse_writer`, so concurrent runs of any DAG queue instead of
failing on the DuckDB lock.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Asset, Param, dag, task

from stls_warehouse.orchestration.dag_defaults import (
    PERIOD_CLOSED_URI,
    PUBLISHED_URI,
    WAREHOUSE_POOL,
    YEAR_CLOSED_URI,
    default_args,
)

PUBLISHED = Asset(PUBLISHED_URI)
PERIOD_CLOSED = Asset(PERIOD_CLOSED_URI)
YEAR_CLOSED = Asset(YEAR_CLOSED_URI)


@dag(
    dag_id="stls_monthly_close",
    schedule="0 7 20 * *",
    start_date=datetime(2021, 5, 1),
    catchup=False,
    max_active_runs=1,
    tags=["stls", "close", "warehouse"],
    default_args=default_args(),
    params={"month": Param(None, type=["null", "string"], description="Month to close, YYYY-MM")},
    doc_md=__doc__,
)
def stls_monthly_close() -> None:
    @task
    def which_close(params: dict | None = None, logical_date: datetime | None = None) -> dict:
        from stls_warehouse.orchestration.calendar import close_for_month, close_for_run

        month = (params or {}).get("month")
        if month:
            return close_for_month(month).as_dict()
        if logical_date is None:
            raise ValueError("a close needs a logical date or a `month` parameter")
        return close_for_run(logical_date.date()).as_dict()

    @task
    def route_landing(close: dict) -> list[dict]:
        from stls_warehouse import pipeline

        return [b for b in pipeline.route_landing() if b["files"]]

    @task(map_index_template="{{ sla_code }}")
    def intake(batch: dict, run_id: str | None = None) -> dict:
        from airflow.sdk import get_current_context

        from stls_warehouse import pipeline

        get_current_context()["sla_code"] = batch["sla_code"]  # type: ignore[typeddict-unknown-key]
        return pipeline.intake_batch(batch["sla_code"], batch["files"], run_id or "manual")

    @task(pool=WAREHOUSE_POOL, trigger_rule="none_failed")  # reads each SLA's history
    def gate_returns(intakes: list[dict] | None = None, run_id: str | None = None) -> dict:
        from stls_warehouse import pipeline

        return pipeline.gate_returns(run_id or "manual")

    @task(pool=WAREHOUSE_POOL)
    def load_returns(gate: dict, run_id: str | None = None) -> dict:
        from stls_warehouse import pipeline

        return pipeline.load_returns(run_id or "manual")

    @task(pool=WAREHOUSE_POOL)
    def load_decisions(load: dict, run_id: str | None = None) -> dict:
        """The returns service's explanations, sign-offs and waivers not loaded yet; a bad
        file is named in this task's log and skipped."""
        from stls_warehouse import pipeline

        return pipeline.load_decisions(run_id or "manual")

    @task(pool=WAREHOUSE_POOL)
    def build_warehouse(load: dict, close: dict) -> dict:
        from stls_warehouse.orchestration.closing import build_as_of

        return build_as_of(close["as_of"])

    @task(pool=WAREHOUSE_POOL)
    def check_completeness(build: dict, close: dict) -> dict:
        from stls_warehouse.orchestration.closing import close_completeness

        return close_completeness(close)

    @task
    def alert_overdue(completeness: dict) -> dict:
        from stls_warehouse.orchestration.closing import alert_late_returns

        return alert_late_returns(completeness)

    @task(pool=WAREHOUSE_POOL)
    def gate_warehouse(completeness: dict, run_id: str | None = None) -> dict:
        """Reconciliation, completeness and no-personal-data gates; a blocking failure fails
        this task at once (no retry: the data will not change) and publication never runs."""
        from stls_warehouse.orchestration.closing import warehouse_gates

        return warehouse_gates(run_id)

    @task(pool=WAREHOUSE_POOL, outlets=[PUBLISHED])
    def publish(gates: dict) -> dict:
        from stls_warehouse import pipeline

        return pipeline.publish_release()

    @task(outlets=[PERIOD_CLOSED])
    def announce_period_closed(release: dict, close: dict) -> dict:
        from airflow.sdk import get_current_context

        extra = {
            "month": close["month"],
            "period_keys": close["period_keys"],
            "release_id": release["release_id"],
        }
        get_current_context()["outlet_events"][PERIOD_CLOSED].extra = extra
        return extra

    @task.short_circuit
    def closes_a_year(release: dict, close: dict) -> bool:
        return close["closes_year"] is not None

    @task(outlets=[YEAR_CLOSED])
    def announce_year_closed(close: dict) -> dict:
        from airflow.sdk import get_current_context

        extra = {"financial_year": close["closes_year"], "month": close["month"]}
        get_current_context()["outlet_events"][YEAR_CLOSED].extra = extra
        return extra

    close = which_close()
    loaded = load_decisions(load_returns(gate_returns(intake.expand(batch=route_landing(close)))))
    completeness = check_completeness(build_warehouse(loaded, close), close)
    alert_overdue(completeness)
    release = publish(gate_warehouse(completeness))
    announce_period_closed(release, close)
    closes_a_year(release, close) >> announce_year_closed(close)


stls_monthly_close()
