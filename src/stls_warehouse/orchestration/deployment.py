"""The Celery deployment's shape, in one place: services, their commands, their settings.

`docker-compose.yml` runs these services in containers; the integration test
(`tests/orchestration/test_celery_deployment.py`) runs the same commands as native
processes on one machine, and a test checks that the two agree. Secrets (the JWT secret,
the Fernet key, passwords) are never defaults: they come from the environment (`.env`
for compose, generated afresh by the test).
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from stls_warehouse.config import REPO_ROOT
from stls_warehouse.orchestration.dag_defaults import WAREHOUSE_POOL

# Service name -> the `airflow` sub-command it runs (compose's `command:`).
SERVICES: dict[str, tuple[str, ...]] = {
    "airflow-api-server": ("api-server", "--port", "8080", "--workers", "1"),
    "airflow-scheduler": ("scheduler",),
    "airflow-dag-processor": ("dag-processor",),
    "airflow-triggerer": ("triggerer",),
    "airflow-worker-1": ("celery", "worker", "--celery-hostname", "worker-1@%h", "--concurrency", "2"),
    "airflow-worker-2": ("celery", "worker", "--celery-hostname", "worker-2@%h", "--concurrency", "2"),
}
WORKERS = tuple(name for name in SERVICES if name.startswith("airflow-worker"))
BACKING_SERVICES = ("postgres", "redis")

# The returns service (stls_portal) beside Airflow, in the same PostgreSQL server with a
# database and role of its own: compose's returns-init creates them, then runs RETURNS_INIT;
# returns-service runs RETURNS_SERVICE and is healthy when RETURNS_HEALTH answers 200 (it
# queries the service's database). The native test runs the same commands.
RETURNS_INIT: tuple[tuple[str, ...], ...] = (
    ("stls-portal", "migrate", "--no-input"),
    ("stls-portal", "collectstatic", "--no-input"),
)
RETURNS_SERVICE: tuple[str, ...] = (
    "gunicorn",
    "stls_portal.wsgi",
    "--bind",
    "0.0.0.0:8000",
    "--workers",
    "3",
    "--threads",
    "4",
    "--timeout",
    "120",
)
RETURNS_HEALTH = "/health/"
# The Airflow user (simple auth manager, role viewer) the returns service reads runs as.
RETURNS_API_USER = "stls_returns"

# Settings every Airflow service of the deployment gets, whoever runs it. The values here
# are the native (loopback) ones; compose sets the same keys with container host names.
SHARED_SETTINGS = (
    "AIRFLOW__CORE__EXECUTOR",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC",
    "AIRFLOW__CELERY__BROKER_URL",
    "AIRFLOW__CELERY__RESULT_BACKEND",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API_AUTH__JWT_ISSUER",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__CORE__DAGS_FOLDER",
    "AIRFLOW__CORE__LOAD_EXAMPLES",
    "AIRFLOW__CORE__AUTH_MANAGER",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT",
    "AIRFLOW__CELERY__WORKER_CONCURRENCY",
    "AIRFLOW_CONN_SMTP_DEFAULT",
    "STLS_HOME",
    "STLS_ALERT_TO",
    "STLS_TASK_RETRIES",
    "STLS_RETRY_DELAY_SECONDS",
)

# Only the native test sets these: they make one machine's scheduler react in seconds, and
# create no cron runs of their own (a run exists only when the test triggers it).
TEST_TUNING = {
    "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
    "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_SEC": "2",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
    "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "2",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "30",
    "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
    "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
    "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    "AIRFLOW__API__EXPOSE_CONFIG": "False",
}

POOL = (WAREHOUSE_POOL, "1", "One DuckDB writer at a time")


def fernet_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


@dataclass
class Deployment:
    """The settings of one deployment; `environment()` is what every service process gets."""

    airflow_home: Path
    stls_home: Path
    database_url: str
    broker_url: str
    result_backend: str
    api_port: int = 8080
    smtp_url: str = ""
    alert_to: str = ""
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(64))
    fernet: str = field(default_factory=fernet_key)
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    # The returns service reads the last run of each DAG as this read-only (viewer) user.
    returns_api_password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    task_retries: int = 2
    retry_delay_seconds: int = 120
    heartbeat_timeout_seconds: int = 300
    worker_concurrency: int = 2
    # Settings a test needs beyond TEST_TUNING (e.g. the scheduler's own runs switched on).
    overrides: dict[str, str] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def passwords_file(self) -> Path:
        return self.airflow_home / "simple_auth_manager_passwords.json"

    def settings(self) -> dict[str, str]:
        return {
            "AIRFLOW__CORE__EXECUTOR": "airflow.providers.celery.executors.celery_executor.CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.database_url,
            # the API server's async engine: psycopg 3, so no second driver is needed
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": self.database_url.replace(
                "postgresql+psycopg2://", "postgresql+psycopg://"
            ),
            "AIRFLOW__CELERY__BROKER_URL": self.broker_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": self.result_backend,
            "AIRFLOW__CORE__FERNET_KEY": self.fernet,
            "AIRFLOW__API_AUTH__JWT_SECRET": self.jwt_secret,
            "AIRFLOW__API_AUTH__JWT_ISSUER": "stls-warehouse",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__AUTH_MANAGER": (
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"admin:admin,{RETURNS_API_USER}:viewer",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.passwords_file),
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(self.heartbeat_timeout_seconds),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.worker_concurrency),
            "AIRFLOW_CONN_SMTP_DEFAULT": self.smtp_url,
            "STLS_HOME": str(self.stls_home),
            "STLS_ALERT_TO": self.alert_to,
            "STLS_TASK_RETRIES": str(self.task_retries),
            "STLS_RETRY_DELAY_SECONDS": str(self.retry_delay_seconds),
        }

    def environment(self, base: dict[str, str] | None = None, *, tuning: bool = True) -> dict[str, str]:
        env = dict(os.environ if base is None else base)
        for key in [k for k in env if k.startswith(("AIRFLOW__", "AIRFLOW_CONN_"))]:
            del env[key]  # nothing from the caller's own Airflow leaks in
        env["AIRFLOW_HOME"] = str(self.airflow_home)
        env.update(self.settings())
        if tuning:
            env.update(TEST_TUNING)
        env.update(self.overrides)
        env.setdefault("GX_ANALYTICS_ENABLED", "False")
        env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        env.setdefault("TQDM_DISABLE", "1")
        return env

    def write_passwords(self) -> None:
        """The simple auth manager's password file: written by us, so nothing is printed."""
        import json

        self.passwords_file.parent.mkdir(parents=True, exist_ok=True)
        passwords = {"admin": self.admin_password, RETURNS_API_USER: self.returns_api_password}
        self.passwords_file.write_text(json.dumps(passwords) + "\n", encoding="utf-8")
        self.passwords_file.chmod(0o600)


def returns_command(port: int) -> tuple[str, ...]:
    """The returns service's command, bound to loopback on `port` (natively)."""
    return tuple(f"127.0.0.1:{port}" if a == "0.0.0.0:8000" else a for a in RETURNS_SERVICE)


def command(service: str, api_port: int | None = None) -> tuple[str, ...]:
    """The `airflow` arguments of a service (the API port can be moved off 8080 natively)."""
    args = SERVICES[service]
    if api_port is not None and service == "airflow-api-server":
        args = tuple(str(api_port) if a == "8080" else a for a in args)
    return args
