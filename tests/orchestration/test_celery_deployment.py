"""The docker-compose topology, run natively: Celery workers, PostgreSQL metadata, Redis broker.

API server, scheduler, DAG processor, triggerer and two Celery workers start from the same
commands as `docker-compose.yml` (`stls_warehouse.orchestration.deployment.SERVICES`),
against this machine's PostgreSQL (a database of the test's own, dropped after) and Redis
(a database number of its own, flushed after). A run triggered through the REST API
publishes the returns; then a worker is SIGKILLed while it builds the warehouse, the task
is retried on the other worker and the published tables hold every line exactly once.
"""

from __future__ import annotations

import os
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from stls_warehouse.orchestration.native import NativeDeployment, RestClient, RunTimedOut, task_log_tail
from stls_warehouse.synthetic import generate, generate_returns

pytestmark = [pytest.mark.slow, pytest.mark.integration]

DATABASE = "stls_airflow_it" + os.environ.get("STLS_TEST_PG_SUFFIX", "")  # parallel checkouts set a suffix
REDIS_DB = 11
RUN_TIMEOUT = 360  # a run takes 20-60 s here; CI machines under load have been seen to take minutes
DAGS = ("stls_returns_pipeline", "stls_monthly_close")  # the deployment: tests/orchestration/conftest.py


def _published(home: Path, table: str) -> str:
    return str(home / "published" / "parquet" / f"{table}.parquet")


def _finish(native: NativeDeployment, client: RestClient, dag_id: str, run_id: str) -> dict:
    try:
        run = client.wait_for_run(dag_id, run_id, timeout=RUN_TIMEOUT)
    except RunTimedOut as timed_out:  # say what the unfinished tasks were doing
        tail = task_log_tail(native.deployment.airflow_home, dag_id, run_id, tasks=timed_out.unfinished)
        raise AssertionError(f"{timed_out}\n{tail}") from timed_out
    assert run["state"] == "success", task_log_tail(native.deployment.airflow_home, dag_id, run_id)
    return run


def test_a_run_triggered_through_the_rest_api_publishes_on_celery_workers(cluster) -> None:
    native, client = cluster
    home = native.deployment.stls_home
    generate(home / "landing", years=["2021-22"], slas=["SWA"], periods=[1])

    run_id = client.trigger("stls_returns_pipeline")
    run = _finish(native, client, "stls_returns_pipeline", run_id)

    hosts = {t["hostname"] for t in client.task_instances("stls_returns_pipeline", run_id) if t["hostname"]}
    assert hosts, "task instances record the worker that ran them"
    expected = [
        line for line in generate_returns(years=["2021-22"], slas=["SWA"], periods=[1]).ledger_lines()
    ]
    count, total = duckdb.execute(
        "select count(*), sum(amount) from read_parquet(?)", [_published(home, "fct_ledger_lines")]
    ).fetchone()
    assert (count, total) == (len(expected), sum((line.amount for line in expected), Decimal(0)))
    print(f"stls_returns_pipeline on Celery: queued -> success {_seconds(run):.1f}s")


def test_a_worker_killed_mid_task_is_retried_without_duplicate_rows(cluster) -> None:
    native, client = cluster
    home = native.deployment.stls_home
    generate(home / "landing", years=["2021-22"], slas=["SWA", "CSN"], periods=[1, 2])

    run_id = client.trigger("stls_monthly_close", {"month": "2021-05"})
    deadline = time.monotonic() + RUN_TIMEOUT
    victim = None
    while victim is None and time.monotonic() < deadline:
        victim = native.worker_running("dbt build")
        if client.run("stls_monthly_close", run_id)["state"] in ("success", "failed"):
            break
        time.sleep(0.2)
    assert victim is not None, "no worker was seen running dbt build"
    native.kill(victim)
    assert not native.alive(victim)

    run = _finish(native, client, "stls_monthly_close", run_id)
    tries = {t["task_id"]: t["try_number"] for t in client.task_instances("stls_monthly_close", run_id)}
    assert tries["build_warehouse"] >= 2, tries

    expected = list(generate_returns(years=["2021-22"], slas=["SWA", "CSN"], periods=[1, 2]).ledger_lines())
    count, distinct_lines, total = duckdb.execute(
        "select count(*), count(distinct (source_file_sha256, source_row)), sum(amount) from read_parquet(?)",
        [_published(home, "fct_ledger_lines")],
    ).fetchone()
    assert count == distinct_lines == len(expected)
    assert total == sum((line.amount for line in expected), Decimal(0))
    con = duckdb.connect(str(home / "warehouse" / "stls.duckdb"), read_only=True)
    try:
        received, files = con.execute(
            "select count(*), count(distinct (file_sha256, original_name)) from raw.submissions"
        ).fetchone()
    finally:
        con.close()
    assert received == files == 8
    print(f"stls_monthly_close with a worker killed: queued -> success {_seconds(run):.1f}s")


def _seconds(run: dict) -> float:
    from datetime import datetime

    start = datetime.fromisoformat(run["queued_at"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(run["end_date"].replace("Z", "+00:00"))
    return (end - start).total_seconds()
