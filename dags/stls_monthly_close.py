"""Monthly close: one run per month closes that month's ledger period and KPI month.

Runs on the 20th, after every due date of the previous month's returns (due days per
return type in `dbt_project/seeds/ref_return_deadlines.csv`); a run
closes the month before its logical date, or the month given as the `month` parameter
(`YYYY-MM`) when triggered by hand or back-filled. Statuses are judged at the close day of
that month (passed to dbt as the variable `as_of_date`), never at the wall clock, so
re-running or back-filling a close gives the same tables. Steps: take in anything still
waiting in the landing zone and the returns service's decisions (explanations, sign-offs,
waivers) not loaded yet, build the warehouse, check completeness against the due dates and
e-mail the overdue returns, run the warehouse gates, publish, and announce the closed
period (`stls://closed/period`, which starts the monthly report) and, at the April close
that finishes P13, the closed financial year (`stls://closed/year`, which starts the annual
review). Warehouse steps share the one-slot pool `stls_warehouse_writer`, so concurrent
runs of any DAG queue instead of failing on the DuckDB lock.

Publishes: the closed month's release (`stls://published/marts`), unless the warehouse gates
fail; the monthly report and the annual review are written from it by the DAGs its
announcements start.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Param, dag

from stls_warehouse.orchestration import tasks
from stls_warehouse.orchestration.dag_defaults import default_args


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
    close = tasks.which_close()
    batches = tasks.route_landing()
    close >> batches  # a close that cannot say which month it closes takes nothing in
    loaded = tasks.take_in_returns(batches)
    completeness = tasks.check_completeness(tasks.build_warehouse(loaded, close), close)
    tasks.alert_overdue(completeness)
    release = tasks.gate_and_publish(completeness)
    tasks.announce_period_closed(release, close)
    tasks.closes_a_year(release, close) >> tasks.announce_year_closed(close)


stls_monthly_close()
