"""On arrival: a school's return is picked up as soon as it lands, recorded once, answered.

A watcher in the triggerer (`LandingZoneTrigger`) polls `$STLS_HOME/landing/` and updates
the `stls://landing/returns` asset when files are waiting that the raw zone has not
recorded; that asset event starts this DAG. Each new file gets its own mapped intake task
(a backlog of more than 64 files fans out per SLA instead), then the Great Expectations
gate and the single warehouse writer: the returns, whose load (as on every path that takes
returns in) writes a feedback note per file under `$STLS_HOME/feedback/<SLA>/` and updates
the data quality summary (`$STLS_HOME/reports/dq/latest.html`), then the returns service's
decisions not loaded yet. Re-running a run, or a second event for the same files, changes
nothing: files already in the submission ledger are not parsed again.

Publishes: nothing. It only loads; its last task updates the `stls://warehouse/returns`
asset, which starts `stls_returns_pipeline` (build, warehouse gate, publish), so a school
sees its return published minutes after it lands. The monthly close (`stls_monthly_close`)
publishes the closed month as before.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag

from stls_warehouse.orchestration import tasks
from stls_warehouse.orchestration.assets import RETURNS_LOADED, landing_asset
from stls_warehouse.orchestration.dag_defaults import default_args


@dag(
    dag_id="stls_on_arrival",
    schedule=[landing_asset()],
    start_date=datetime(2021, 4, 1),
    catchup=False,
    max_active_runs=1,
    tags=["stls", "returns", "intake"],
    default_args=default_args(),
    doc_md=__doc__,
)
def stls_on_arrival() -> None:
    tasks.take_in_returns(tasks.plan_arrivals(), loaded=[RETURNS_LOADED])


stls_on_arrival()
