"""The Celery deployment as native processes on one machine, and a small REST client for it.

Docker does not run on every machine, so the deployment of `docker-compose.yml` is also
started here from the same `deployment.SERVICES` commands: a PostgreSQL database and a
Redis database number of its own, `airflow db migrate`, the writer pool, then the API
server, scheduler, DAG processor, triggerer and the Celery workers, each in its own
process group so that one can be killed whole. Beside them, the returns service as compose
runs it (`native_returns_service`): its own role and database in the same PostgreSQL
server, migrations and collectstatic, then gunicorn, over the same STLS_HOME. Used by the
integration tests and by `benchmarks/orchestration_bench.py`.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from stls_warehouse.errors import StlsError
from stls_warehouse.orchestration.deployment import (
    POOL,
    RETURNS_HEALTH,
    RETURNS_INIT,
    SERVICES,
    WORKERS,
    Deployment,
    command,
    returns_command,
)

AIRFLOW = str(Path(sys.executable).with_name("airflow"))
TERMINAL_RUN_STATES = ("success", "failed")


class DagRun(TypedDict):
    """The fields read here of the REST API's DAG run (it has more)."""

    dag_run_id: str
    state: str
    run_type: str
    queued_at: str | None
    end_date: str | None


class TaskInstance(TypedDict):
    """The fields read here of the REST API's task instance (it has more)."""

    task_id: str
    map_index: int
    state: str | None
    hostname: str | None
    try_number: int


class DeploymentError(StlsError, RuntimeError):
    """A native service did not come up, or a run did not finish as expected."""


class RunTimedOut(DeploymentError):
    """A run was still going at its deadline; `unfinished` names the tasks that had not succeeded."""

    def __init__(self, message: str, unfinished: list[str]) -> None:
        super().__init__(message)
        self.unfinished = unfinished


def _psql(sql: str, host: str, port: int, user: str) -> None:
    subprocess.run(
        [
            "psql",
            "-h",
            host,
            "-p",
            str(port),
            "-U",
            user,
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-qc",
            sql,
        ],
        check=True,
        capture_output=True,
        text=True,
    )


def _redis(db: int, *args: str, host: str = "127.0.0.1", port: int = 6379) -> None:
    import redis

    client = redis.Redis(host=host, port=port, db=db)
    try:
        client.execute_command(*args)  # type: ignore[no-untyped-call]
    finally:
        client.close()


