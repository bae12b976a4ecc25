"""A corpus of bad returns made by code: every error code of spec/returns.md, several shapes
each, with the exact problems (code, sheet, row, column) the validator must report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from stls_warehouse.intake.schema import KPI, LEDGER
from tests.factories import csv_bytes, kpi_rows, kpi_xlsx_bytes, ledger_rows, xlsx_bytes
from tests.intake.hostile import billion_laughs, declare_size, ole_file, rezip

LC = "LEDGER_SWA_2021-22_P07.csv"
LX = "LEDGER_SWA_2021-22_P07.xlsx"
KC = "KPI_THA_2022-10.csv"
KX = "KPI_THA_2022-10.xlsx"
Expected = list[tuple[str, str | None, int | None, str | None]]


@dataclass(frozen=True)
class Bad:
    id: str
    name: str
    data: bytes
    expected: Expected


def _ledger(n: int = 3, **changes: dict[str, Any]) -> list[dict[str, Any]]:
    """Valid ledger rows with some cells changed: changes={'r2': {'amount': 'x'}} (row 2 = first)."""
    rows = ledger_rows(n=n)
    for key, values in changes.items():
        rows[int(key[1:]) - 2].update(values)
    return rows


def _kpi(**changes: dict[str, Any]) -> list[dict[str, Any]]:
    rows = kpi_rows()
    by_code = {row["kpi_code"]: row for row in rows}
    for code, values in changes.items():
        by_code[code].update(values)
    return rows


def _typed(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows as a spreadsheet would hold them: numbers and dates as typed cells."""
    typed = []
    for row in rows:
        copy = dict(row)
        copy["amount"] = Decimal(row["amount"]) if isinstance(row["amount"], str) else row["amount"]
        copy["period"] = int(row["period"])
        copy["posting_date"] = date.fromisoformat(row["posting_date"])
        typed.append(copy)
    return typed


def _xlsx_edit(
    edit: Callable[[Workbook, Worksheet], None], rows: list[dict[str, Any]] | None = None, **kw: Any
) -> bytes:
    return xlsx_bytes(_typed(rows or ledger_rows()), edit=edit, **kw)


def _set(ref: str, value: Any, data_type: str | None = None) -> Callable[[Workbook, Worksheet], None]:
    def edit(book: Workbook, sheet: Worksheet) -> None:
        sheet[ref] = value
        if data_type:
            sheet[ref].data_type = data_type

    return edit


def _general_number(ref: str, value: float) -> Callable[[Workbook, Worksheet], None]:
    """A number formatted General: Excel shows 44474, not a date."""

    def edit(book: Workbook, sheet: Worksheet) -> None:
        sheet[ref] = value
        sheet[ref].number_format = "General"

    return edit


def _control(ref: str, value: Any, data_type: str | None = None) -> Callable[[Workbook, Worksheet], None]:
    def edit(book: Workbook, sheet: Worksheet) -> None:
        book["Control"][ref] = value
        if data_type:
            book["Control"][ref].data_type = data_type

    return edit


def _good_control() -> dict[str, Any]:
    return {"control_total": Decimal("3006.75"), "line_count": 3}


def _merge(cells: str) -> Callable[[Workbook, Worksheet], None]:
    def edit(book: Workbook, sheet: Worksheet) -> None:
        sheet.merge_cells(cells)

    return edit


def _insert_blank_first_row(book: Workbook, sheet: Worksheet) -> None:
    sheet.insert_rows(1)


def _vba_content_type(body: bytes) -> bytes:
    return body.replace(
        b"</Types>",
        b'<Override PartName="/xl/macros.bin" ContentType="application/vnd.ms-office.vbaProject"/></Types>',
    )


