"""A waiver granted on the county's page reaches the warehouse: after the next pipeline run the
published mart_return_status shows the return WAIVED with the reason and who waived it, and the
matrix shows it as published rather than waiting for the run."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import duckdb
import pytest

from stls_warehouse.intake.landing import deliver
from tests.factories import csv_bytes, ledger_rows

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
STLS = str(Path(sys.executable).with_name("stls"))
REASON = "The service was closed in August"


def test_a_waiver_granted_here_is_published_waived_with_its_reason_after_the_next_run(
    portal_home, users, client_for
):
    deliver(
        portal_home / "landing",
        "LEDGER_SWA_2021-22_P06.csv",
        csv_bytes(ledger_rows("SWA", "2021-22", 6)),
        upload_id=uuid.uuid4().hex,
    )
    browser = client_for(users["finance"])
    granted = browser.post(
        "/county/waivers/SWA/kpi/2021-08/",
        {"reason": REASON, "approved_by": "Head of SEN finance", "approved_on": "2021-09-01"},
    )
    assert granted.status_code == 302
    env = dict(os.environ, STLS_HOME=str(portal_home), STLS_AS_OF_DATE="2021-12-01")
    env.pop("STLS_POSTGRES_URL", None)
    done = subprocess.run(
        [STLS, "run", "--without-airflow"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    release = (portal_home / "published" / "current").resolve()
    (row,) = (
        duckdb.connect()
        .execute(
            "select status, waiver_reason, waived_by from read_parquet(?) "
            "where sla_code = 'SWA' and return_type = 'kpi' and period_key = '2021-08'",
            [str(release / "parquet" / "mart_return_status.parquet")],
        )
        .fetchall()
    )
    assert row == ("WAIVED", REASON, "finance")

    matrix = browser.get("/county/?year=2021-22").context["matrix"]
    swa = next(r for r in matrix.rows if r.sla.sla_code == "SWA")
    cell = next(c for c in swa.kpi if c.row.period_key == "2021-08")
    assert (cell.row.status, cell.waiver_pending) == ("Waived", None)
