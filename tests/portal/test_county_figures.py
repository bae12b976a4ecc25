"""Figures with their provenance: the Forum's budget against outturn, drilled down service line
-> SLA -> period -> return -> ledger lines -> the row of the file as stored in the raw zone.
Every level adds up to the one above, and every page names the release it read."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from stls_portal.models import AuditEvent
from tests.factories import csv_bytes, ledger_rows
from tests.portal.conftest import _write

pytestmark = pytest.mark.django_db

FORUM_SCHEMA = {
    "financial_year": "string",
    "service_line": "string",
    "total_budget": "decimal",
    "outturn": "decimal",
    "traded_net": "decimal",
    "variance": "decimal",
    "pension_allocation": "decimal",
    "variance_after_pension": "decimal",
    "periods_received": "int32",
    "is_complete": "bool",
}
LINE_SCHEMA = {
    "sla_code": "string",
    "service_line": "string",
    "financial_year": "string",
    "period": "int32",
    "period_key": "string",
    "posting_date": "date",
    "account_code": "string",
    "expenditure_category": "string",
    "fund_strand": "string",
    "amount": "decimal",
    "is_overhead_recharge": "bool",
    "source_file_sha256": "string",
    "source_row": "int32",
    "submission_version": "int32",
}


def _write_typed(path: Path, schema: dict[str, str], rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    kinds = {
        "string": pa.string(),
        "int32": pa.int32(),
        "decimal": pa.decimal128(18, 2),
        "bool": pa.bool_(),
        "date": pa.date32(),
    }
    arrow = pa.schema([(name, kinds[kind]) for name, kind in schema.items()])
    pq.write_table(pa.Table.from_pylist([{c: r.get(c) for c in schema} for r in rows], schema=arrow), path)


def _line(sla: str, period: int, sha: str, row: int, amount: str, strand: str = "CORE") -> dict[str, Any]:
    return {
        "sla_code": sla,
        "service_line": "DISTRICT",
        "financial_year": "2021-22",
        "period": period,
        "period_key": f"2021-22-P{period:02d}",
        "posting_date": date(2021, 10, 5),
        "account_code": "E01",
        "expenditure_category": "DIRECT_STAFFING",
        "fund_strand": strand,
        "amount": Decimal(amount),
        "is_overhead_recharge": False,
        "source_file_sha256": sha,
        "source_row": row,
        "submission_version": 1,
    }


@pytest.fixture
def release(publisher) -> dict[str, Any]:
    """SWA P7 from a stored CSV (three lines), THA P7 with a line and a TRADED line beside it."""
    rows = ledger_rows(n=3)
    rows[0]["description"] = "Agency cover for Ms Example"
    data = csv_bytes(rows)
    sha = hashlib.sha256(data).hexdigest()
    tha_sha = hashlib.sha256(b"tha").hexdigest()
    folder = publisher.publish([], files={sha: ("LEDGER_SWA_2021-22_P07.csv", data)})
    lines = [_line("SWA", 7, sha, n + 2, r["amount"]) for n, r in enumerate(rows)]
    lines += [_line("THA", 7, tha_sha, 2, "500.10"), _line("THA", 7, tha_sha, 3, "75.00", "TRADED")]
    outturn = sum((Decimal(r["amount"]) for r in rows), Decimal("500.10"))
    _write_typed(folder / "parquet" / "fct_ledger_lines.parquet", LINE_SCHEMA, lines)
    _write_typed(
        folder / "parquet" / "mart_service_line_budget_outturn.parquet",
        FORUM_SCHEMA,
        [
            {
                "financial_year": "2021-22",
                "service_line": "DISTRICT",
                "total_budget": Decimal("5000.00"),
                "outturn": outturn,
                "traded_net": Decimal("75.00"),
                "variance": Decimal("5000.00") - outturn,
                "pension_allocation": Decimal("0.00"),
                "variance_after_pension": Decimal("5000.00") - outturn,
                "periods_received": 1,
                "is_complete": False,
            }
        ],
    )
    _write(
        folder / "parquet" / "submission_ledger.parquet",
        {
            "file_sha256": "string",
            "original_name": "string",
            "status": "string",
            "sla_code": "string",
            "version": "int32",
            "received_at": "timestamp",
        },
        [
            {
                "file_sha256": sha,
                "original_name": "LEDGER_SWA_2021-22_P07.csv",
                "status": "ACCEPTED",
                "sla_code": "SWA",
                "version": 1,
                "received_at": datetime(2021, 11, 3, 9, 30, tzinfo=UTC),
            }
        ],
    )
    return {"sha": sha, "outturn": outturn, "release_id": folder.name, "rows": rows}


def _money(text: str) -> Decimal:
    return Decimal(text.replace("£", "").replace(",", ""))


def test_the_forum_table_drills_down_to_lines_that_add_up_to_the_outturn(release, users, client_for):
    browser = client_for(users["finance"])
    forum = browser.get("/county/figures/?year=2021-22")
    assert forum.status_code == 200
    html = forum.content.decode()
    assert release["release_id"] in html
    assert f"£{release['outturn']:,}" in html

    by_sla = browser.get("/county/figures/2021-22/DISTRICT/")
    drill = by_sla.context["drill"]
    assert [(r.key, r.outturn, r.traded) for r in drill.rows] == [
        ("SWA", Decimal("3006.75"), Decimal("0")),
        ("THA", Decimal("500.10"), Decimal("75.00")),
    ]
    assert drill.outturn == release["outturn"] and drill.agrees
    assert "The total is the published outturn" in by_sla.content.decode()

    total = Decimal(0)
    for sla in ("SWA", "THA"):
        periods = browser.get(f"/county/figures/2021-22/DISTRICT/{sla}/").context["drill"]
        for period in periods.rows:
            page = browser.get(f"/county/figures/2021-22/DISTRICT/{sla}/{period.key}/")
            assert page.status_code == 200 and release["release_id"] in page.content.decode()
            total += page.context["total"]
    assert total == release["outturn"]


def test_a_return_shows_its_file_version_sender_and_lines_with_their_source_rows(release, users, client_for):
    page = client_for(users["finance"]).get("/county/figures/2021-22/DISTRICT/SWA/2021-22-P07/")
    [file] = page.context["files"]
    assert (file.file_name, file.version, file.sha256) == ("LEDGER_SWA_2021-22_P07.csv", 1, release["sha"])
    assert file.sent_by == "dropped in the landing zone" and file.signed_off_by is None
    html = page.content.decode()
    rows = re.findall(rf'href="/county/source/{release["sha"]}/(\d+)/"', html)
    assert rows == ["2", "3", "4"]
    amounts = [Decimal(a) for a in re.findall(r'data-amount="([-\d.]+)"', html)]
    assert sum(amounts) == page.context["total"] == Decimal("3006.75")


def test_a_lines_source_row_is_read_from_the_raw_zone_without_free_text(release, users, client_for):
    browser = client_for(users["auditor"])
    page = browser.get(f"/county/source/{release['sha']}/2/")
    assert page.status_code == 200
    cells = {header: value for _, header, value in page.context["source"].cells}
    first = release["rows"][0]
    assert cells["amount"] == first["amount"] and cells["line_ref"] == first["line_ref"]
    assert "Ms Example" not in page.content.decode()
    assert cells["description"].startswith("(free text, not shown")
    assert release["release_id"] in page.content.decode()
    assert AuditEvent.objects.filter(action="view_source_row", actor="auditor").exists()
    assert browser.get(f"/county/source/{release['sha']}/99/").status_code == 404
    assert browser.get(f"/county/source/{'0' * 64}/2/").status_code == 404
    assert browser.get("/county/source/not-a-sha/2/").status_code == 404


def test_figures_are_closed_to_school_users(release, users, client_for):
    browser = client_for(users["submitter"])
    for url in (
        "/county/figures/",
        "/county/figures/2021-22/DISTRICT/",
        f"/county/source/{release['sha']}/2/",
    ):
        assert browser.get(url).status_code == 403


def test_unknown_years_lines_and_slas_are_not_found(release, users, client_for):
    browser = client_for(users["finance"])
    assert browser.get("/county/figures/?year=1999-00").status_code == 404
    assert browser.get("/county/figures/2021-22/NOPE/").status_code == 404
    assert browser.get("/county/figures/2021-22/PD/SWA/").status_code == 404
    assert browser.get("/county/figures/2021-22/DISTRICT/SWA/2021-22-P08/").status_code == 404
