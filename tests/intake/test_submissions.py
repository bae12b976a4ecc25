"""The submission ledger end to end through stage_files + load_staged (the same functions the
DAG's intake and load tasks call): versions, duplicates, what changed, idempotency, and the
feedback written for schools and the finance officer."""

from __future__ import annotations

import csv
import json
import os
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from openpyxl import load_workbook

from stls_warehouse.intake.raw_zone import RawZone
from stls_warehouse.intake.stage import stage_files
from stls_warehouse.intake.submissions import LoadSummary, load_staged
from tests.factories import csv_bytes, kpi_rows, ledger_rows

NAME = "LEDGER_SWA_2021-22_P07.csv"


class Intake:
    """A temporary STLS_HOME with helpers to land files and run intake over them."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.zone = RawZone(home / "raw")
        self.warehouse = home / "warehouse" / "stls.duckdb"
        self.runs = 0

    def land(self, name: str, data: bytes, mtime: int | None = None, folder: str = "landing") -> Path:
        path = self.home / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if mtime is not None:
            os.utime(path, ns=(mtime, mtime))
        return path

    def run(self, paths: list[Path] | None = None) -> LoadSummary:
        self.runs += 1
        paths = paths if paths is not None else sorted((self.home / "landing").iterdir())
        run_dir = self.home / "work" / f"run{self.runs}"
        stage_files([str(p) for p in paths], run_dir, self.zone)
        when = datetime(2022, 11, 1, 9, self.runs, tzinfo=UTC)
        return load_staged(run_dir, self.warehouse, self.zone, self.home / "quarantine", when)

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        con = duckdb.connect(str(self.warehouse), read_only=True)
        try:
            return con.execute(sql, list(params)).fetchall()
        finally:
            con.close()


@pytest.fixture
def intake(stls_home: Path) -> Intake:
    return Intake(stls_home)


def _v2_rows() -> list[dict[str, Any]]:
    rows = ledger_rows(n=3)
    rows[1]["amount"] = "2500.00"  # L0002 changed
    rows[1]["description"] = "a name that must not be copied"
    del rows[2]  # L0003 removed
    rows.append(ledger_rows(n=4)[3])  # L0004 added
    return rows


def test_a_resubmission_supersedes_and_records_what_changed(intake: Intake) -> None:
    v1 = csv_bytes(ledger_rows(n=3))
    intake.land(NAME, v1, mtime=1_000)
    assert intake.run().as_dict() == {"accepted": 1, "rejected": 0, "duplicate": 0, "unchanged": 0}
    intake.land(NAME, csv_bytes(_v2_rows()), mtime=2_000)  # the school sends it again, corrected
    assert intake.run().accepted == [NAME]

    versions = intake.query(
        "select version, supersedes_sha256 is not null, amount_total from raw.submissions "
        "where status = 'ACCEPTED' order by version"
    )
    assert [(v, s, str(t)) for v, s, t in versions] == [(1, False, "3006.75"), (2, True, "4505.50")]
    change = intake.query(
        "select version, lines_before, lines_after, lines_added, lines_removed, lines_changed, "
        "lines_unchanged, total_before, total_after, changes_json from raw.submission_changes"
    )
    assert len(change) == 1
    *counts, details = change[0]
    assert [str(c) for c in counts] == ["2", "3", "3", "1", "1", "1", "1", "3006.75", "4505.50"]
    details = json.loads(details)
    assert details["changed"] == [
        {
            "line_ref": "L0002",
            "changes": {
                "amount": {"before": "1002.25", "after": "2500.00"},
                "description": {"changed": True},
            },
        }
    ]
    assert [a["line_ref"] for a in details["added"]] == ["L0004"]
    assert [r["line_ref"] for r in details["removed"]] == ["L0003"]
    new_sha = intake.query("select file_sha256 from raw.submissions where version = 2")[0][0]
    page = (intake.home / "raw" / "changes" / f"{new_sha}.md").read_text()
    assert "1 added, 1 removed, 1 changed, 1 unchanged" in page and "3,006.75 | 4,505.50" in page
    assert (
        "must not be copied" not in page + (intake.home / "raw" / "changes" / f"{new_sha}.json").read_text()
    )
    # Both versions stay in the ledger; raw lines of both are kept for dbt to pick the latest.
    assert intake.query("select count(distinct file_sha256) from raw.ledger_lines") == [(2,)]


def test_byte_identical_file_is_a_duplicate_under_any_name_and_changes_nothing(intake: Intake) -> None:
    data = csv_bytes(ledger_rows())
    intake.land(NAME, data, mtime=1_000)
    intake.run()
    intake.land("LEDGER_SWA_2021-22_P07 (copy).csv", data, mtime=2_000)
    summary = intake.run()
    assert summary.duplicate == ["LEDGER_SWA_2021-22_P07 (copy).csv"] and not summary.accepted
    rows = intake.query("select status, version, problems_json from raw.submissions order by received_at")
    assert [r[:2] for r in rows] == [("ACCEPTED", 1), ("DUPLICATE", None)]
    assert json.loads(rows[1][2])["duplicate_of"] == NAME
    assert intake.query("select count(*) from raw.ledger_lines") == [(3,)]


def test_a_duplicate_of_a_rejected_file_repeats_the_rejection(intake: Intake) -> None:
    bad = csv_bytes(ledger_rows(n=1)).replace(b"1001.25", b"1.001")
    intake.land("a.csv", bad, mtime=1_000)
    intake.land(NAME, bad, mtime=2_000)  # the same bytes in the same batch, received later
    summary = intake.run()
    assert (summary.rejected, summary.duplicate) == (["a.csv"], [NAME])
    assert (
        json.loads(
            intake.query("select problems_json from raw.submissions where status = 'DUPLICATE'")[0][0]
        )["repeated_status"]
        == "REJECTED"
    )


def test_running_intake_again_over_the_same_landing_zone_changes_nothing(intake: Intake) -> None:
    intake.land(NAME, csv_bytes(ledger_rows()), mtime=1_000)
    intake.land("KPI_THA_2022-10.csv", csv_bytes(kpi_rows()), mtime=1_000)
    intake.land("LEDGER_SWA_2021-22_P08.csv", b"not,a\nreturn,\n", mtime=1_000)
    intake.run()
    tables = ("raw.submissions", "raw.ledger_lines", "raw.kpi_values", "raw.submission_changes")
    before = [intake.query(f"select count(*) from {t}") for t in tables]
    summary = intake.run()
    assert summary.as_dict() == {"accepted": 0, "rejected": 0, "duplicate": 0, "unchanged": 0}
    assert [intake.query(f"select count(*) from {t}") for t in tables] == before


def test_within_a_batch_the_later_mtime_then_the_later_name_is_the_later_version(intake: Intake) -> None:
    first, second, third = (csv_bytes(ledger_rows(n=n)) for n in (1, 2, 3))
    paths = [
        intake.land(NAME, third, mtime=3_000, folder="landing/c"),
        intake.land(NAME.lower(), second, mtime=2_000, folder="landing/b"),
        intake.land(NAME, first, mtime=2_000, folder="landing/a"),  # same mtime: the name decides
    ]
    intake.run(paths)
    got = intake.query("select original_name, line_count, version from raw.submissions order by version")
    assert got == [(NAME, 1, 1), (NAME.lower(), 2, 2), (NAME, 3, 3)]


def test_rejection_reports_and_the_period_summary(intake: Intake) -> None:
    rows = ledger_rows(n=2)
    rows[0]["amount"] = '=HYPERLINK("http://example.invalid")'
    rows[1]["account_code"] = "@E99"
    intake.land("LEDGER_CAN_2021-22_P07.csv", csv_bytes([r | {"sla_code": "CAN"} for r in rows]))
    intake.land(NAME, csv_bytes(ledger_rows()))
    intake.land("=cmd.csv", b"x")
    intake.run()

    folders = {p.parent for p in (intake.home / "quarantine").glob("*/rejection.xlsx")}
    assert len(folders) == 2
    folder = next(f for f in folders if json.loads((f / "rejection.json").read_text())["sla_code"] == "CAN")
    book = load_workbook(folder / "rejection.xlsx")
    table = [[c.value for c in row] for row in book["Problems"].iter_rows()]
    assert table[1][1:8] == [
        "AMOUNT_INVALID",
        None,
        "J2",
        2,
        "amount",
        '=HYPERLINK("http://example.invalid")',
        table[1][7],
    ]
    assert table[2][1:7] == ["UNKNOWN_ACCOUNT", None, "G3", 3, "account_code", "@E99"]
    assert all(
        c.data_type == "s" for row in book["Problems"].iter_rows() for c in row if isinstance(c.value, str)
    )
    with zipfile.ZipFile(folder / "rejection.xlsx") as archive:
        assert b"<f>" not in archive.read("xl/worksheets/sheet1.xml")  # never a formula

    reports = intake.home / "reports" / "intake"
    with (reports / "submission_summary.csv").open(newline="") as handle:
        summary = list(csv.DictReader(handle))
    p07 = {r["sla_code"]: r["status"] for r in summary if r["period_key"] == "2021-22-P07"}
    assert (
        len(p07) == 14 and p07["SWA"] == "ACCEPTED" and p07["CAN"] == "REJECTED" and p07["ASH"] == "MISSING"
    )
    text = (reports / "submission_summary.csv").read_text()
    assert "'=cmd.csv" not in text  # an unidentifiable file is listed in the XLSX and HTML only
    html = (reports / "submission_summary.html").read_text()
    assert "Ledger 2021-22-P07" in html and "1 accepted, 1 rejected, 12 missing" in html
    unidentified = load_workbook(reports / "submission_summary.xlsx")["Unidentified files"]
    first_unidentified = next(unidentified.iter_rows(min_row=2, values_only=True))
    assert first_unidentified[0] == "=cmd.csv"


def test_a_quality_gate_rejection_holds_for_every_name_of_the_same_bytes() -> None:
    from stls_warehouse.intake.submissions import _share_gate_verdicts

    gate_error = {"code": "VALUE_INVALID", "message": "m", "rule": "outreach_within_budget"}
    staged = [
        {"sha256": "a", "file": "x.csv", "status": "ACCEPTED", "errors": []},
        {"sha256": "a", "file": "y.csv", "status": "REJECTED", "errors": [gate_error]},
        {"sha256": "b", "file": "z.csv", "status": "ACCEPTED", "errors": []},
    ]
    assert [r["status"] for r in _share_gate_verdicts(staged)] == ["REJECTED", "REJECTED", "ACCEPTED"]
    assert staged[0]["errors"] == [gate_error]
