"""What a native deployment test says when a run fails or times out: the task logs behind it."""

from __future__ import annotations

from pathlib import Path

from stls_warehouse.orchestration.native import task_log_tail

DAG, RUN = "stls_returns_pipeline", "manual__2021-05-01"


def _log(airflow_home: Path, task_id: str, text: str) -> None:
    folder = airflow_home / "logs" / f"dag_id={DAG}" / f"run_id={RUN}" / f"task_id={task_id}"
    folder.mkdir(parents=True)
    (folder / "attempt=1.log").write_text(text, encoding="utf-8")


def test_the_tail_shows_failed_tasks_and_the_unfinished_ones_named(tmp_path: Path) -> None:
    _log(tmp_path, "publish", '{"event":"published release 1","level":"info"}\n')
    _log(tmp_path, "build_warehouse", "Traceback (most recent call last):\n  dbt build failed\n")
    _log(tmp_path, "monthly_report", '{"event":"reading the release","level":"info"}\n')

    after_a_failure = task_log_tail(tmp_path, DAG, RUN)
    assert "task_id=build_warehouse" in after_a_failure and "dbt build failed" in after_a_failure
    assert "monthly_report" not in after_a_failure and "publish" not in after_a_failure

    after_a_timeout = task_log_tail(tmp_path, DAG, RUN, tasks=["monthly_report"])
    assert "reading the release" in after_a_timeout  # what the task still running was doing
    assert "task_id=build_warehouse" in after_a_timeout
    assert "task_id=publish" not in after_a_timeout


def test_a_run_with_no_logs_names_the_folder_it_looked_in(tmp_path: Path) -> None:
    assert str(tmp_path / "logs" / f"dag_id={DAG}") in task_log_tail(tmp_path, DAG, RUN, tasks=["publish"])
