"""Returns pipeline: landing zone -> intake -> quality gate -> warehouse (returns, then the
returns service's decisions) -> dbt -> warehouse gate -> publish -> the latest monthly report.

Runs daily at 06:00 (Europe/London) and whenever `stls_on_arrival` has loaded returns (the
`stls://warehouse/returns` asset), so an upload is published within minutes. This DAG and the
monthly close are the two that publish a release; the on-arrival DAG only loads.

Thin by design: every task calls one function of `stls_warehouse.pipeline`; heavy imports
happen inside those functions, so parsing this file costs nothing.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable, dag, task

from stls_warehouse.orchestration.dag_defaults import (
    PUBLISHED_URI,
    RETURNS_LOADED_URI,
    WAREHOUSE_POOL,
    default_args,
)

PUBLISHED = Asset(PUBLISHED_URI)
RETURNS_LOADED = Asset(RETURNS_LOADED_URI)

DEFAULT_ARGS = default_args()  # owner, retries (STLS_TASK_RETRIES), failure e-mail


@dag(
    dag_id="stls_returns_pipeline",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 6 * * *", timezone="Europe/London"),
        assets=[RETURNS_LOADED],
    ),
    start_date=datetime(2021, 4, 1),
    catchup=False,
    max_active_runs=1,
    tags=["stls", "returns", "warehouse"],
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
)
def stls_returns_pipeline() -> None:
    @task
    def route_landing() -> list[dict]:
        from stls_warehouse import pipeline

        return pipeline.route_landing()

    @task(map_index_template="{{ sla_code }}")
    def intake(batch: dict, run_id: str | None = None) -> dict:
        from airflow.sdk import get_current_context

        from stls_warehouse import pipeline

        get_current_context()["sla_code"] = batch["sla_code"]  # type: ignore[typeddict-unknown-key]

        return pipeline.intake_batch(batch["sla_code"], batch["files"], run_id or "manual")

    @task(pool=WAREHOUSE_POOL)  # reads each SLA's history from the warehouse: no writer meanwhile
    def gate_returns(intake_results: list[dict], run_id: str | None = None) -> dict:
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
    def build_warehouse(load: dict) -> dict:
        """dbt: a full build when the dbt project changed, else only what the changed
        returns feed, or nothing when no source row changed; the decision and its reason
        are written to this task's log before dbt starts, and returned."""
        from stls_warehouse import pipeline

        return pipeline.build_warehouse()

    @task(pool=WAREHOUSE_POOL)
    def gate_warehouse(build: dict, run_id: str | None = None) -> dict:
        """Reconciliation, completeness and no-personal-data gates; a blocking failure fails
        this task at once (no retry: the data will not change) and publication never runs."""
        from stls_warehouse.orchestration.closing import warehouse_gates

        return warehouse_gates(run_id)

    @task(pool=WAREHOUSE_POOL, outlets=[PUBLISHED])
    def publish(checked: dict) -> dict:
        from stls_warehouse import pipeline

        return pipeline.publish_release()

    @task
    def monthly_report(release: dict) -> dict:
        """The latest period's monthly report, read from the release just published."""
        from stls_warehouse import pipeline

        return pipeline.write_monthly_report()

    intakes = intake.expand(batch=route_landing())
    decided = load_decisions(load_returns(gate_returns(intakes)))
    monthly_report(publish(gate_warehouse(build_warehouse(decided))))


stls_returns_pipeline()
