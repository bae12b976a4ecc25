"""Monthly report: written when the monthly close announces a closed period.

Scheduled on the `stls://closed/period` asset, never on a guessed cron offset: it runs
once the close has published the month's tables, reads only the published release, and
writes the month's report under `$STLS_HOME/reports/`. The month comes from the asset
event (or from the `month` parameter, `YYYY-MM`, when triggered by hand).
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Asset, Param, dag, task

from stls_warehouse.orchestration.dag_defaults import PERIOD_CLOSED_URI, default_args

PERIOD_CLOSED = Asset(PERIOD_CLOSED_URI)


@dag(
    dag_id="stls_monthly_report",
    schedule=[PERIOD_CLOSED],
    start_date=datetime(2021, 5, 1),
    catchup=False,
    max_active_runs=1,
    tags=["stls", "reports"],
    default_args=default_args(),
    params={"month": Param(None, type=["null", "string"], description="Month, YYYY-MM")},
    doc_md=__doc__,
)
def stls_monthly_report() -> None:
    @task
    def closed_months(params: dict | None = None, triggering_asset_events: dict | None = None) -> list[str]:
        if (params or {}).get("month"):
            return [params["month"]]  # type: ignore[index]
        months = {
            event.extra["month"]
            for events in (triggering_asset_events or {}).values()
            for event in events
            if event.extra and event.extra.get("month")
        }
        if not months:
            raise ValueError("no closed month in the triggering asset events; pass `month`")
        return sorted(months)

    @task
    def write_monthly_report(month: str) -> list[dict]:
        from stls_warehouse.orchestration.closing import monthly_report

        return monthly_report(month)

    write_monthly_report.expand(month=closed_months())


stls_monthly_report()
