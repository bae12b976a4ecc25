"""Monthly returns pipeline: landing zone -> intake -> quality gate -> warehouse -> dbt -> publish.

Thin by design: every task calls one function of `stls_warehouse.pipeline`; heavy imports
happen inside those functions, so parsing this file costs nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Asset, dag, task

WAREHOUSE_POOL = "stls_warehouse_writer"  # one slot: one DuckDB writer at a time
PUBLISHED = Asset("stls://published/marts")

DEFAULT_ARGS = {
    "owner": "stls-data-engineering",
    "retries": 2,
    "retry_delay": timedelta(minutes=2),
}


@dag(
    dag_id="stls_returns_pipeline",
    schedule="0 6 * * *",
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

    @task
    def gate_returns(intake_results: list[dict], run_id: str | None = None) -> dict:
        from stls_warehouse import pipeline

        return pipeline.gate_returns(run_id or "manual")

    @task(pool=WAREHOUSE_POOL)
    def load_returns(gate: dict, run_id: str | None = None) -> dict:
        from stls_warehouse import pipeline

        return pipeline.load_returns(run_id or "manual")

    @task(pool=WAREHOUSE_POOL)
    def build_warehouse(load: dict) -> dict:
        from stls_warehouse import pipeline

        return pipeline.build_warehouse()

    @task(pool=WAREHOUSE_POOL, outlets=[PUBLISHED])
    def publish(build: dict) -> dict:
        from stls_warehouse import pipeline

        return pipeline.publish_release()

    intakes = intake.expand(batch=route_landing())
    publish(build_warehouse(load_returns(gate_returns(intakes))))


stls_returns_pipeline()
