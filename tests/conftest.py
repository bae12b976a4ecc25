"""Shared fixtures. Every test that touches STLS_HOME gets its own temporary one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("AIRFLOW__COSMOS__ENABLE_TELEMETRY", "False")
# Tests write whole files and run at once; the settle rule's own tests set their wait.
os.environ.setdefault("STLS_LANDING_SETTLE_SECONDS", "0")
# `make test` runs in pytest-xdist workers: each one's PostgreSQL databases take its name
# (gw0, gw1, ...) after the checkout's suffix, so no worker drops another's. pytest-django adds
# the worker's name to the Django test database itself. Set before any test module reads it.
if worker := os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["STLS_TEST_PG_SUFFIX"] = os.environ.get("STLS_TEST_PG_SUFFIX", "") + "_" + worker


@pytest.fixture
def stls_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "stls_home"
    (home / "landing").mkdir(parents=True)
    monkeypatch.setenv("STLS_HOME", str(home))
    monkeypatch.delenv("AIRFLOW_HOME", raising=False)
    return home
