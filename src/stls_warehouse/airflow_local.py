"""Run the DAGs on one machine: a project-local AIRFLOW_HOME with SQLite metadata.

`stls run` and `make demo` use this to run the real DAG with `airflow dags test`, which
executes every task in one process without a scheduler. AIRFLOW_HOME defaults to
`$STLS_HOME/airflow`, so each STLS_HOME (a test's temporary one, say) has its own metadata.

Each run's whole output is kept in its own log, `$AIRFLOW_HOME/runs/run_<UTC time>.log`
(the latest `STLS_KEEP_RUN_LOGS` of them, retention.py); the stages' progress reports in it
are shown as the run goes (progress.py). Third-party deprecation warnings are silenced in
the run's processes: they say nothing about the run.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stls_warehouse.config import REPO_ROOT, Paths
from stls_warehouse.orchestration.deployment import POOL
from stls_warehouse.run_logs import airflow_home, run_log_dir
from stls_warehouse.run_logs import last_run_log as last_run_log  # the runner's API as before

DAG_ID = "stls_returns_pipeline"


def airflow_env(home: Paths) -> dict[str, str]:
    env = dict(os.environ)
    env["AIRFLOW_HOME"] = str(airflow_home(home))
    env["STLS_HOME"] = str(home.home)
    env.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO_ROOT / "dags"))
    env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    env.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{airflow_home(home) / 'airflow.db'}")
    env.setdefault("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
    env.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    env.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
    env.setdefault("GX_ANALYTICS_ENABLED", "False")
    env.setdefault("TQDM_DISABLE", "1")
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    env.setdefault("AIRFLOW__COSMOS__ENABLE_TELEMETRY", "False")
    env.setdefault("STLS_RETRY_DELAY_SECONDS", "2")  # an interactive run should not wait minutes
    env.setdefault("PYTHONWARNINGS", QUIET_WARNINGS)
    env.setdefault("PYTHONUNBUFFERED", "1")  # progress reports reach `stls run` as they happen
    return env


# Libraries' warnings about their own futures (graphviz absent, httpx's test client, ...).
QUIET_WARNINGS = ",".join(
    (
        "ignore::DeprecationWarning",
        "ignore::PendingDeprecationWarning",
        "ignore::FutureWarning",
        "ignore:Could not import graphviz:UserWarning",
        "ignore:Using `httpx` with `starlette.testclient` is deprecated",
    )
)


def _airflow(env: dict[str, str], *args: str, quiet: bool = True) -> subprocess.CompletedProcess[str]:
    executable = str(Path(sys.executable).with_name("airflow"))
    return subprocess.run(
        [executable, *args],
        env=env,
        text=True,
        check=False,
        capture_output=quiet,
    )


def ensure_metadata(home: Paths) -> dict[str, str]:
    """Create (or migrate) the SQLite metadata database and the warehouse pool, once."""
    env = airflow_env(home)
    airflow_home = Path(env["AIRFLOW_HOME"])
    airflow_home.mkdir(parents=True, exist_ok=True)
    marker = airflow_home / ".stls-initialised"
    if not marker.exists():
        for args in (("db", "migrate"), ("pools", "set", *POOL)):
            done = _airflow(env, *args)
            if done.returncode != 0:
                raise RuntimeError(
                    f"airflow {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
                )
        marker.write_text("ok\n")
    return env


def dags_test(home: Paths, dag_id: str = DAG_ID, watcher: Any = None) -> int:
    """Run one DAG run in-process with `airflow dags test`; 0 when every task succeeded.

    The output goes, line by line as it comes, to the run's own log and to `watcher` (a
    progress.RunWatcher), which shows the stages' progress.
    """
    from stls_warehouse.retention import prune_run_logs

    env = ensure_metadata(home)
    now = datetime.now(UTC)
    logical_date = now.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    log = run_log_dir(home) / f"run_{now.strftime('%Y%m%dT%H%M%S%fZ')}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    executable = str(Path(sys.executable).with_name("airflow"))
    lines: list[str] = []
    with (
        open(log, "w", encoding="utf-8") as kept,
        subprocess.Popen(
            [executable, "dags", "test", dag_id, logical_date],
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            bufsize=1,
        ) as process,
    ):
        assert process.stdout is not None
        for line in process.stdout:
            kept.write(line)
            lines.append(line)
            if watcher is not None:
                watcher.feed(line)
        returncode = process.wait()
    prune_run_logs(log.parent)
    try:
        file_task_logs(env, dag_id, lines)
    except (OSError, sqlite3.Error) as error:  # the run's own log above is complete either way
        print(f"stls run: task logs not filed for the Airflow UI: {error}", file=sys.stderr)
    output = "".join(lines)
    failed = returncode != 0 or "state=failed" in output or _run_failed(output)
    if failed:
        for reason in failure_reasons(output):
            print(f"stls run: {reason}", file=sys.stderr)
    return 1 if failed else 0


_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Failed|Exit|Interrupt)\b.*")


def failure_reasons(output: str) -> list[str]:
    """The exception lines that ended failed tasks' tracebacks in a DAG run's log, once each."""
    reasons: list[str] = []
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if "Task failed with exception" not in line:
            continue
        for following in lines[index + 1 : index + 400]:
            if _EXCEPTION_LINE.match(following) and following.strip() not in reasons:
                reasons.append(following.strip())
                break
    return reasons


def _run_failed(output: str) -> bool:
    return "DagRun Finished" in output and "state=success" not in output.split("DagRun Finished", 1)[1][:400]


def file_task_logs(env: dict[str, str], dag_id: str, lines: list[str]) -> list[Path]:
    """File a `dags test` run's output as one log per task where the Airflow UI reads them.

    `airflow dags test` runs every task in its own process and writes no task log files, so
    the UI would find none. Tasks run one after another there, and each stage reports its
    start and end (progress.py): the lines from a start to the end are that task's, filed as
    `$AIRFLOW_HOME/logs/dag_id=.../run_id=.../task_id=...[/map_index=N]/attempt=T.log` with
    the run, map index and try number read from the SQLite metadata."""
    from stls_warehouse import progress

    conn = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    if not conn.startswith("sqlite:///"):
        return []
    db = sqlite3.connect(conn.removeprefix("sqlite:///"))
    try:
        found = db.execute(
            "select run_id from dag_run where dag_id = ? order by id desc limit 1", [dag_id]
        ).fetchone()
        if found is None:
            return []
        run_id = str(found[0])
        instances = {
            (task, rendered or str(index)): (int(index), int(tries or 1))
            for task, index, tries, rendered in db.execute(
                "select task_id, map_index, try_number, rendered_map_index from task_instance "
                "where dag_id = ? and run_id = ?",
                [dag_id, run_id],
            ).fetchall()
        }
    finally:
        db.close()
    base = Path(env["AIRFLOW_HOME"]) / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
    written: list[Path] = []
    segment: list[str] = []
    for line in lines:
        segment.append(line)
        message = progress.parse(line)
        if message is None or message.get("event") not in ("finished", "failed"):
            continue
        task = str(message.get("stage"))
        key = (task, str(message.get("sla_code"))) if message.get("sla_code") else (task, "-1")
        index, tries = instances.get(key) or instances.get((task, "None")) or (-1, 1)
        folder = base / f"task_id={task}" / (f"map_index={index}" if index >= 0 else "")
        target = folder / f"attempt={tries}.log"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("".join(segment), encoding="utf-8")
        written.append(target)
        segment = []
    return written


def serve_ui(home: Paths, port: int = 8080) -> int:
    """Airflow's UI over this home's metadata, on http://127.0.0.1:<port> only, until Ctrl-C.

    Runs the API server (which serves the UI) and a DAG processor (which lists the DAGs of
    `dags/`), both bound to this machine. Local use needs no login: every user is an admin
    of this machine's own SQLite metadata (SimpleAuthManager's all-admins mode), which is why
    the server never listens beyond 127.0.0.1.
    """
    env = ensure_metadata(home)
    env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] = "True"
    env["AIRFLOW__API__BASE_URL"] = f"http://127.0.0.1:{port}"
    executable = str(Path(sys.executable).with_name("airflow"))
    processor = subprocess.Popen([executable, "dag-processor"], env=env)
    try:
        print(f"Airflow UI: http://127.0.0.1:{port}  (AIRFLOW_HOME={env['AIRFLOW_HOME']}; Ctrl-C stops it)")
        return subprocess.call(
            [executable, "api-server", "--host", "127.0.0.1", "--port", str(port)], env=env
        )
    except KeyboardInterrupt:
        return 0
    finally:
        processor.terminate()
        try:
            processor.wait(timeout=20)
        except subprocess.TimeoutExpired:
            processor.kill()
