"""Annual review: when a financial year's P12 and P13 are closed, gate it and report it.

Scheduled on the `stls://closed/year` asset that the April monthly close announces (P13
postings may fall in April, so the year is whole only then). Steps: the annual marts (the
warehouse rebuilt with statuses judged at that close, through the warehouse gates, and
published), the completeness gate (every expected return of the year accepted or waived,
read from the published `mart_return_status`; the run fails, and the failure is e-mailed,
when any is missing), the annual report and the auditor's evidence pack. The year comes
from the asset event, or the `financial_year` parameter (`YYYY-YY`) when triggered by hand.

Publishes: the annual marts as a release (`stls://published/marts`; an unchanged release is
not published again), then writes the annual report and the evidence pack from it.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Param, dag

from stls_warehouse.orchestration import tasks
from stls_warehouse.orchestration.assets import YEAR_CLOSED
from stls_warehouse.orchestration.dag_defaults import default_args


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
    year = tasks.which_year()
    release = tasks.gate_and_publish(tasks.build_annual_marts(year))
    gate = tasks.completeness_gate(release, year)
    tasks.evidence_pack(tasks.annual_report(gate, year), year)


stls_annual_review()
