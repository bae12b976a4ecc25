"""Reading rules of the contract that live below the table: CSV line endings and row numbers,
XLSX cell types and date systems, and the limits that keep hostile files harmless."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from stls_warehouse.intake import sandbox
from stls_warehouse.intake.validate import check_return, validate_return
from tests.factories import csv_bytes, kpi_rows, ledger_rows, xlsx_bytes
from tests.intake.hostile import SHEET_HEAD, SHEET_TAIL, rezip, zip_bomb

LC, LX = "LEDGER_SWA_2021-22_P07.csv", "LEDGER_SWA_2021-22_P07.xlsx"


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_csv_line_endings_and_a_quoted_field_spanning_lines(newline: bytes) -> None:
    rows = ledger_rows(n=3)
    rows[0]["description"] = "first line\nsecond line"
    rows[2]["amount"] = "oops"
    data = csv_bytes(rows).replace(b"\n", b"\x00").replace(b"\x00", newline)
    result = validate_return(LC, data)
    # Row 2's description spans two lines, so the third record starts on line 5.
    assert [(p.code, p.row, p.cell) for p in result.errors] == [("AMOUNT_INVALID", 5, "J5")]


def test_csv_blank_lines_are_skipped_but_counted_as_the_user_sees_them() -> None:
    data = csv_bytes(ledger_rows(n=2)).replace(b"\nSWA", b"\n\n,,,\nSWA", 1)
    rows = validate_return(LC, data)
    assert rows.accepted and [line.source_row for line in rows.ledger_lines] == [4, 5]


def test_csv_header_with_a_trailing_comma_has_an_empty_column() -> None:
    data = csv_bytes(ledger_rows(n=1)).replace(b"is_overhead_recharge\n", b"is_overhead_recharge,\n")
    data = data.replace(b",N\n", b",N,\n")
    assert [(p.code, p.column) for p in validate_return(LC, data).errors] == [("HEADER_MISMATCH", "L")]


def test_text_like_na_and_null_is_just_text() -> None:
    rows = ledger_rows(n=3)
    rows[0]["cost_centre"], rows[1]["description"], rows[2]["line_ref"] = "NA", "null", "None"
    result = validate_return(LC, csv_bytes(rows))
    assert result.accepted
    assert [result.ledger_lines[0].cost_centre, result.ledger_lines[1].description] == ["NA", "null"]


def test_codes_and_keywords_are_case_insensitive_and_trimmed() -> None:
    rows = ledger_rows(n=2)
    rows[0] |= {
        "sla_code": " swa ",
        "account_code": "e28A",
        "fund_strand": "\u00a0outreach",
        "is_overhead_recharge": "yes",
    }
    rows[1] |= {"account_code": "i08B", "is_overhead_recharge": "False", "amount": "£-12.50"}
    result = validate_return("ledger_swa_2021-22_p07.CSV", csv_bytes(rows))
    assert result.accepted, result.errors
    assert [
        (line.account_code, line.fund_strand, line.is_overhead_recharge) for line in result.ledger_lines
    ] == [
        ("E28a", "OUTREACH", True),
        ("I08b", "CORE", False),
    ]
    assert result.ledger_lines[1].amount == Decimal("-12.50")


def test_a_nil_return_and_p13_postings_in_march_or_april() -> None:
    nil = ledger_rows(n=1)[0] | {"account_code": "nil", "amount": "(0.00)"}
    assert validate_return(LC, csv_bytes([nil])).is_nil
    p13 = [
        r | {"period": "13", "posting_date": d}
        for r, d in zip(ledger_rows(n=2), ["31/3/2022", "2022-04-30"], strict=True)
    ]
    assert validate_return("LEDGER_SWA_2021-22_P13.csv", csv_bytes(p13)).accepted


def test_xlsx_dates_in_the_1904_system_and_iso_date_cells() -> None:
    rows = ledger_rows(n=2)
    for row in rows:
        row["posting_date"] = date(2021, 10, 5)

    def mac(book, sheet) -> None:
        book.epoch = CALENDAR_MAC_1904

    result = validate_return(LX, xlsx_bytes(rows, edit=mac))
    assert result.accepted, result.errors
    assert {line.posting_date for line in result.ledger_lines} == {date(2021, 10, 5)}

    header = ledger_rows(n=1)[0]
    cells = {
        column: f'<c r="{letter}{{row}}" t="inlineStr"><is><t>{{value}}</t></is></c>'
        for column, letter in zip(header, "ABCDEFGHIJK", strict=True)
    }
    header_xml = "".join(cells[c].format(row=1, value=c) for c in header)
    data_xml = "".join(
        '<c r="E2" t="d"><v>2021-10-05T10:30:00</v></c>'
        if c == "posting_date"
        else cells[c].format(row=2, value=v)
        for c, v in header.items()
    )
    sheet = SHEET_HEAD + f'<row r="1">{header_xml}</row><row r="2">{data_xml}</row>'.encode() + SHEET_TAIL
    result = validate_return(
        LX, rezip(xlsx_bytes(ledger_rows()), edit={"xl/worksheets/sheet1.xml": lambda _: sheet})
    )
    assert result.accepted, result.errors
    assert [line.posting_date for line in result.ledger_lines] == [date(2021, 10, 5)]


def test_a_formula_whose_saved_result_is_empty_text_is_an_empty_cell() -> None:
    rows = ledger_rows(n=1)

    def edit(body: bytes) -> bytes:
        return body.replace(
            b"</row></sheetData>", b'<c r="F2" t="str"><f>""</f><v></v></c></row></sheetData>', 1
        )

    data = rezip(xlsx_bytes(rows, columns=[c for c in rows[0]]), edit={"xl/worksheets/sheet1.xml": edit})
    assert validate_return(LX, data).accepted


def test_a_hidden_table_sheet_is_read_with_a_warning() -> None:
    def hide(book, sheet) -> None:
        book.create_sheet("Notes")
        sheet.sheet_state = "hidden"

    result = validate_return(LX, xlsx_bytes(ledger_rows(), edit=hide))
    assert result.accepted and [w.code for w in result.warnings] == ["HIDDEN_SHEET"]


def test_sheet_and_control_labels_are_case_insensitive() -> None:
    rows = ledger_rows(n=2)

    def rename(book, sheet) -> None:
        sheet.title = " LEDGER "
        book["Control"].title = "control"

    data = xlsx_bytes(rows, control={" CONTROL_TOTAL": "2,003.50", "Line_Count": "2"}, edit=rename)
    assert validate_return(LX, data).accepted


def test_kpi_percent_rules() -> None:
    rows = kpi_rows()
    by_code = {r["kpi_code"]: r for r in rows}
    by_code["FC_IN_TARGET"] |= {"value": "", "numerator": "0", "denominator": "0"}
    by_code["ISS_TGT_MET"] |= {"value": "66.70", "numerator": "2", "denominator": "3"}  # 66.666.. -> 66.7
    by_code["ISS_CLOSED"] |= {"value": "3"}
    assert validate_return("KPI_THA_2022-10.csv", csv_bytes(rows)).accepted


# --- hostile files -------------------------------------------------------------------


def _reset_peak_rss() -> None:
    """Start a new peak (VmHWM) at the current RSS (Linux: clear_refs 5)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pytest.skip("peak RSS cannot be reset here")


