"""Every DAG imports cleanly, cheaply, and declares what operators rely on."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from stls_warehouse.config import REPO_ROOT

DAGS = REPO_ROOT / "dags"


@pytest.fixture(scope="module")
def dag_bag(tmp_path_factory: pytest.TempPathFactory):
    import os

    os.environ.setdefault("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow_home")))
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_every_dag_file_imports(dag_bag) -> None:
    assert dag_bag.import_errors == {}
    assert {Path(d.fileloc).name for d in dag_bag.dags.values()} == {p.name for p in DAGS.glob("*.py")}


def test_every_dag_declares_its_operating_contract(dag_bag) -> None:
    for dag_id, dag in dag_bag.dags.items():
        assert dag.schedule is not None, dag_id
        assert dag.start_date is not None, dag_id
        assert dag.catchup is False, dag_id
        assert dag.max_active_runs == 1, dag_id
        assert dag.tags and "stls" in dag.tags, dag_id
        assert dag.doc_md and len(dag.doc_md) > 40, dag_id
        assert dag.owner and dag.owner != "airflow", dag_id
        for task in dag.tasks:
            assert task.retries >= 1, f"{dag_id}.{task.task_id}"
            # A task that hangs (a FIFO, a lock, a server) fails and alerts (issue 13, case 2).
            assert task.execution_timeout is not None, f"{dag_id}.{task.task_id}"


def test_warehouse_writers_share_the_one_slot_pool(dag_bag) -> None:
    dag = dag_bag.dags["stls_returns_pipeline"]
    writers = {t.task_id for t in dag.tasks if t.pool == "stls_warehouse_writer"}
    # gate_returns only reads the warehouse, but a reader blocks a DuckDB writer.
    assert writers == {
        "gate_returns",
        "load_returns",
        "load_decisions",
        "build_warehouse",
        "gate_warehouse",
        "publish",
    }


def test_dag_files_do_not_import_heavy_libraries_at_parse_time() -> None:
    code = (
        "import sys, runpy\n"
        f"for p in {sorted(str(p) for p in DAGS.glob('*.py'))!r}: runpy.run_path(p)\n"
        "heavy = [m for m in ('great_expectations', 'pandas', 'duckdb', 'dbt') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1:] in ([], [""]), done.stdout
    assert time.monotonic() - started < 60


def test_returns_loaded_on_arrival_start_the_publishing_pipeline(dag_bag) -> None:
    """Which DAG publishes what: the on-arrival DAG only loads; the asset its last task
    updates starts the returns pipeline, which publishes (as does its daily schedule)."""
    arrival = dag_bag.dags["stls_on_arrival"]
    outlets = {a.uri for t in arrival.tasks for a in t.outlets}
    assert outlets == {"stls://warehouse/returns"}
    assert not any(t.task_id == "publish" for t in arrival.tasks)
    pipeline = dag_bag.dags["stls_returns_pipeline"]
    assert {a.uri for a in pipeline.timetable.asset_condition.objects} == {"stls://warehouse/returns"}
    assert pipeline.timetable.timetable.expression == "0 6 * * *"
