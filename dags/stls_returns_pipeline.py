"""Returns pipeline: landing zone -> intake -> quality gate -> warehouse (returns, then the
returns service's decisions) -> dbt -> warehouse gate -> publish -> the latest monthly report.

Runs daily at 06:00 (Europe/London) and whenever `stls_on_arrival` has loaded returns (the
`stls://warehouse/returns` asset), so an upload is published within minutes. `stls run` runs
this DAG.

Publishes: a release of the marts (`published/`, and PostgreSQL when configured; the
`stls://published/marts` asset), unless the warehouse gates fail, then writes the latest
period's monthly report from it. The monthly close and the annual review publish too; the
on-arrival DAG only loads.

Thin by design: the tasks and task groups are defined once in
`stls_warehouse.orchestration.tasks`; this file only composes them.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, dag

from stls_warehouse.orchestration import tasks
from stls_warehouse.orchestration.assets import RETURNS_LOADED
from stls_warehouse.orchestration.dag_defaults import default_args


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
    default_args=default_args(),  # owner, retries (STLS_TASK_RETRIES), failure e-mail
    doc_md=__doc__,
)
def stls_returns_pipeline() -> None:
    loaded = tasks.take_in_returns(tasks.route_landing())
    release = tasks.gate_and_publish(tasks.build_warehouse(loaded))
    tasks.monthly_report(release)


stls_returns_pipeline()
