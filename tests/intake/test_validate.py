"""Representative rules of the returns contract, each with the code and location a school sees."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from openpyxl.worksheet.worksheet import Worksheet

from stls_warehouse.intake.validate import validate_return
from tests.factories import csv_bytes, kpi_rows, kpi_xlsx_bytes, ledger_rows, xlsx_bytes

LEDGER_CSV = "LEDGER_SWA_2021-22_P07.csv"
LEDGER_XLSX = "LEDGER_SWA_2021-22_P07.xlsx"
KPI_CSV = "KPI_THA_2022-10.csv"


def codes(result) -> list[tuple[str, int | None, str | None]]:
    return [(p.code, p.row, p.column) for p in result.errors]


def test_a_valid_csv_ledger_is_accepted_with_exact_amounts() -> None:
    result = validate_return(LEDGER_CSV, csv_bytes(ledger_rows()))
    assert result.accepted, result.errors
    assert [line.amount for line in result.ledger_lines] == [
        Decimal("1001.25"),
        Decimal("1002.25"),
        Decimal("1003.25"),
    ]
    assert [line.source_row for line in result.ledger_lines] == [2, 3, 4]
    assert result.ledger_lines[0].posting_date == date(2021, 10, 2)
    assert result.contract_dict()["period_key"] == "2021-22-P07"


def test_headers_are_trimmed_case_insensitive_and_in_any_order() -> None:
    rows = ledger_rows()
    shuffled = [f" {c.upper()}\u00a0" for c in reversed(list(rows[0]))]
    remapped = [{f" {k.upper()}\u00a0": v for k, v in row.items()} for row in rows]
    result = validate_return(LEDGER_CSV.lower(), csv_bytes(remapped, shuffled, bom=True))
    assert result.accepted, result.errors


def test_every_problem_is_listed_with_row_and_column() -> None:
    rows = ledger_rows(n=4)
    rows[0]["amount"] = "1.234"
    rows[1]["account_code"] = "E28"
    rows[2]["fund_strand"] = "CAPITAL"
    rows[3]["is_overhead_recharge"] = "maybe"
    rows[3]["posting_date"] = "2021-11-01"
    result = validate_return(LEDGER_CSV, csv_bytes(rows))
    assert codes(result) == [
        ("AMOUNT_INVALID", 2, "amount"),
        ("UNKNOWN_ACCOUNT", 3, "account_code"),
        ("INVALID_FUND_STRAND", 4, "fund_strand"),
        ("PERIOD_MISMATCH", 5, "posting_date"),
        ("INVALID_FLAG", 5, "is_overhead_recharge"),
    ]
    assert not result.ledger_lines


def test_account_codes_follow_the_cfr_list_of_the_return_s_year() -> None:
    """CFR split E20 into E20A..E20G from 2024-25 and dropped I18a/I18b: a genuine 2022-23
    ledger with ICT spend under bare E20 is accepted; the same line in 2024-25 is refused
    with the hint to use a lettered form. Lettered forms are accepted in every year."""
    rows = ledger_rows(fy="2022-23", n=4)
    for row, code in zip(rows, ["E20", "e20", "I18a", "E20C"], strict=True):
        row["account_code"] = code
    accepted = validate_return("LEDGER_SWA_2022-23_P07.csv", csv_bytes(rows))
    assert accepted.accepted, accepted.errors
    assert [line.account_code for line in accepted.ledger_lines] == ["E20", "E20", "I18a", "E20C"]

    rows = ledger_rows(fy="2024-25", n=4)
    for row, code in zip(rows, ["E20", "E20C", "I18b", "E23"], strict=True):
        row["account_code"] = code
    rejected = validate_return("LEDGER_SWA_2024-25_P07.csv", csv_bytes(rows))
    assert codes(rejected) == [("UNKNOWN_ACCOUNT", 2, "account_code"), ("UNKNOWN_ACCOUNT", 4, "account_code")]
    bare, covid = rejected.errors
    assert "not a CFR account code in 2024-25" in bare.message
    assert "valid to 2023-24" in bare.message
    assert "lettered form (E20A..E20G)" in bare.message
    assert "not a CFR account code in 2024-25" in covid.message


def test_thirty_bad_amounts_give_thirty_errors() -> None:
    rows = ledger_rows(n=30)
    for row in rows:
        row["amount"] = "12 345"
    result = validate_return(LEDGER_CSV, csv_bytes(rows))
    assert [p.row for p in result.errors] == list(range(2, 32))


def test_rows_with_the_wrong_number_of_fields_are_header_mismatch() -> None:
    data = csv_bytes(ledger_rows()) + b"SWA,2021-22,7,L9\n"
    result = validate_return(LEDGER_CSV, data)
    assert ("HEADER_MISMATCH", 5, None) in codes(result)


def test_missing_unknown_and_duplicate_columns() -> None:
    rows = ledger_rows()
    columns = [c for c in rows[0] if c != "cost_centre"] + ["notes", "AMOUNT"]
    result = validate_return(LEDGER_CSV, csv_bytes(rows, columns))
    found = {(code, col) for code, _, col in codes(result) if code == "HEADER_MISMATCH"}
    assert found == {
        ("HEADER_MISMATCH", "notes"),
        ("HEADER_MISMATCH", "AMOUNT"),
        ("HEADER_MISMATCH", "cost_centre"),
    }


def test_file_name_problems_still_check_rows() -> None:
    rows = ledger_rows()
    rows[0]["amount"] = "abc"
    result = validate_return("LEDGER_XYZ_2021-22_P07.csv", csv_bytes(rows))
    assert [c for c, _, _ in codes(result)] == ["FILENAME_INVALID", "AMOUNT_INVALID"]
    assert result.contract_dict()["sla_code"] is None


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("LEDGER_SWA_2021-22_P07.xls", b"anything", "FILE_TYPE_NOT_ALLOWED"),
        (LEDGER_CSV, b"", "EMPTY_RETURN"),
        (LEDGER_CSV, b"\xef\xbb\xbf\n\n", "EMPTY_RETURN"),
        (LEDGER_CSV, b"sla_code,amount\n" + "é".encode("latin-1"), "ENCODING_INVALID"),
        (LEDGER_CSV, b"PK\x03\x04rest-of-a-zip", "FILE_UNREADABLE"),
        (LEDGER_XLSX, b"sla_code,financial_year\n", "FILE_UNREADABLE"),
        (LEDGER_XLSX, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "FILE_UNREADABLE"),
        (
            LEDGER_XLSX,
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "EncryptedPackage".encode("utf-16-le"),
            "ENCRYPTED",
        ),
    ],
)
def test_unreadable_files_list_only_the_file_level_problem(name: str, data: bytes, code: str) -> None:
    result = validate_return(name, data)
    assert [p.code for p in result.errors] == [code]
    assert result.errors[0].row is None


def test_header_only_return_is_empty_return() -> None:
    result = validate_return(LEDGER_CSV, csv_bytes([]))
    assert [p.code for p in result.errors] == ["EMPTY_RETURN"]


def test_nil_return_is_accepted_without_ledger_lines() -> None:
    row = ledger_rows(n=1)[0] | {"account_code": "nil", "amount": "0"}
    result = validate_return(LEDGER_CSV, csv_bytes([row]))
    assert result.accepted and result.is_nil and result.ledger_lines == []


def test_nil_beside_other_lines_and_nil_with_an_amount() -> None:
    rows = ledger_rows(n=2)
    rows[1]["account_code"] = "NIL"
    assert codes(validate_return(LEDGER_CSV, csv_bytes(rows))) == [("UNKNOWN_ACCOUNT", 3, "account_code")]
    single = [ledger_rows(n=1)[0] | {"account_code": "NIL", "amount": "5.00"}]
    assert codes(validate_return(LEDGER_CSV, csv_bytes(single))) == [("AMOUNT_INVALID", 2, "amount")]


def test_xlsx_typed_cells_are_read_exactly() -> None:
    rows = ledger_rows(n=2)
    for row in rows:
        row["posting_date"] = date(2021, 10, 5)
        row["amount"] = 1234.56
        row["period"] = 7
        row["is_overhead_recharge"] = True
    result = validate_return(
        LEDGER_XLSX, xlsx_bytes(rows, control={"control_total": 2469.12, "line_count": 2})
    )
    assert result.accepted, result.errors
    assert {line.amount for line in result.ledger_lines} == {Decimal("1234.56")}
    assert result.ledger_lines[0].is_overhead_recharge is True


def test_control_sheet_mismatch_and_missing_label() -> None:
    rows = ledger_rows(n=2)
    result = validate_return(
        LEDGER_XLSX, xlsx_bytes(rows, control={"control_total": "1.00", "line_count": 3})
    )
    assert sorted(p.code for p in result.errors) == ["CONTROL_TOTAL_MISMATCH", "CONTROL_TOTAL_MISMATCH"]
    result = validate_return(LEDGER_XLSX, xlsx_bytes(rows, control={"line_count": 2}))
    assert [(p.code, p.sheet) for p in result.errors] == [("CONTROL_TOTAL_MISMATCH", "Control")]


def test_formula_errors_uncalculated_formulas_and_merged_cells() -> None:
    def breaker(book, table: Worksheet) -> None:
        table["J2"] = "#REF!"
        table["J2"].data_type = "e"
        table["J3"] = "=SUM(1,2)"
        table.merge_cells("A4:B4")

    result = validate_return(LEDGER_XLSX, xlsx_bytes(ledger_rows(n=3), edit=breaker))
    found = {(p.code, p.sheet, p.row, p.column) for p in result.errors}
    assert ("FORMULA_ERROR", "Ledger", 2, "amount") in found
    assert ("FORMULA_NOT_CALCULATED", "Ledger", 3, "amount") in found
    assert ("MERGED_CELLS", "Ledger", 4, "sla_code") in found


def test_error_text_typed_as_a_string_is_not_a_formula_error() -> None:
    def as_text(book, table: Worksheet) -> None:
        table["I2"] = "#REF!"
        table["I2"].data_type = "s"  # openpyxl would otherwise store it as an error value

    assert validate_return(LEDGER_XLSX, xlsx_bytes(ledger_rows(n=1), edit=as_text)).accepted


def test_missing_sheet_and_hidden_sheet() -> None:
    result = validate_return(LEDGER_XLSX, xlsx_bytes(ledger_rows(), sheet="Sheet1"))
    assert [p.code for p in result.errors] == ["SHEET_MISSING"]

    def hide(book, table: Worksheet) -> None:
        book.create_sheet("Notes")
        table.sheet_state = "hidden"

    result = validate_return(LEDGER_XLSX, xlsx_bytes(ledger_rows(), edit=hide))
    assert result.accepted and [w.code for w in result.warnings] == ["HIDDEN_SHEET"]


def test_a_valid_kpi_return_and_its_rules() -> None:
    rows = kpi_rows()
    assert validate_return(KPI_CSV, csv_bytes(rows)).accepted
    rows[2]["value"] = "88.8"  # 32/36 is 88.9
    rows[10]["numerator"] = "6"  # more than the denominator 5
    rows[0]["value"] = "4.5"  # a count must be whole
    del rows[4]  # LIFT_CASES missing
    rows.append(dict(rows[0]))  # REF_RCVD twice
    rows.append(rows[1] | {"kpi_code": "COMPLAINTS"})
    result = validate_return(KPI_CSV, csv_bytes(rows))
    found = {(code, row, column) for code, row, column in codes(result)}
    assert found == {
        ("VALUE_INVALID", 2, "value"),
        ("VALUE_INVALID", 4, "value"),
        ("VALUE_INVALID", 11, "numerator"),
        ("DUPLICATE_LINE", 17, "kpi_code"),
        ("UNKNOWN_KPI", 18, "kpi_code"),
        ("KPI_MISSING", None, "kpi_code"),
    }


def test_training_evaluation_is_empty_exactly_when_no_sessions() -> None:
    rows = kpi_rows()
    by_code = {r["kpi_code"]: r for r in rows}
    by_code["TRN_SESS"]["value"] = "0"
    assert codes(validate_return(KPI_CSV, csv_bytes(rows))) == [("VALUE_INVALID", 15, "value")]
    by_code["TRN_EVAL"]["value"] = ""
    assert validate_return(KPI_CSV, csv_bytes(rows)).accepted


def test_kpi_month_as_an_excel_date_cell() -> None:
    rows = kpi_rows()
    for row in rows:
        row["month"] = date(2022, 10, 1)
    result = validate_return("KPI_THA_2022-10.xlsx", kpi_xlsx_bytes(rows))
    assert result.accepted, result.errors
    assert {r.kpi_month for r in result.kpi_rows} == {"2022-10"}


def test_optional_school_visits_and_link_teacher_coverage_are_accepted_and_checked() -> None:
    """KCC tracks school visits (April 2021) and decision 22/00001 gives every setting a named
    Link Teacher: both are optional KPIs, checked by their units when sent."""
    base = kpi_rows()
    visits = base[0] | {"kpi_code": "VISITS", "value": "42", "numerator": "", "denominator": ""}
    cover = base[0] | {"kpi_code": "LINK_COVER", "value": "95.2", "numerator": "40", "denominator": "42"}
    assert validate_return(KPI_CSV, csv_bytes([*base, visits, cover])).accepted
    wrong = cover | {"value": "90.0"}  # 40 of 42 is 95.2 %
    assert codes(validate_return(KPI_CSV, csv_bytes([*base, wrong]))) == [("VALUE_INVALID", 18, "value")]
