"""Annual review: when a financial year's P12 and P13 are closed, gate it and report it.

Scheduled on the `stls://closed/year` asset that the April monthly close announces (P13
postings may fall in April, so the year is whole only then). Steps: the completeness gate
(every expected return of the year accepted or waived, read from the published
`mart_return_status`; the run fails, and the failure is e-mailed, when any is missing),
the annual marts (the warehouse rebuilt with statuses judged at that close and published;
an unchanged release is not published again), the annual report and the auditor's
evidence pack. The year comes from the asset event, or the `financial_year` parameter
(`YYYY-YY`) when triggered by hand.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Asset, Param, dag, task

from stls_warehouse.orchestration.dag_defaults import (
    PUBLISHED_URI,
    WAREHOUSE_POOL,
    YEAR_CLOSED_URI,
    default_args,
)

YEAR_CLOSED = Asset(YEAR_CLOSED_URI)
PUBLISHED = Asset(PUBLISHED_URI)


@dag(
    dag_id="stls_annual_review",
    schedule=[YEAR_CLOSED],
    start_date=datetime(2021, 5, 1),
    catchup=False,
    max_active_runs=1,
    tags=["stls", "reports", "annual"],
    default_args=default_args(),
    params={"financial_year": Param(None, type=["null", "string"], description="Year, YYYY-YY")},
    doc_md=__doc__,
)
def stls_annual_review() -> None:
    @task
    def which_year(params: dict | None = None, triggering_asset_events: dict | None = None) -> str:
        if (params or {}).get("financial_year"):
            return str(params["financial_year"])  # type: ignore[index]
        years = sorted(
            event.extra["financial_year"]
            for events in (triggering_asset_events or {}).values()
            for event in events
            if event.extra and event.extra.get("financial_year")
        )
        if not years:
            raise ValueError("no financial year in the triggering asset events; pass `financial_year`")
        return years[-1]

    @task(pool=WAREHOUSE_POOL)
    def build_annual_marts(year: str) -> dict:
        from stls_warehouse.orchestration.closing import annual_as_of, build_as_of

        return build_as_of(annual_as_of(year))

    @task(pool=WAREHOUSE_POOL)
    def gate_warehouse(build: dict, run_id: str | None = None) -> dict:
        """Reconciliation, completeness and no-personal-data gates; a blocking failure fails
        this task at once (no retry: the data will not change) and publication never runs."""
        from stls_warehouse.orchestration.closing import warehouse_gates

        return warehouse_gates(run_id)

    @task(pool=WAREHOUSE_POOL, outlets=[PUBLISHED])
    def publish(gates: dict) -> dict:
        from stls_warehouse import pipeline

        return pipeline.publish_release()

    @task
    def completeness_gate(release: dict, year: str) -> dict:
        from stls_warehouse.orchestration.closing import year_gate

        return year_gate(year)

    @task
    def annual_report(gate: dict, year: str) -> dict:
        from stls_warehouse.orchestration.closing import annual_report

        return annual_report(year)

    @task(pool=WAREHOUSE_POOL)  # may read line_ref from the warehouse's staged lines: no writer meanwhile
    def evidence_pack(report: dict, year: str) -> dict:
        from stls_warehouse.orchestration.closing import evidence_pack

        return evidence_pack(year)

    year = which_year()
    gate = completeness_gate(publish(gate_warehouse(build_annual_marts(year))), year)
    evidence_pack(annual_report(gate, year), year)


stls_annual_review()