def _rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(field)


def test_a_zip_bomb_declaring_a_gigabyte_is_refused_before_reading() -> None:
    bomb = zip_bomb(xlsx_bytes(ledger_rows()), 1 << 30)
    assert len(bomb) < 2 * 1024 * 1024
    result = validate_return(LX, bomb)
    assert [(p.code, p.row) for p in result.errors] == [("FILE_TOO_LARGE", None)]
    assert "1024 MB" in result.errors[0].message


def test_a_zip_bomb_that_lies_about_its_size_is_caught_while_inflating() -> None:
    bomb = zip_bomb(xlsx_bytes(ledger_rows()), 300 << 20, honest=False)
    _reset_peak_rss()
    before = _rss_mb("VmRSS")
    result = check_return(LX, bomb)  # in this process, to watch its memory
    assert [p.code for p in result.errors] == ["FILE_TOO_LARGE"]
    assert "inflates to more than 200 MB" in result.errors[0].message
    assert _rss_mb("VmHWM") - before < 64  # streamed: never the 300 MB it inflates to


def test_a_part_inflating_past_its_declared_size_is_corrupt() -> None:
    bomb = zip_bomb(xlsx_bytes(ledger_rows()), 8 << 20, honest=False)
    assert [p.code for p in check_return(LX, bomb).errors] == ["FILE_UNREADABLE"]


def test_cells_outside_excels_grid_are_refused_without_looping_over_them() -> None:
    sheet = (
        SHEET_HEAD
        + b'<row r="1"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c><c r="ZZZZ9"/></row>'
        + SHEET_TAIL
    )
    data = rezip(xlsx_bytes(ledger_rows()), edit={"xl/worksheets/sheet1.xml": lambda _: sheet})
    assert [p.code for p in check_return(LX, data).errors] == ["FILE_UNREADABLE"]


def test_a_large_file_is_checked_in_a_child_process_under_a_memory_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = ledger_rows(n=12_000)
    for number, row in enumerate(rows):
        row["line_ref"] = f"R{number:06d}-{'x' * 40}"
    data = csv_bytes(rows)
    assert not sandbox.needs_child(LC, data)  # 1.3 MB: checked in process
    monkeypatch.setattr(sandbox, "IN_PROCESS_CSV_BYTES", 1024 * 1024)
    assert sandbox.needs_child(LC, data)
    result = validate_return(LC, data)
    assert result.accepted and len(result.ledger_lines) == 12_000

    monkeypatch.setenv("STLS_INTAKE_MEMORY_MB", "160")
    wide = b"a," * (5 * 1024 * 1024) + b"\n"  # ten million cells
    result = validate_return(LC, wide)
    assert [p.code for p in result.errors] == ["FILE_TOO_LARGE"]
    assert "160 MB of memory" in result.errors[0].message


def test_a_child_that_runs_too_long_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STLS_INTAKE_TIMEOUT_S", "0.01")
    monkeypatch.setattr(sandbox, "IN_PROCESS_CSV_BYTES", 1024 * 1024)
    data = csv_bytes(ledger_rows(n=16_000))
    assert sandbox.needs_child(LC, data)
    result = validate_return(LC, data)
    assert [p.code for p in result.errors] == ["FILE_TOO_LARGE"]
    assert "longer than" in result.errors[0].message


def test_a_checker_fault_is_ours_and_never_rejects_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(name: str, data: bytes) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(sandbox, "check_return", broken)
    with pytest.raises(sandbox.InternalCheckError, match=r"LEDGER.*RuntimeError: bug.*validated again"):
        sandbox.check_here(LC, b"x")


def test_sheet_and_workbook_protection_are_not_encryption() -> None:
    def protect(book, sheet) -> None:
        sheet.protection.sheet = True
        sheet.protection.password = "school"
        book.security.lockStructure = True

    assert validate_return(LX, xlsx_bytes(ledger_rows(), edit=protect)).accepted