@dataclass
class NativeDeployment:
    """A running native deployment: its settings, processes and log folder."""

    deployment: Deployment
    database: str
    redis_db: int
    logs: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    pg: tuple[str, int, str] = ("127.0.0.1", 5432, "postgres")

    @property
    def env(self) -> dict[str, str]:
        return self.deployment.environment()

    def airflow(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([AIRFLOW, *args], env=self.env, capture_output=True, text=True, check=False)
        if check and done.returncode != 0:
            raise DeploymentError(
                f"airflow {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
            )
        return done

    def start(self, service: str) -> None:
        log = (self.logs / f"{service}.log").open("ab")
        self.processes[service] = subprocess.Popen(
            [AIRFLOW, *command(service, self.deployment.api_port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a kill takes its children too
        )
        log.close()

    def kill(self, service: str) -> None:
        """SIGKILL a service and every process it started, as a lost machine would."""
        import psutil

        process = self.processes[service]
        try:
            family = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            family = []
        for member in family:
            with suppress(psutil.NoSuchProcess):
                member.send_signal(signal.SIGKILL)
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def alive(self, service: str) -> bool:
        return self.processes[service].poll() is None

    def stop(self) -> None:
        for service in list(self.processes):
            if self.alive(service):
                try:
                    os.killpg(self.processes[service].pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        deadline = time.monotonic() + 20
        for service, process in self.processes.items():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.kill(service)

    def worker_running(self, marker: str) -> str | None:
        """The worker whose process tree has a process whose command line contains `marker`."""
        import psutil

        for service in WORKERS:
            process = self.processes.get(service)
            if process is None or process.poll() is not None:
                continue
            try:
                family = psutil.Process(process.pid).children(recursive=True)
            except psutil.NoSuchProcess:
                continue
            for child in family:
                try:
                    if marker in " ".join(child.cmdline()):
                        return service
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
        return None


@contextmanager
def native_deployment(
    deployment: Deployment,
    *,
    database: str,
    redis_db: int,
    logs: Path,
    services: tuple[str, ...] = tuple(SERVICES),
) -> Iterator[NativeDeployment]:
    """Create the database, migrate, start `services`; always stop them and clean up."""
    host, port, user = "127.0.0.1", 5432, "postgres"
    logs.mkdir(parents=True, exist_ok=True)
    deployment.airflow_home.mkdir(parents=True, exist_ok=True)
    deployment.write_passwords()
    _psql(f'drop database if exists "{database}" with (force)', host, port, user)
    _psql(f'create database "{database}"', host, port, user)
    _redis(redis_db, "FLUSHDB")
    native = NativeDeployment(deployment, database, redis_db, logs)
    try:
        native.airflow("db", "migrate")
        native.airflow("pools", "set", *POOL)
        for service in services:
            native.start(service)
        yield native
    finally:
        native.stop()
        _psql(f'drop database if exists "{database}" with (force)', host, port, user)
        _redis(redis_db, "FLUSHDB")


def _venv_bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


@dataclass
class NativeReturnsService:
    """The returns service running under gunicorn: its address, environment and process."""

    url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log: Path

    def manage(self, *args: str) -> str:
        """`stls-portal <args>` with the service's settings (its database, its home); stdout."""
        done = subprocess.run(
            [_venv_bin("stls-portal"), *args], env=self.env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise DeploymentError(f"stls-portal {' '.join(args)} failed:\n{done.stderr[-4000:]}")
        return done.stdout

    def log_tail(self, limit: int = 4000) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-limit:] if self.log.exists() else ""


def _wait_until_healthy(service: NativeReturnsService, timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise DeploymentError(f"gunicorn exited {service.process.returncode}:\n{service.log_tail()}")
        with suppress(httpx.HTTPError):
            if httpx.get(service.url + RETURNS_HEALTH, timeout=5).status_code == 200:
                return
        time.sleep(0.5)
    raise DeploymentError(
        f"{service.url}{RETURNS_HEALTH} was not healthy in {timeout:.0f}s:\n{service.log_tail()}"
    )


@contextmanager
def native_returns_service(
    *,
    stls_home: Path,
    database: str,
    role: str,
    port: int,
    logs: Path,
    settings: dict[str, str] | None = None,
) -> Iterator[NativeReturnsService]:
    """compose's returns-init then returns-service, natively; always stopped and dropped after.

    The role and database are created as returns-init creates them (a login role that owns
    its database), then `RETURNS_INIT` (migrate, collectstatic) and `RETURNS_SERVICE`
    (gunicorn) run with the settings compose gives them; `settings` adds to those (e.g. the
    Airflow API's address)."""
    host, pg_port, admin = "127.0.0.1", 5432, "postgres"
    logs.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(16)
    _psql(f'drop database if exists "{database}" with (force)', host, pg_port, admin)
    _psql(f'drop role if exists "{role}"', host, pg_port, admin)
    _psql(f"create role \"{role}\" login password '{password}'", host, pg_port, admin)
    _psql(f'create database "{database}" owner "{role}"', host, pg_port, admin)
    url = f"http://127.0.0.1:{port}"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "STLS_PORTAL_", "STLS_AIRFLOW_API_", "DJANGO_"))
    }
    env |= {
        "STLS_HOME": str(stls_home),
        "STLS_PORTAL_DATABASE_URL": f"postgresql://{role}:{password}@{host}:{pg_port}/{database}",
        "STLS_PORTAL_SECRET_KEY": secrets.token_urlsafe(50),
        "STLS_PORTAL_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "STLS_PORTAL_BASE_URL": url,
        "STLS_PORTAL_SECURE": "0",
        "STLS_PORTAL_STATIC_ROOT": str(logs.parent / "returns-static"),
        **(settings or {}),
    }
    process: subprocess.Popen[bytes] | None = None
    try:
        for step in RETURNS_INIT:
            done = subprocess.run(
                [_venv_bin(step[0]), *step[1:]], env=env, capture_output=True, text=True, check=False
            )
            if done.returncode != 0:
                raise DeploymentError(
                    f"{' '.join(step)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
                )
        gunicorn = returns_command(port)
        log_path = logs / "returns-service.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [_venv_bin(gunicorn[0]), *gunicorn[1:]],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        service = NativeReturnsService(url, env, process, log_path)
        _wait_until_healthy(service, timeout=90)
        yield service
    finally:
        if process is not None and process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        _psql(f'drop database if exists "{database}" with (force)', host, pg_port, admin)
        _psql(f'drop role if exists "{role}"', host, pg_port, admin)


class RestClient:
    """The Airflow 3 REST API (v2) with a JWT from the simple auth manager's /auth/token."""

    def __init__(self, base_url: str, username: str, password: str, timeout: float = 30) -> None:
        import httpx

        self.base_url = base_url
        self._http = httpx.Client(base_url=base_url, timeout=timeout)
        self._credentials = {"username": username, "password": password}
        self._token: str | None = None

    def close(self) -> None:
        self._http.close()

    def wait_until_up(self, timeout: float) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self._http.get("/api/v2/monitor/health").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise DeploymentError(f"the API server at {self.base_url} did not answer in {timeout:.0f}s")

    def _headers(self) -> dict[str, str]:
        if self._token is None:
            response = self._http.post("/auth/token", json=self._credentials)
            response.raise_for_status()
            self._token = response.json()["access_token"]
        return {"Authorization": f"Bearer {self._token}"}

    def get(self, path: str, **params: Any) -> Any:
        response = self._http.get(f"/api/v2{path}", headers=self._headers(), params=params)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        response = self._http.post(f"/api/v2{path}", headers=self._headers(), json=body)
        response.raise_for_status()
        return response.json()

    def patch(self, path: str, body: dict[str, Any]) -> Any:
        response = self._http.patch(f"/api/v2{path}", headers=self._headers(), json=body)
        response.raise_for_status()
        return response.json()

    def wait_for_dag(self, dag_id: str, timeout: float) -> None:
        """Until the DAG processor has parsed and serialised the DAG."""
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.get(f"/dags/{dag_id}")
                return
            except httpx.HTTPStatusError:
                time.sleep(1)
        raise DeploymentError(f"DAG {dag_id} was not parsed within {timeout:.0f}s")

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        run = self.post(f"/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf or {}})
        return str(run["dag_run_id"])

    def run(self, dag_id: str, run_id: str) -> DagRun:
        result: DagRun = self.get(f"/dags/{dag_id}/dagRuns/{run_id}")
        return result

    def task_instances(self, dag_id: str, run_id: str) -> list[TaskInstance]:
        result = self.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=500)
        return list(result["task_instances"])

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float) -> DagRun:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                run = self.run(dag_id, run_id)
            except httpx.TimeoutException:  # an API server starved of CPU: ask again until the deadline
                continue
            if run["state"] in TERMINAL_RUN_STATES:
                return run
            time.sleep(1)
        tasks = self.task_instances(dag_id, run_id)
        states = [(t["task_id"], t["map_index"], t["state"]) for t in tasks]
        raise RunTimedOut(
            f"{dag_id} {run_id} did not finish in {timeout:.0f}s: {states}",
            unfinished=[t["task_id"] for t in tasks if t["state"] != "success"],
        )


def task_log_tail(
    airflow_home: Path, dag_id: str, run_id: str, limit: int = 1500, tasks: Collection[str] = ()
) -> str:
    """The last lines of a run's task logs that show an error, and of every log of `tasks`
    (those that never finished, when a run times out), for a failing test's message."""
    folder = airflow_home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
    parts = []
    for log in sorted(folder.glob("task_id=*/**/*.log")):
        text = log.read_text(encoding="utf-8", errors="replace")
        task_id = log.relative_to(folder).parts[0].removeprefix("task_id=")
        if (
            task_id in tasks
            or '"level":"error"' in text
            or "Traceback" in text
            or "error" in text[-limit:].lower()
        ):
            parts.append(f"== {log.relative_to(folder)}\n{text[-limit:]}")
    return "\n".join(parts) or json.dumps({"logs": str(folder)})
