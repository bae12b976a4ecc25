"""Return files made by code, valid by default, for tests to break one thing at a time."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from stls_warehouse.decisions import Decision
from stls_warehouse.intake.schema import KPI, LEDGER

KPI_VALUES: dict[str, tuple[str, str, str]] = {
    # code: (value, numerator, denominator)
    "REF_RCVD": ("42", "", ""),
    "FC_DAYS_MED": ("7.5", "", ""),
    "FC_IN_TARGET": ("88.9", "32", "36"),
    "LIFT_MTG": ("4", "", ""),
    "LIFT_CASES": ("30", "", ""),
    "DROPIN_SESS": ("3", "", ""),
    "DROPIN_ATT": ("18", "", ""),
    "ISS_NEW": ("6", "", ""),
    "ISS_OPEN": ("40", "", ""),
    "ISS_CLOSED": ("5", "", ""),
    "ISS_TGT_MET": ("80.0", "4", "5"),
    "TRN_SESS": ("5", "", ""),
    "TRN_ATT": ("90", "", ""),
    "TRN_EVAL": ("4.45", "", ""),
    "EHCNA_REQ": ("21", "", ""),
    "STAFF_FTE": ("8.60", "", ""),
}


def ledger_rows(sla: str = "SWA", fy: str = "2021-22", period: int = 7, n: int = 3) -> list[dict[str, Any]]:
    month = {7: "10", 1: "04", 12: "03", 13: "03"}.get(period, f"{(period + 2) % 12 + 1:02d}")
    year = fy[:4] if period <= 9 else str(int(fy[:4]) + 1)
    accounts = ["E01", "E03", "E08", "E19", "E28a"]
    return [
        {
            "sla_code": sla,
            "financial_year": fy,
            "period": str(period),
            "line_ref": f"L{i:04d}",
            "posting_date": f"{year}-{month}-{(i % 28) + 1:02d}",
            "cost_centre": f"{sla}-CORE",
            "account_code": accounts[i % len(accounts)],
            "fund_strand": "CORE",
            "description": f"Line {i}",
            "amount": f"{1000 + i}.25",
            "is_overhead_recharge": "N",
        }
        for i in range(1, n + 1)
    ]


def kpi_rows(sla: str = "THA", month: str = "2022-10") -> list[dict[str, Any]]:
    return [
        {
            "sla_code": sla,
            "month": month,
            "kpi_code": code,
            "value": v,
            "numerator": n,
            "denominator": d,
            "comment": "",
        }
        for code, (v, n, d) in KPI_VALUES.items()
    ]


def csv_bytes(
    rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None, *, bom: bool = False
) -> bytes:
    columns = list(columns or (rows[0].keys() if rows else LEDGER.columns))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode("utf-8")


def xlsx_bytes(
    rows: Sequence[dict[str, Any]],
    *,
    sheet: str = LEDGER.sheet,
    columns: Sequence[str] | None = None,
    control: dict[str, Any] | None = None,
    edit: Any = None,
) -> bytes:
    """An XLSX return; `edit(workbook, table_sheet)` may break it before saving."""
    from openpyxl import Workbook

    columns = list(columns or (rows[0].keys() if rows else LEDGER.columns))
    book = Workbook()
    table = book.active
    table.title = sheet
    table.append(columns)
    for row in rows:
        table.append([row.get(c) if row.get(c) != "" else None for c in columns])
    if control is not None:
        ctl = book.create_sheet("Control")
        for label, value in control.items():
            ctl.append([label, value])
    if edit is not None:
        edit(book, table)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def kpi_xlsx_bytes(rows: Sequence[dict[str, Any]], **kwargs: Any) -> bytes:
    return xlsx_bytes(rows, sheet=KPI.sheet, columns=KPI.columns, **kwargs)


def a_decision(kind: str = "sign_off", **overrides: object) -> Decision:
    """A decision of the returns service, valid by default: an approver's sign-off of SWA's
    October 2021 ledger (an explanation answers the payroll rule)."""
    fields: dict[str, object] = {
        "kind": kind,
        "sla_code": "SWA",
        "return_type": "ledger",
        "period_key": "2021-22-P07",
        "actor": "approver.swa@example.org",
        "actor_role": "school_approver",
        "text": "I declare this return a true record.",
        "file_sha256": "ab" * 32,
        "decided_at": datetime(2021, 11, 3, 9, 30, tzinfo=UTC),
    }
    if kind == "explanation":
        fields["rule"] = "payroll_every_month"
    return Decision(**{**fields, **overrides})  # type: ignore[arg-type]
