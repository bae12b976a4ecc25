"""One complete financial year run through the real pipeline, shared by the publish and report tests.

Built once per session through the real Airflow DAG (336 generated returns, intake, Great
Expectations, dbt, gates, publication) into a temporary STLS_HOME; tests that change anything work on a copy.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from stls_warehouse.config import Paths

YEAR = "2021-22"
AS_OF = "2022-06-30"
_built: dict[str, Path] = {}


def year_home(factory: pytest.TempPathFactory) -> Path:
    """STLS_HOME after `stls run` (the real Airflow DAG) over every 2021-22 return.

    Built once per session and shared by the end-to-end, publish, report and quality tests;
    the year is complete at AS_OF.
    """
    if "home" not in _built:
        import os
        import subprocess
        import sys

        from stls_warehouse.synthetic import generate

        home = factory.mktemp("stls_year") / "home"
        generate(home / "landing", years=[YEAR])
        env = {k: v for k, v in os.environ.items() if k not in ("STLS_POSTGRES_URL", "AIRFLOW_HOME")}
        env.update(STLS_HOME=str(home), STLS_AS_OF_DATE=AS_OF)
        stls = str(Path(sys.executable).with_name("stls"))
        done = subprocess.run([stls, "run"], env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        _built["home"] = home
    return _built["home"]


def copy_home(source: Path, target: Path) -> Paths:
    """A private copy (relative symlinks of the published layout keep working)."""
    shutil.copytree(
        source, target, symlinks=True, ignore=shutil.ignore_patterns("landing", "raw", "quarantine")
    )
    return Paths(target)