def corpus() -> list[Bad]:
    good_x = xlsx_bytes(_typed(ledger_rows()))
    good_c = csv_bytes(ledger_rows())
    L = "Ledger"
    K = "KPI"
    cases = [
        # --- FILE_TYPE_NOT_ALLOWED
        Bad(
            "xls",
            "LEDGER_SWA_2021-22_P07.xls",
            ole_file(encrypted=False),
            [("FILE_TYPE_NOT_ALLOWED", None, None, None)],
        ),
        Bad("xlsm", "LEDGER_SWA_2021-22_P07.xlsm", good_x, [("FILE_TYPE_NOT_ALLOWED", None, None, None)]),
        Bad(
            "ods", "KPI_THA_2022-10.ods", b"PK\x03\x04mimetype", [("FILE_TYPE_NOT_ALLOWED", None, None, None)]
        ),
        Bad("no-extension", "LEDGER_SWA_2021-22_P07", good_c, [("FILE_TYPE_NOT_ALLOWED", None, None, None)]),
        # --- FILE_UNREADABLE
        Bad("text-named-xlsx", LX, good_c, [("FILE_UNREADABLE", None, None, None)]),
        Bad("ole-named-xlsx", LX, ole_file(encrypted=False), [("FILE_UNREADABLE", None, None, None)]),
        Bad("zip-named-csv", LC, good_x, [("FILE_UNREADABLE", None, None, None)]),
        Bad("truncated-xlsx", LX, good_x[: len(good_x) // 2], [("FILE_UNREADABLE", None, None, None)]),
        Bad("entity-bomb", LX, billion_laughs(good_x), [("FILE_UNREADABLE", None, None, None)]),
        Bad(
            "unclosed-quote",
            LC,
            good_c + b'SWA,2021-22,7,L9,"2021-10-01\n',
            [("FILE_UNREADABLE", None, None, None)],
        ),
        Bad(
            "zip-not-workbook",
            LX,
            rezip(good_x, drop=("xl/workbook.xml",)),
            [("FILE_UNREADABLE", None, None, None)],
        ),
        # --- MACRO_NOT_ALLOWED
        Bad(
            "vba-part",
            LX,
            rezip(good_x, add={"xl/vbaProject.bin": b"\0" * 64}),
            [("MACRO_NOT_ALLOWED", None, None, None)],
        ),
        Bad(
            "vba-content-type",
            LX,
            rezip(good_x, add={"xl/macros.bin": b"\0"}, edit={"[Content_Types].xml": _vba_content_type}),
            [("MACRO_NOT_ALLOWED", None, None, None)],
        ),
        # --- ENCRYPTED
        Bad("encrypted-xlsx", LX, ole_file(encrypted=True), [("ENCRYPTED", None, None, None)]),
        Bad("encrypted-named-csv", LC, ole_file(encrypted=True), [("ENCRYPTED", None, None, None)]),
        # --- FILE_TOO_LARGE
        Bad("over-20mb", LC, good_c + b"x" * (20 * 1024 * 1024), [("FILE_TOO_LARGE", None, None, None)]),
        Bad(
            "declares-300mb",
            LX,
            declare_size(good_x, "xl/worksheets/sheet1.xml", 300 * 1024 * 1024),
            [("FILE_TOO_LARGE", None, None, None)],
        ),
        # --- ENCODING_INVALID
        Bad(
            "latin-1",
            LC,
            good_c.replace(b"Line 1", "Lîne 1".encode("latin-1")),
            [("ENCODING_INVALID", None, None, None)],
        ),
        Bad("utf-16", LC, good_c.decode().encode("utf-16"), [("ENCODING_INVALID", None, None, None)]),
        # --- EMPTY_RETURN
        Bad("zero-bytes", LC, b"", [("EMPTY_RETURN", None, None, None)]),
        Bad("bom-only", LC, b"\xef\xbb\xbf", [("EMPTY_RETURN", None, None, None)]),
        Bad("blank-lines", LC, b"\n\r\n ,\t, \xc2\xa0\r\r\n", [("EMPTY_RETURN", None, None, None)]),
        Bad("header-only-csv", LC, csv_bytes([], LEDGER.columns), [("EMPTY_RETURN", None, None, None)]),
        Bad("header-only-kpi-xlsx", KX, kpi_xlsx_bytes([]), [("EMPTY_RETURN", K, None, None)]),
        Bad("empty-sheet", LX, xlsx_bytes([], columns=[]), [("EMPTY_RETURN", L, None, None)]),
        # --- FILENAME_INVALID (rows are still checked)
        Bad(
            "unknown-sla-in-name",
            "LEDGER_XYZ_2021-22_P07.csv",
            csv_bytes(_ledger(r2={"amount": "abc"})),
            [("FILENAME_INVALID", None, None, None), ("AMOUNT_INVALID", None, 2, "amount")],
        ),
        Bad(
            "year-not-consecutive",
            "LEDGER_SWA_2021-23_P07.csv",
            good_c,
            [("FILENAME_INVALID", None, None, None)],
        ),
        Bad("period-14", "LEDGER_SWA_2021-22_P14.csv", good_c, [("FILENAME_INVALID", None, None, None)]),
        Bad(
            "month-13", "KPI_THA_2022-13.csv", csv_bytes(kpi_rows()), [("FILENAME_INVALID", None, None, None)]
        ),
        Bad("free-name", "swale ledger october.csv", good_c, [("FILENAME_INVALID", None, None, None)]),
        Bad(
            "bad-name-and-encoding",
            "ledger.csv",
            b"\xff\xfe",
            [("FILENAME_INVALID", None, None, None), ("ENCODING_INVALID", None, None, None)],
        ),
        # --- SHEET_MISSING
        Bad(
            "no-ledger-sheet",
            LX,
            xlsx_bytes(_typed(ledger_rows()), sheet="Sheet1"),
            [("SHEET_MISSING", L, None, None)],
        ),
        Bad(
            "kpi-file-ledger-sheet",
            KX,
            xlsx_bytes(kpi_rows(), columns=KPI.columns),
            [("SHEET_MISSING", K, None, None)],
        ),
        # --- HEADER_MISMATCH
        Bad(
            "missing-column",
            LC,
            csv_bytes(ledger_rows(), [c for c in LEDGER.columns if c != "fund_strand"]),
            [("HEADER_MISMATCH", None, 1, "fund_strand")],
        ),
        Bad(
            "unknown-and-duplicate-column",
            LC,
            csv_bytes(ledger_rows(), [*LEDGER.columns, "notes", " Amount "]),
            [("HEADER_MISMATCH", None, 1, "notes"), ("HEADER_MISMATCH", None, 1, "Amount")],
        ),
        Bad("ragged-row", LC, good_c + b"SWA,2021-22,7,L9\n", [("HEADER_MISMATCH", None, 5, None)]),
        Bad(
            "empty-header-cell",
            LC,
            good_c.replace(b"description,", b",", 1),
            [("HEADER_MISMATCH", None, 1, "I"), ("HEADER_MISMATCH", None, 1, "description")],
        ),
        Bad(
            "header-not-in-row-1",
            LX,
            _xlsx_edit(_insert_blank_first_row),
            [("HEADER_MISMATCH", L, 1, None)],
        ),
        Bad("value-beyond-header", LX, _xlsx_edit(_set("L3", "stray")), [("HEADER_MISMATCH", L, 3, "L")]),
        # --- MISSING_VALUE
        Bad(
            "empty-required-cells",
            LC,
            csv_bytes(
                _ledger(r3={"line_ref": "", "posting_date": " "}, r4={"is_overhead_recharge": "\u00a0"})
            ),
            [
                ("MISSING_VALUE", None, 3, "line_ref"),
                ("MISSING_VALUE", None, 3, "posting_date"),
                ("MISSING_VALUE", None, 4, "is_overhead_recharge"),
            ],
        ),
        Bad(
            "kpi-empty-code",
            KC,
            csv_bytes(_kpi(REF_RCVD={"kpi_code": ""})),
            [
                ("MISSING_VALUE", None, 2, "kpi_code"),
                ("KPI_MISSING", None, None, "kpi_code"),
            ],
        ),
        # --- PERIOD_MISMATCH
        Bad(
            "other-sla-in-rows",
            LC,
            csv_bytes(_ledger(r2={"sla_code": "can"})),
            [("PERIOD_MISMATCH", None, 2, "sla_code")],
        ),
        Bad(
            "other-year-and-period",
            LC,
            csv_bytes(_ledger(r2={"financial_year": "2022-23"}, r3={"period": "8"}, r4={"period": "P07"})),
            [
                ("PERIOD_MISMATCH", None, 2, "financial_year"),
                ("PERIOD_MISMATCH", None, 3, "period"),
                ("PERIOD_MISMATCH", None, 4, "period"),
            ],
        ),
        Bad(
            "posting-date-outside",
            LC,
            csv_bytes(_ledger(r2={"posting_date": "2021-11-01"}, r3={"posting_date": "30/09/2021"})),
            [("PERIOD_MISMATCH", None, 2, "posting_date"), ("PERIOD_MISMATCH", None, 3, "posting_date")],
        ),
        Bad(
            "p13-date-in-may",
            "LEDGER_SWA_2021-22_P13.csv",
            csv_bytes(
                [
                    r | {"period": "13", "posting_date": d}
                    for r, d in zip(ledger_rows(), ["2022-03-31", "2022-04-30", "2022-05-01"], strict=True)
                ]
            ),
            [("PERIOD_MISMATCH", None, 4, "posting_date")],
        ),
        Bad(
            "kpi-other-month",
            KC,
            csv_bytes(_kpi(LIFT_MTG={"month": "2022-11"})),
            [("PERIOD_MISMATCH", None, 5, "month")],
        ),
        # --- UNKNOWN_SLA
        Bad(
            "unknown-sla-in-rows",
            LC,
            csv_bytes(_ledger(r3={"sla_code": "XXX"})),
            [("UNKNOWN_SLA", None, 3, "sla_code")],
        ),
        # --- UNKNOWN_ACCOUNT
        Bad(
            "bare-and-unknown-accounts",
            LC,
            csv_bytes(
                _ledger(4, r2={"account_code": "E28"}, r3={"account_code": "i08"}, r4={"account_code": "E99"})
            ),
            [
                ("UNKNOWN_ACCOUNT", None, 2, "account_code"),
                ("UNKNOWN_ACCOUNT", None, 3, "account_code"),
                ("UNKNOWN_ACCOUNT", None, 4, "account_code"),
            ],
        ),
        Bad(
            "bare-e20-from-2024-25",
            "LEDGER_SWA_2024-25_P07.csv",
            csv_bytes(
                [
                    r | {"account_code": a}
                    for r, a in zip(ledger_rows(fy="2024-25", n=3), ["E20", "e20c", "I18a"], strict=True)
                ]
            ),
            [("UNKNOWN_ACCOUNT", None, 2, "account_code"), ("UNKNOWN_ACCOUNT", None, 4, "account_code")],
        ),
        Bad(
            "nil-beside-lines",
            LC,
            csv_bytes(_ledger(2, r3={"account_code": "Nil", "amount": "0"})),
            [("UNKNOWN_ACCOUNT", None, 3, "account_code")],
        ),
        # --- INVALID_FUND_STRAND
        Bad(
            "fund-strand",
            LC,
            csv_bytes(_ledger(r2={"fund_strand": "CAPITAL"}, r3={"fund_strand": "core outreach"})),
            [
                ("INVALID_FUND_STRAND", None, 2, "fund_strand"),
                ("INVALID_FUND_STRAND", None, 3, "fund_strand"),
            ],
        ),
        # --- INVALID_FLAG
        Bad(
            "flags",
            LC,
            csv_bytes(_ledger(r2={"is_overhead_recharge": "maybe"}, r4={"is_overhead_recharge": "2"})),
            [
                ("INVALID_FLAG", None, 2, "is_overhead_recharge"),
                ("INVALID_FLAG", None, 4, "is_overhead_recharge"),
            ],
        ),
        # --- AMOUNT_INVALID
        Bad(
            "amount-text-shapes",
            LC,
            csv_bytes(
                _ledger(
                    7,
                    r2={"amount": "+5"},
                    r3={"amount": "1.234,56"},
                    r4={"amount": "(1"},
                    r5={"amount": ""},
                    r6={"amount": "£"},
                    r7={"amount": "12.340"},
                    r8={"amount": "10,000,000.01"},
                )
            ),
            [("AMOUNT_INVALID", None, r, "amount") for r in range(2, 9)],
        ),
        Bad(
            "amount-fraction-of-a-penny-cell",
            LX,
            xlsx_bytes(_typed(_ledger(r3={"amount": Decimal("12.345")}))),
            [("AMOUNT_INVALID", L, 3, "amount")],
        ),
        Bad(
            "nil-with-amount",
            LC,
            csv_bytes(_ledger(1, r2={"account_code": "NIL", "amount": "5.00"})),
            [("AMOUNT_INVALID", None, 2, "amount")],
        ),
        # --- DATE_INVALID
        Bad(
            "dates",
            LC,
            csv_bytes(
                _ledger(
                    r2={"posting_date": "31/02/2022"},
                    r3={"posting_date": "2021/10/05"},
                    r4={"posting_date": "5 Oct 2021"},
                )
            ),
            [
                ("DATE_INVALID", None, 2, "posting_date"),
                ("DATE_INVALID", None, 3, "posting_date"),
                ("DATE_INVALID", None, 4, "posting_date"),
            ],
        ),
        Bad(
            "date-as-plain-number-cell",
            LX,
            xlsx_bytes(_typed(ledger_rows()), edit=_general_number("E2", 44474)),
            [("DATE_INVALID", L, 2, "posting_date")],
        ),
        Bad(
            "kpi-month-words",
            KC,
            csv_bytes(_kpi(ISS_NEW={"month": "Oct-22"})),
            [("DATE_INVALID", None, 9, "month")],
        ),
        # --- FORMULA_ERROR
        Bad(
            "error-cells",
            LX,
            xlsx_bytes(
                _typed(ledger_rows()),
                control=_good_control(),
                edit=lambda b, s: (_set("J2", "#REF!", "e")(b, s), _control("B2", "#N/A", "e")(b, s)),
            ),
            [("FORMULA_ERROR", L, 2, "amount"), ("FORMULA_ERROR", "Control", 2, "B")],
        ),
        # --- FORMULA_NOT_CALCULATED
        Bad(
            "formulas-without-values",
            LX,
            xlsx_bytes(
                _typed(ledger_rows()),
                control=_good_control(),
                edit=lambda b, s: (
                    _set("D3", '=CONCAT("L","3")')(b, s),
                    _control("B1", "=SUM(Ledger!J:J)")(b, s),
                ),
            ),
            [("FORMULA_NOT_CALCULATED", L, 3, "line_ref"), ("FORMULA_NOT_CALCULATED", "Control", 1, "B")],
        ),
        # --- MERGED_CELLS
        Bad(
            "merged-header",
            LX,
            _xlsx_edit(_merge("A1:B1")),  # merging keeps only A1: B1's name is gone
            [
                ("MERGED_CELLS", L, 1, "sla_code"),
                ("HEADER_MISMATCH", L, 1, "B"),
                ("HEADER_MISMATCH", L, 1, "financial_year"),
            ],
        ),
        Bad("merged-data", LX, _xlsx_edit(_merge("F3:F4")), [("MERGED_CELLS", L, 3, "cost_centre")]),
        # --- DUPLICATE_LINE
        Bad(
            "duplicate-line-ref",
            LC,
            csv_bytes(_ledger(4, r4={"line_ref": " L0001\u00a0"}, r5={"line_ref": "l0001"})),
            [("DUPLICATE_LINE", None, 4, "line_ref")],
        ),
        Bad(
            "duplicate-kpi",
            KC,
            csv_bytes([*kpi_rows(), kpi_rows()[0] | {"kpi_code": "ref_rcvd"}]),
            [("DUPLICATE_LINE", None, 18, "kpi_code")],
        ),
        # --- CONTROL_TOTAL_MISMATCH
        Bad(
            "control-wrong-total-and-count",
            LX,
            xlsx_bytes(_typed(ledger_rows()), control={"control_total": Decimal("3006.74"), "line_count": 4}),
            [("CONTROL_TOTAL_MISMATCH", "Control", 1, "B"), ("CONTROL_TOTAL_MISMATCH", "Control", 2, "B")],
        ),
        Bad(
            "control-missing-label",
            LX,
            xlsx_bytes(_typed(ledger_rows()), control={"Control_Total": "£3,006.75"}),
            [("CONTROL_TOTAL_MISMATCH", "Control", None, "A")],
        ),
        # --- UNKNOWN_KPI
        Bad(
            "unknown-kpi",
            KC,
            csv_bytes([*kpi_rows(), kpi_rows()[0] | {"kpi_code": "COMPLAINTS"}]),
            [("UNKNOWN_KPI", None, 18, "kpi_code")],
        ),
        # --- KPI_MISSING
        Bad(
            "kpi-missing",
            KC,
            csv_bytes([r for r in kpi_rows() if r["kpi_code"] not in ("TRN_ATT", "STAFF_FTE")]),
            [
                ("KPI_MISSING", None, None, "kpi_code"),
                ("KPI_MISSING", None, None, "kpi_code"),
            ],
        ),
        # --- VALUE_INVALID
        Bad(
            "kpi-values",
            KC,
            csv_bytes(
                _kpi(
                    REF_RCVD={"value": "4.5"},
                    FC_DAYS_MED={"value": "-1"},
                    FC_IN_TARGET={"value": "88.8"},
                    ISS_TGT_MET={"numerator": "6"},
                    TRN_EVAL={"value": "5.5"},
                    STAFF_FTE={"value": "8.605"},
                    LIFT_MTG={"numerator": "1"},
                    DROPIN_ATT={"value": ""},
                )
            ),
            [
                ("VALUE_INVALID", None, 2, "value"),
                ("VALUE_INVALID", None, 3, "value"),
                ("VALUE_INVALID", None, 4, "value"),
                ("VALUE_INVALID", None, 5, "numerator"),
                ("VALUE_INVALID", None, 8, "value"),
                ("VALUE_INVALID", None, 12, "numerator"),
                ("VALUE_INVALID", None, 15, "value"),
                ("VALUE_INVALID", None, 17, "value"),
            ],
        ),
        Bad(
            "percent-with-zero-denominator",
            KX,
            kpi_xlsx_bytes(_kpi(FC_IN_TARGET={"value": 0, "numerator": 0, "denominator": 0})),
            [("VALUE_INVALID", K, 4, "value")],
        ),
    ]
    return cases
