"""Monthly report: written when the monthly close announces a closed period.

Scheduled on the `stls://closed/period` asset, never on a guessed cron offset: it runs
once the close has published the month's tables, reads only the published release, and
writes the month's report under `$STLS_HOME/reports/`. The month comes from the asset
event (or from the `month` parameter, `YYYY-MM`, when triggered by hand).

Publishes: nothing; it writes the report of each ledger period the close covered.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Param, dag

from stls_warehouse.orchestration import tasks
from stls_warehouse.orchestration.assets import PERIOD_CLOSED
from stls_warehouse.orchestration.dag_defaults import default_args


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
    tasks.write_monthly_report.expand(month=tasks.closed_months())


stls_monthly_report()
