"""Run the dbt project against the warehouse.

dbt runs as a subprocess of the same environment so that its logging and global state stay
out of the Airflow task process; its output is streamed into the task log.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from stls_warehouse.config import DBT_PROJECT_DIR, Paths


class DbtFailed(RuntimeError):
    """dbt exited non-zero: a model failed to build or a data test failed."""


def dbt_env(paths: Paths) -> dict[str, str]:
    env = dict(os.environ)
    env["STLS_HOME"] = str(paths.home)
    env["STLS_WAREHOUSE_PATH"] = str(paths.warehouse)
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env


def run_dbt(paths: Paths, *args: str) -> None:
    """Run `dbt <args>` on the project; raise DbtFailed with the tail of its output."""
    executable = Path(sys.executable).with_name("dbt")
    target_dir = paths.home / "dbt" / "target"
    command = [
        str(executable),
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target_dir),
        "--log-path",
        str(paths.home / "dbt" / "logs"),
    ]
    process = subprocess.run(command, env=dbt_env(paths), capture_output=True, text=True, check=False)
    sys.stdout.write(process.stdout)
    if process.returncode != 0:
        tail = "\n".join(process.stdout.splitlines()[-40:])
        raise DbtFailed(
            f"dbt {' '.join(args)} failed (exit {process.returncode}):\n{tail}\n{process.stderr[-2000:]}"
        )


def build(paths: Paths) -> None:
    run_dbt(paths, "build", "--fail-fast")
