"""Where the logs of `stls run` are kept: `$AIRFLOW_HOME/runs/run_<UTC time>.log`.

AIRFLOW_HOME defaults to `$STLS_HOME/airflow`, so each STLS_HOME has its own. The runner
(airflow_local.py) writes these logs; the status page, the evidence pack and retention read
or prune them without depending on the runner.
"""

from __future__ import annotations

import os
from pathlib import Path

from stls_warehouse.config import Paths


def airflow_home(home: Paths) -> Path:
    """AIRFLOW_HOME, or `$STLS_HOME/airflow` when it is not set."""
    return Path(os.environ.get("AIRFLOW_HOME") or home.home / "airflow")


def run_log_dir(home: Paths) -> Path:
    """One log per `stls run`, `run_<UTC time>.log`, newest last by name."""
    return airflow_home(home) / "runs"


def last_run_log(home: Paths) -> Path:
    """The log of the latest local run (`last_run.log` of the older layout when none is kept)."""
    logs = sorted(run_log_dir(home).glob("run_*.log"))
    return logs[-1] if logs else airflow_home(home) / "last_run.log"
