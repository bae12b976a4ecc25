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

This DAG does not build or publish itself: its last task updates the
`stls://warehouse/returns` asset, which starts `stls_returns_pipeline` (build, warehouse gate,
publish), so a school sees its return published minutes after it lands. The monthly close
(`stls_monthly_close`) publishes the closed month as before.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Asset, AssetWatcher, dag, task

from stls_warehouse.config import paths
from stls_warehouse.orchestration.dag_defaults import (
    LANDING_URI,
    RETURNS_LOADED_URI,
    WAREHOUSE_POOL,
    default_args,
)
from stls_warehouse.orchestration.triggers import LandingZoneTrigger

_home = paths()
LANDING = Asset(
    name="stls_landing_returns",
    uri=LANDING_URI,
    watchers=[
        AssetWatcher(
            name="stls_landing_watcher",
            trigger=LandingZoneTrigger(
                landing=str(_home.landing), raw_root=str(_home.raw), poke_interval=10.0
            ),
        )
    ],
)
RETURNS_LOADED = Asset(RETURNS_LOADED_URI)


@dag(
    dag_id="stls_on_arrival",
    schedule=[LANDING],
    start_date=datetime(2021, 4, 1),
    catchup=False,
    max_active_runs=1,
    tags=["stls", "returns", "intake"],
    default_args=default_args(),
    doc_md=__doc__,
)
def stls_on_arrival() -> None:
    @task
    def plan_arrivals() -> list[dict]:
        from stls_warehouse.orchestration.arrivals import plan_arrivals

        return plan_arrivals()

    @task(map_index_template="{{ arrival_label }}")
    def intake(batch: dict, run_id: str | None = None) -> dict:
        from airflow.sdk import get_current_context

        from stls_warehouse import pipeline

        get_current_context()["arrival_label"] = batch["label"]  # type: ignore[typeddict-unknown-key]
        return pipeline.intake_batch(batch["sla_code"], batch["files"], run_id or "manual")

    @task(pool=WAREHOUSE_POOL)  # reads each SLA's history from the warehouse
    def gate_returns(intakes: list[dict], run_id: str | None = None) -> dict:
        from stls_warehouse import pipeline

        return pipeline.gate_returns(run_id or "manual")

    @task(pool=WAREHOUSE_POOL)
    def load_returns(gate: dict, run_id: str | None = None) -> dict:
        from stls_warehouse import pipeline

        return pipeline.load_returns(run_id or "manual")

    @task(pool=WAREHOUSE_POOL, outlets=[RETURNS_LOADED])
    def load_decisions(load: dict, run_id: str | None = None) -> dict:
        """The returns service's explanations, sign-offs and waivers not loaded yet; a bad
        file is named in this task's log and skipped."""
        from stls_warehouse import pipeline

        return pipeline.load_decisions(run_id or "manual")

    batches = plan_arrivals()
    load_decisions(load_returns(gate_returns(intake.expand(batch=batches))))


stls_on_arrival()
