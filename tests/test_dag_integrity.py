"""Every DAG imports cleanly, cheaply, and declares what operators rely on."""

from __future__ import annotations

import ast
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

from stls_warehouse.config import REPO_ROOT

DAGS = REPO_ROOT / "dags"
ORCHESTRATION = REPO_ROOT / "src" / "stls_warehouse" / "orchestration"


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


# --- each task and task group defined once (issue 18) ----------------------------------------


def _decorator_root(node: ast.expr) -> str | None:
    """`task` for @task, @task(...), @task.short_circuit, @task.short_circuit(...); `task_group`
    likewise; None for any other decorator."""
    while isinstance(node, ast.Call | ast.Attribute):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) and node.id in ("task", "task_group") else None


def _given_id(decorator: ast.expr) -> str | None:
    if isinstance(decorator, ast.Call):
        for keyword in decorator.keywords:
            if keyword.arg in ("task_id", "group_id") and isinstance(keyword.value, ast.Constant):
                return str(keyword.value.value)
    return None


def task_definitions(files: list[Path]) -> dict[str, list[str]]:
    """Task (and task group) id -> where a `@task`/`@task_group` function defines it, at any
    depth (a task defined inside a DAG function counts too)."""
    found: dict[str, list[str]] = defaultdict(list)
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for decorator in node.decorator_list:
                if _decorator_root(decorator):
                    found[_given_id(decorator) or node.name].append(f"{path.name}:{node.lineno}")
    return dict(found)


def _orchestration_files() -> list[Path]:
    return sorted(DAGS.glob("*.py")) + sorted(ORCHESTRATION.glob("*.py"))


def test_every_task_and_task_group_is_defined_once() -> None:
    """Copies of a task drift (a trigger rule or a filter in one copy only): one definition each."""
    found = task_definitions(_orchestration_files())
    assert {"intake", "gate_returns", "load_returns", "load_decisions", "gate_warehouse", "publish"} <= set(
        found
    )
    assert {task_id: where for task_id, where in found.items() if len(where) > 1} == {}


def test_dag_files_compose_tasks_and_define_none() -> None:
    assert task_definitions(sorted(DAGS.glob("*.py"))) == {}


def test_the_scan_sees_a_task_defined_twice(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("@task\ndef intake(): ...\n@task.short_circuit\ndef gate(): ...\n")
    (tmp_path / "b.py").write_text(
        "def dag():\n    @task(pool='p')\n    def intake(): ...\n"
        "    @task(task_id='gate')\n    def other(): ...\n    @task_group\n    def group(): ...\n"
    )
    found = task_definitions([tmp_path / "a.py", tmp_path / "b.py"])
    assert found == {"intake": ["a.py:2", "b.py:3"], "gate": ["a.py:4", "b.py:5"], "group": ["b.py:7"]}


def test_a_task_id_means_the_same_callable_in_every_dag(dag_bag) -> None:
    """The tasks several DAGs run are the same code in each, not look-alike copies."""
    callables: dict[str, set[object]] = defaultdict(set)
    for dag in dag_bag.dags.values():
        for task in dag.tasks:
            function = getattr(task, "python_callable", None) or task.partial_kwargs.get("python_callable")
            callables[task.task_id].add(function)
    shared = {"intake", "gate_returns", "load_returns", "load_decisions", "gate_warehouse", "publish"}
    assert {task_id: len(functions) for task_id, functions in callables.items() if len(functions) > 1} == {}
    assert all(None not in callables[task_id] for task_id in shared)


def test_every_dag_that_takes_returns_in_goes_on_when_no_batch_has_files(dag_bag) -> None:
    """An empty landing zone maps no intake task (skipped); the gate, the load, the decisions
    and what follows them still run, in every DAG alike."""
    takers = {dag_id for dag_id, dag in dag_bag.dags.items() if dag.has_task("gate_returns")}
    assert takers == {"stls_on_arrival", "stls_returns_pipeline", "stls_monthly_close"}
    for dag_id in takers:
        assert dag_bag.dags[dag_id].get_task("gate_returns").trigger_rule == "none_failed", dag_id


def test_route_landing_gives_only_the_batches_with_files(stls_home: Path) -> None:
    from stls_warehouse.orchestration.tasks import route_landing

    assert route_landing.function() == []
    (stls_home / "landing" / "LEDGER_SWA_2021-22_P07.csv").write_bytes(b"a return")
    batches = route_landing.function()
    assert [(b["sla_code"], [Path(f).name for f in b["files"]]) for b in batches] == [
        ("SWA", ["LEDGER_SWA_2021-22_P07.csv"])
    ]
