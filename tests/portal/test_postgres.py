"""The returns service on PostgreSQL: the same tests as on SQLite, against this machine's
PostgreSQL (its test database takes $STLS_TEST_PG_SUFFIX), run in a child pytest because the
database is chosen when the settings load."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
HERE = Path(__file__).parent


def test_the_portal_tests_pass_on_postgresql() -> None:
    pytest.importorskip("psycopg")
    url = os.environ.get("STLS_TEST_PORTAL_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    env = os.environ | {"STLS_PORTAL_DATABASE_URL": url}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-m",
            "not integration",
            str(HERE / "test_returns.py"),
            str(HERE / "test_access.py"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout
