"""Scheduler-to-success time of one monthly close: natively on Celery against `airflow dags test`.

    .venv/bin/python benchmarks/orchestration_bench.py [--month 2021-05] [--slas SWA CSN]

Both runs close the same month over the same synthetic returns in a fresh STLS_HOME:
`airflow dags test` runs every task in one process on SQLite metadata (what `stls run`
does); the Celery run uses the deployment of docker-compose.yml started natively
(PostgreSQL database `stls_airflow_bench`, Redis db 12, both cleaned up after), is
triggered through the REST API, and is timed from `queued_at` to `end_date` as the API
reports them. Prints one line per figure.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from stls_warehouse import airflow_local
from stls_warehouse.config import Paths
from stls_warehouse.orchestration.deployment import Deployment
from stls_warehouse.orchestration.native import RestClient, native_deployment
from stls_warehouse.synthetic import generate


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dags_test(root: Path, month: str, slas: list[str]) -> float:
    home = root / "dags_test"
    generate(home / "landing", years=["2021-22"], slas=slas, periods=[1, 2])
    os.environ["STLS_HOME"] = str(home)
    env = airflow_local.ensure_metadata(Paths(home))
    started = time.monotonic()
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("airflow")),
            "dags",
            "test",
            "stls_monthly_close",
            "--conf",
            json.dumps({"month": month}),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return elapsed


def celery(root: Path, month: str, slas: list[str]) -> tuple[float, float]:
    deployment = Deployment(
        airflow_home=root / "celery" / "airflow",
        stls_home=root / "celery" / "stls",
        database_url="postgresql+psycopg2://postgres@127.0.0.1:5432/stls_airflow_bench",
        broker_url="redis://127.0.0.1:6379/12",
        result_backend="db+postgresql://postgres@127.0.0.1:5432/stls_airflow_bench",
        api_port=_port(),
    )
    generate(deployment.stls_home / "landing", years=["2021-22"], slas=slas, periods=[1, 2])
    started = time.monotonic()
    with native_deployment(deployment, database="stls_airflow_bench", redis_db=12, logs=root / "logs") as _:
        client = RestClient(deployment.api_url, "admin", deployment.admin_password)
        client.wait_until_up(180)
        client.wait_for_dag("stls_monthly_close", 180)
        up = time.monotonic() - started
        run_id = client.trigger("stls_monthly_close", {"month": month})
        run = client.wait_for_run("stls_monthly_close", run_id, 600)
        client.close()
    if run["state"] != "success":
        raise SystemExit(f"the Celery run ended {run['state']}")
    queued = datetime.fromisoformat(run["queued_at"].replace("Z", "+00:00"))
    ended = datetime.fromisoformat(run["end_date"].replace("Z", "+00:00"))
    return up, (ended - queued).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--month", default="2021-05")
    parser.add_argument("--slas", nargs="+", default=["SWA", "CSN"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        local = dags_test(root, args.month, args.slas)
        up, remote = celery(root, args.month, args.slas)
    print(f"monthly close {args.month}, {len(args.slas)} SLAs x 2 periods:")
    print(f"  airflow dags test (one process, SQLite):       {local:6.1f} s")
    print(f"  CeleryExecutor, 2 workers (queued -> success): {remote:6.1f} s")
    print(f"  native Celery deployment start-up:             {up:6.1f} s")


if __name__ == "__main__":
    main()
