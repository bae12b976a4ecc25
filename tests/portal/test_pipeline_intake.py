"""Every upload reaches the pipeline exactly as a dropped file does: after a run, each is in
the submission ledger with the outcome `stls validate` gives it, and nothing from a rejected
upload is published. Runs the pipeline's stages (intake, gate, load, dbt build, publish) in
this process: minutes, so under `make test-integration`."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from stls_portal.models import Upload
from stls_warehouse.intake.validate import validate_return
from tests.factories import csv_bytes, kpi_rows, kpi_xlsx_bytes, ledger_rows

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db]


def test_uploads_end_in_the_submission_ledger_with_the_validators_outcome(portal_home, users, client_for):
    from stls_warehouse import pipeline
    from stls_warehouse.warehouse import connect

    bad = ledger_rows(period=8, n=4)
    bad[2]["amount"] = "twelve pounds"
    files = {
        "LEDGER_SWA_2021-22_P07.csv": csv_bytes(ledger_rows(n=6)),
        "LEDGER_SWA_2021-22_P08.csv": csv_bytes(bad),
        "KPI_SWA_2021-10.xlsx": kpi_xlsx_bytes(kpi_rows(sla="SWA", month="2021-10")),
        "swale october.csv": csv_bytes(ledger_rows(n=2)),
    }
    browser = client_for(users["submitter"])
    for name, data in files.items():
        browser.post("/sla/SWA/upload/", {"file": SimpleUploadedFile(name, data)})
    uploads = {u.file_name: u for u in Upload.objects.all()}
    assert set(uploads) == set(files)

    run_id = "portal_test_run"
    for batch in pipeline.route_landing():
        if batch["files"]:
            pipeline.intake_batch(batch["sla_code"], batch["files"], run_id)
    pipeline.gate_returns(run_id)
    pipeline.load_returns(run_id)
    pipeline.build_warehouse()
    pipeline.publish_release()

    con = connect(portal_home / "warehouse" / "stls.duckdb", read_only=True)
    try:
        ledger = dict(con.execute("select file_sha256, status from raw.submissions").fetchall())
    finally:
        con.close()
    for name, data in files.items():
        expected = validate_return(name, data).status.upper()
        sha = hashlib.sha256(data).hexdigest()
        assert ledger[sha] == expected, name
        assert uploads[name].status == expected, name

    import duckdb

    published = portal_home / "published" / "current" / "parquet"
    lines = duckdb.sql(
        f"select distinct source_file_sha256 from read_parquet('{published / 'fct_ledger_lines.parquet'}')"
    ).fetchall()
    rejected = {hashlib.sha256(d).hexdigest() for n, d in files.items() if uploads[n].status == "REJECTED"}
    assert rejected and not rejected & {sha for (sha,) in lines}
    accepted = hashlib.sha256(files["LEDGER_SWA_2021-22_P07.csv"]).hexdigest()
    assert (accepted,) in lines
