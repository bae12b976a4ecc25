"""Feedback from intake: a rejection report a school can act on, and a per-period summary of
who has submitted what for the council's finance officer.

Every report written here is safe to open in Excel: XLSX cells holding text are written as
text (a school's "=HYPERLINK(...)" stays a string, never a formula) and CSV cells that
Excel would read as a formula (text starting with = + - @) are prefixed with an apostrophe.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stls_warehouse import reference
from stls_warehouse.files import UMASK_MODE, write_atomically

if TYPE_CHECKING:
    import duckdb

    from stls_warehouse.intake.problems import ProblemDict
    from stls_warehouse.intake.stage import StagedOutcome

_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
REPORT_COLUMNS = ("#", "code", "sheet", "cell", "row", "column", "value found", "expected", "what to do")


# --- safe writers ------------------------------------------------------------------------


def safe_text(value: Any) -> Any:
    """A value as it may go into an XLSX cell: text without characters XML cannot hold."""
    if isinstance(value, str):
        return _ILLEGAL_XML.sub("\ufffd", value)
    return value


def csv_safe(value: Any) -> str:
    """A CSV cell Excel will not evaluate: formula-like text gets a leading apostrophe."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def write_xlsx(path: Path, sheets: Sequence[tuple[str, Sequence[Sequence[Any]]]]) -> None:
    """Write rows to sheets; strings are always stored as text, never as formulas."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets:
        sheet = book.create_sheet(title[:31])
        widths: dict[int, int] = {}
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row, start=1):
                if value is None or value == "":
                    continue
                cell = sheet.cell(row=r, column=c, value=safe_text(value))
                if isinstance(value, str):
                    cell.data_type = "s"  # text that looks like a formula stays text
                widths[c] = max(widths.get(c, 0), min(len(str(value)), 80))
        if rows:
            for c in range(1, len(rows[0]) + 1):
                sheet.cell(row=1, column=c).font = Font(bold=True)
        for c, width in widths.items():
            sheet.column_dimensions[_letter(c)].width = max(8, width + 2)
        sheet.freeze_panes = "A2"
    _atomic_write(path, _save(book))


def write_csv(path: Path, rows: Sequence[Sequence[Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows([csv_safe(value) for value in row] for row in rows)
    _atomic_write(path, buffer.getvalue().encode("utf-8"))


def _save(book: Any) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _letter(column: int) -> str:
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(column))


def _atomic_write(path: Path, data: bytes) -> None:
    write_atomically(path, data, mode=UMASK_MODE)


# --- the rejection report ----------------------------------------------------------------


def rejection_rows(problems: Sequence[ProblemDict]) -> list[list[Any]]:
    """A staged outcome's problems (its errors or its warnings) as the report's table (header first)."""
    rows: list[list[Any]] = [list(REPORT_COLUMNS)]
    for number, problem in enumerate(problems, start=1):
        rows.append(
            [
                number,
                problem.get("code"),
                problem.get("sheet"),
                problem.get("cell"),
                problem.get("row"),
                problem.get("column"),
                problem.get("value"),
                problem.get("expected"),
                problem.get("message"),
            ]
        )
    return rows


def write_rejection_report(folder: Path, record: StagedOutcome, received_at: datetime) -> None:
    """`rejection.json` (the full outcome) and `rejection.xlsx` (for the school) in `folder`."""
    report = dict(record) | {"received_at": received_at.isoformat(), "status": "REJECTED"}
    _atomic_write(folder / "rejection.json", json.dumps(report, indent=1).encode("utf-8"))
    about: list[list[Any]] = [
        ["", ""],
        ["file", record["file"]],
        ["received", received_at.strftime("%Y-%m-%d %H:%M UTC")],
        ["return", record.get("return_type") or "unknown"],
        ["SLA", record.get("sla_code") or "unknown"],
        ["period", record.get("period_key") or "unknown"],
        ["outcome", "REJECTED: nothing from this file was loaded"],
        ["problems", len(record["errors"])],
        ["what to do", "Correct every problem listed on the Problems sheet, then send the whole file again."],
    ]
    sheets: list[tuple[str, Sequence[Sequence[Any]]]] = [
        ("Problems", rejection_rows(record["errors"])),
        ("About", about),
    ]
    warnings = record.get("warnings") or []
    if warnings:
        sheets.append(("Warnings", rejection_rows(warnings)))
    write_xlsx(folder / "rejection.xlsx", sheets)


# --- the per-period submission summary ---------------------------------------------------

SUMMARY_COLUMNS = (
    "return_type",
    "period_key",
    "sla_code",
    "holder",
    "status",
    "current_version",
    "current_file",
    "current_received_at",
    "lines",
    "amount_total",
    "files_received",
    "rejected_files",
    "duplicate_files",
    "last_rejected_file",
    "last_rejected_errors",
)


@dataclass
class _Entry:
    return_type: str
    period_key: str
    sla_code: str
    rows: list[tuple[Any, ...]]

    def summary(self) -> list[Any]:
        accepted = [r for r in self.rows if r[3] == "ACCEPTED"]
        rejected = [r for r in self.rows if r[3] == "REJECTED"]
        duplicates = [r for r in self.rows if r[3] == "DUPLICATE"]
        current = max(accepted, key=lambda r: r[6]) if accepted else None
        last_rejected = max(rejected, key=lambda r: r[5]) if rejected else None
        if current is not None:
            status = "ACCEPTED"
            if last_rejected is not None and last_rejected[5] > current[5]:
                status = "ACCEPTED (a later file was rejected)"
        elif rejected:
            status = "REJECTED"
        else:
            status = "MISSING"
        holder = reference.slas()[self.sla_code].holder_school if self.sla_code in reference.slas() else ""
        return [
            self.return_type,
            self.period_key,
            self.sla_code,
            holder,
            status,
            current[6] if current else None,
            current[4] if current else None,
            _when(current[5]) if current else None,
            current[7] if current else None,
            str(current[8]) if current and current[8] is not None else None,
            len(self.rows),
            len(rejected),
            len(duplicates),
            last_rejected[4] if last_rejected else None,
            last_rejected[9] if last_rejected else None,
        ]


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else str(value)


def submission_summary(con: duckdb.DuckDBPyConnection) -> tuple[list[list[Any]], list[list[Any]]]:
    """(one row per return type, period and SLA; files whose SLA or period is unknowable)."""
    rows = con.execute(
        "select return_type, period_key, sla_code, status, original_name, received_at, version, "
        "line_count, amount_total, error_count from raw.submissions"
    ).fetchall()
    slas = list(reference.slas())
    periods = sorted({(r[0], r[1]) for r in rows if r[0] and r[1]}, key=lambda k: (k[0], k[1]), reverse=True)
    grouped: dict[tuple[str, str, str], list[tuple[Any, ...]]] = {}
    unknown: list[list[Any]] = []
    for row in rows:
        if row[0] and row[1] and row[2]:
            grouped.setdefault((row[0], row[1], row[2]), []).append(row)
        else:
            unknown.append([row[4], _when(row[5]), row[3], row[9]])
    table = [
        _Entry(rt, period, sla, grouped.get((rt, period, sla), [])).summary()
        for rt, period in periods
        for sla in slas
    ]
    return table, sorted(unknown, key=lambda r: r[1])


def write_submission_summary(
    con: duckdb.DuckDBPyConnection, folder: Path, generated_at: datetime
) -> list[Path]:
    """CSV, XLSX and HTML of the per-period summary in `folder`; returns the paths written."""
    table, unknown = submission_summary(con)
    header = list(SUMMARY_COLUMNS)
    unknown_header = ["file", "received_at", "status", "errors"]
    csv_path, xlsx_path, html_path = (folder / f"submission_summary.{ext}" for ext in ("csv", "xlsx", "html"))
    write_csv(csv_path, [header, *table])
    sheets: list[tuple[str, Sequence[Sequence[Any]]]] = [("Submissions", [header, *table])]
    if unknown:
        sheets.append(("Unidentified files", [unknown_header, *unknown]))
    write_xlsx(xlsx_path, sheets)
    _atomic_write(html_path, _html(table, unknown, generated_at).encode("utf-8"))
    return [csv_path, xlsx_path, html_path]


def _html(table: list[list[Any]], unknown: list[list[Any]], generated_at: datetime) -> str:
    shown = (
        "sla_code",
        "holder",
        "status",
        "current_version",
        "current_file",
        "current_received_at",
        "lines",
        "amount_total",
        "rejected_files",
        "last_rejected_file",
        "last_rejected_errors",
    )
    index = [SUMMARY_COLUMNS.index(c) for c in shown]
    out = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>STLS returns received</title><style>",
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}",
        "td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left}",
        ".MISSING{background:#fde2e1}.REJECTED{background:#fff1c2}.ACCEPTED{background:#e3f4e1}",
        "</style></head><body>",
        "<h1>STLS returns received, by period</h1>",
        f"<p>As recorded in the submission ledger at {html.escape(_when(generated_at))} UTC. "
        "ACCEPTED: the current version is in the warehouse; REJECTED: only rejected files so far "
        "(the school has the rejection report); MISSING: nothing received.</p>",
    ]
    periods: dict[tuple[str, str], list[list[Any]]] = {}
    for row in table:
        periods.setdefault((row[0], row[1]), []).append(row)
    for (return_type, period), rows in periods.items():
        counts = {
            s: sum(1 for r in rows if str(r[4]).startswith(s)) for s in ("ACCEPTED", "REJECTED", "MISSING")
        }
        title = f"{'Ledger' if return_type == 'ledger' else 'KPI'} {period}"
        out.append(
            f"<h2>{html.escape(title)}</h2><p>{counts['ACCEPTED']} accepted, {counts['REJECTED']} "
            f"rejected, {counts['MISSING']} missing.</p><table><tr>"
            + "".join(f"<th>{html.escape(c)}</th>" for c in shown)
            + "</tr>"
        )
        for row in rows:
            css = str(row[4]).split(" ")[0]
            cells = "".join(f"<td>{html.escape('' if row[i] is None else str(row[i]))}</td>" for i in index)
            out.append(f"<tr class='{css}'>{cells}</tr>")
        out.append("</table>")
    if unknown:
        out.append("<h2>Files whose SLA or period could not be read</h2><table><tr>")
        out.append("".join(f"<th>{c}</th>" for c in ("file", "received_at", "status", "errors")) + "</tr>")
        for row in unknown:
            out.append("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>")
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out)
