"""The native Celery deployment, one per test module that asks for `cluster`.

A module sets what its deployment needs: `DATABASE` (PostgreSQL metadata database, with
$STLS_TEST_PG_SUFFIX for parallel checkouts), `REDIS_DB` (a broker database number of its
own), `DAGS` (the DAGs to wait for before the first test) and, optionally,
`AIRFLOW_OVERRIDES` (settings beyond deployment.TEST_TUNING). The services are those of
docker-compose.yml (`deployment.SERVICES`), started by `native.native_deployment`.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from stls_warehouse.orchestration.deployment import Deployment
from stls_warehouse.orchestration.native import NativeDeployment, RestClient, native_deployment


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[NativeDeployment, RestClient]]:
    module = request.module
    root = tmp_path_factory.mktemp("celery")
    deployment = Deployment(
        airflow_home=root / "airflow",
        stls_home=root / "stls",
        database_url=f"postgresql+psycopg2://postgres@127.0.0.1:5432/{module.DATABASE}",
        broker_url=f"redis://127.0.0.1:6379/{module.REDIS_DB}",
        result_backend=f"db+postgresql://postgres@127.0.0.1:5432/{module.DATABASE}",
        api_port=free_port(),
        task_retries=2,
        retry_delay_seconds=2,
        heartbeat_timeout_seconds=15,
        overrides=dict(getattr(module, "AIRFLOW_OVERRIDES", {})),
    )
    (deployment.stls_home / "landing").mkdir(parents=True)
    started = time.monotonic()
    with native_deployment(
        deployment, database=module.DATABASE, redis_db=module.REDIS_DB, logs=root / "logs"
    ) as native:
        client = RestClient(deployment.api_url, "admin", deployment.admin_password)
        try:
            client.wait_until_up(timeout=120)
            for dag_id in module.DAGS:
                client.wait_for_dag(dag_id, timeout=120)
            print(f"\ncelery deployment up in {time.monotonic() - started:.1f}s")
            yield native, client
        finally:
            client.close()
