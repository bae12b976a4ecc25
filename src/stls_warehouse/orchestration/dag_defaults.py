"""What every STLS DAG shares: owner, retries, the failure e-mail, the pool, the assets' URIs.

Imported by the DAG files at parse time and by the deployment code, so it imports nothing
heavy, Airflow included (the Asset objects are in `assets.py`). Retries and their
delay come from the environment (`STLS_TASK_RETRIES`, `STLS_RETRY_DELAY_SECONDS`) so a
test deployment can retry in seconds while production waits minutes. Every task has a time
limit (`STLS_TASK_TIMEOUT_SECONDS`, default 3600): a task that hangs (on a file system, a
lock, a server) fails and alerts instead of holding the writer pool for ever.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from stls_warehouse.config import settings

OWNER = "stls-data-engineering"
WAREHOUSE_POOL = "stls_warehouse_writer"  # one slot: one DuckDB writer (or reader) at a time

PUBLISHED_URI = "stls://published/marts"
PERIOD_CLOSED_URI = "stls://closed/period"
YEAR_CLOSED_URI = "stls://closed/year"
LANDING_URI = "stls://landing/returns"
RETURNS_LOADED_URI = "stls://warehouse/returns"  # returns or decisions loaded: build and publish


def default_args() -> dict[str, Any]:
    """Every STLS task's arguments; the failure e-mail is a notifier (`alerts.TaskFailureEmail`),
    imported here so that importing this module never imports Airflow."""
    from stls_warehouse.orchestration.alerts import TaskFailureEmail

    env = settings()
    return {
        "owner": OWNER,
        "retries": env.task_retries,
        "retry_delay": timedelta(seconds=env.retry_delay_seconds),
        "execution_timeout": timedelta(seconds=env.task_timeout_seconds),
        "on_failure_callback": TaskFailureEmail(),
    }
