"""Every error code of the returns contract, on files made by code: the exact problems and
where they are, a report a school can act on, and nothing of a bad file in the warehouse."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from openpyxl import load_workbook

from stls_warehouse.intake.problems import FILE_LEVEL_CODES, Code
from stls_warehouse.intake.raw_zone import RawZone
from stls_warehouse.intake.stage import stage_files
from stls_warehouse.intake.submissions import load_staged
from stls_warehouse.intake.validate import validate_return
from tests.factories import csv_bytes, ledger_rows
from tests.intake.corpus import Bad, corpus

CORPUS = corpus()
WARNING_CODES = {Code.HIDDEN_SHEET, Code.PROBLEMS_CAPPED}


def test_the_corpus_covers_every_error_code_with_forty_files_or_more() -> None:
    assert len(CORPUS) >= 40
    covered = Counter(code for bad in CORPUS for code in {e[0] for e in bad.expected})
    assert set(covered) == {c.value for c in Code} - WARNING_CODES
    assert len({bad.id for bad in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("bad", CORPUS, ids=lambda bad: bad.id)
def test_each_bad_file_gets_exactly_its_problems(bad: Bad) -> None:
    result = validate_return(bad.name, bad.data)
    found = sorted((str(p.code), p.sheet, p.row, p.column) for p in result.errors)
    assert found == sorted(bad.expected)
    assert result.status == "rejected" and not result.ledger_lines and not result.kpi_rows
    for problem in result.errors:
        assert problem.message.endswith(".") and len(problem.message) > 30
        absent = "missing from the header" in problem.message  # a missing column has no cell
        if (
            problem.row is not None
            and problem.column is not None
            and problem.code != "MERGED_CELLS"
            and not absent
        ):
            assert problem.cell and problem.cell.endswith(str(problem.row)), problem
    if any(p.code in FILE_LEVEL_CODES - {Code.FILENAME_INVALID} for p in result.errors):
        assert all(p.row is None for p in result.errors)  # unreadable: file-level problems only


def test_row_problems_say_what_was_found_and_what_is_expected() -> None:
    bad = next(b for b in CORPUS if b.id == "amount-text-shapes")
    result = validate_return(bad.name, bad.data)
    assert [(p.cell, p.value) for p in result.errors[:3]] == [("J2", "+5"), ("J3", "1.234,56"), ("J4", "(1")]
    assert all(p.expected for p in result.errors)


def test_thirty_bad_amounts_give_thirty_errors_and_more_are_capped_with_a_count() -> None:
    rows = ledger_rows(n=130)
    for row in rows:
        row["amount"] = "12 345"
    result = validate_return("LEDGER_SWA_2021-22_P07.csv", csv_bytes(rows))
    assert len(result.errors) == 100
    assert [(w.code, w.message.split()[0]) for w in result.warnings] == [("PROBLEMS_CAPPED", "30")]


def test_no_bad_file_reaches_the_warehouse_and_each_gets_a_rejection_report(stls_home: Path) -> None:
    landing, work = stls_home / "landing", stls_home / "work" / "run"
    paths = []
    for bad in CORPUS:
        folder = landing / bad.id
        folder.mkdir()
        (folder / bad.name).write_bytes(bad.data)
        paths.append(str(folder / bad.name))
    zone = RawZone(stls_home / "raw")
    staged = stage_files(paths, work, zone)
    assert {s["status"] for s in staged} == {"REJECTED"}
    warehouse = stls_home / "warehouse" / "stls.duckdb"
    summary = load_staged(work, warehouse, zone, stls_home / "quarantine", datetime(2022, 11, 5, tzinfo=UTC))
    # Byte-identical files (the same bytes under two corpus names) are DUPLICATEs of the first.
    assert len(summary.rejected) + len(summary.duplicate) == len(CORPUS)
    con = duckdb.connect(str(warehouse), read_only=True)
    assert con.execute("select count(*) from raw.ledger_lines").fetchone() == (0,)
    assert con.execute("select count(*) from raw.kpi_values").fetchone() == (0,)
    statuses = dict(con.execute("select status, count(*) from raw.submissions group by all").fetchall())
    assert statuses.get("ACCEPTED") is None and sum(statuses.values()) == len(CORPUS)
    rejected = con.execute(
        "select file_sha256, error_count from raw.submissions where status = 'REJECTED'"
    ).fetchall()
    con.close()
    for sha, error_count in rejected:
        folder = stls_home / "quarantine" / sha
        report = json.loads((folder / "rejection.json").read_text())
        assert len(report["errors"]) == error_count
        problems = load_workbook(folder / "rejection.xlsx", read_only=True)["Problems"]
        table = list(problems.iter_rows(values_only=True))
        assert table[0][:4] == ("#", "code", "sheet", "cell") and len(table) == error_count + 1
    summary_csv = (stls_home / "reports" / "intake" / "submission_summary.csv").read_text()
    assert "REJECTED" in summary_csv
