"""Write returns in the contract's own format (spec/returns.md, version 1).

One writer serves the synthetic-data generator, the blank templates and any test that
needs a return on disk, so every file the project produces has the same shape: columns
in schema order, the XLSX table on its named sheet with the header in row 1, an optional
`Control` sheet of label/value pairs in columns A and B.

Output is byte-deterministic: the same rows give the same bytes on every run and machine
(fixed workbook timestamps, fixed zip entry times). That lets the generator leave an
unchanged file alone, so re-runs are cheap and file modification times, which decide
which return supersedes which, stay put.

Rows are mappings from column name to an already-formatted cell. For CSV that is text
(other values are written with `str`, dates as ISO, booleans as TRUE/FALSE, None empty).
For XLSX a cell may also be a native value: int, float or Decimal (numeric cell),
date/datetime (date cell), bool (Excel boolean) or None (empty cell). A text cell that
starts with "=" (or + - @) is stored as text, never as a formula.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from stls_warehouse.files import UMASK_MODE, write_atomically
from stls_warehouse.intake.contract import CONTROL_SHEET, KPI, LEDGER, ReturnContract

Cell = str | int | float | Decimal | date | datetime | bool | None
Row = Mapping[str, Cell]

# Constant stamps: the workbook's core properties and every zip entry carry these, so
# two renderings of the same rows are identical byte for byte.
_FIXED_TIMESTAMP = datetime(2021, 4, 1)
_ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
_CREATOR = "stls_warehouse"
NOTES_SHEET = "Notes"


def write_ledger(
    path: Path | str,
    rows: Iterable[Row],
    *,
    control: bool | Mapping[str, Cell] = False,
    bom: bool = False,
) -> Path:
    """Write a ledger return, CSV or XLSX by the path's suffix.

    `control=True` adds a Control sheet whose `control_total` is the sum of the amount
    cells (which must then be numbers) and `line_count` the number of rows; a mapping
    writes its label/value pairs verbatim (a template, or a deliberately wrong total).
    """
    path = Path(path)
    data = render_ledger(_suffix(path), rows, control=control, bom=bom)
    write_if_changed(path, data)
    return path


def write_kpi(path: Path | str, rows: Iterable[Row], *, bom: bool = False) -> Path:
    """Write a KPI return, CSV or XLSX by the path's suffix."""
    path = Path(path)
    write_if_changed(path, render_kpi(_suffix(path), rows, bom=bom))
    return path


def render_ledger(
    suffix: str,
    rows: Iterable[Row],
    *,
    control: bool | Mapping[str, Cell] = False,
    bom: bool = False,
) -> bytes:
    """The bytes `write_ledger` would write for a file with this suffix."""
    rows = list(rows)
    control_pairs: Sequence[tuple[str, Cell]] = ()
    if isinstance(control, Mapping):
        control_pairs = tuple(control.items())
    elif control:
        control_pairs = (
            ("control_total", _sum_amounts(rows)),
            ("line_count", len(rows)),
        )
    return render_table(suffix, LEDGER, rows, control=control_pairs, bom=bom)


def render_kpi(suffix: str, rows: Iterable[Row], *, bom: bool = False) -> bytes:
    """The bytes `write_kpi` would write for a file with this suffix."""
    return render_table(suffix, KPI, rows, bom=bom)


def render_table(
    suffix: str,
    schema: ReturnContract,
    rows: Iterable[Row],
    *,
    columns: Sequence[str] | None = None,
    control: Sequence[tuple[str, Cell]] = (),
    bom: bool = False,
    notes: Sequence[Sequence[Cell]] = (),
) -> bytes:
    """Render rows of one return type; `columns` overrides the schema's order.

    `notes` (XLSX only) adds a `Notes` sheet of rows; the validator ignores it.
    """
    columns = tuple(columns or schema.columns)
    table = [_ordered(row, columns) for row in rows]
    suffix = suffix.lower().lstrip(".")
    if suffix == "csv":
        if control or notes:
            raise ValueError("a CSV return cannot carry a Control or Notes sheet")
        return _render_csv(columns, table, bom=bom)
    if suffix == "xlsx":
        return _render_xlsx(schema.sheet, columns, table, control, notes)
    raise ValueError(f"returns are written as .csv or .xlsx, not .{suffix}")


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write `data` unless the file already holds exactly these bytes; True if written.

    The write goes through a temporary file and a rename so that a reader (the intake
    scanning the landing folder) never sees half a file.
    """
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    write_atomically(path, data, mode=UMASK_MODE)
    return True


def _suffix(path: Path) -> str:
    return path.suffix.lower().lstrip(".")


def _ordered(row: Row, columns: Sequence[str]) -> list[Cell]:
    unknown = set(row) - set(columns)
    if unknown:
        raise ValueError(f"columns not in the return's schema: {sorted(unknown)}")
    return [row.get(column) for column in columns]


def _sum_amounts(rows: Sequence[Row]) -> Decimal:
    total = Decimal("0.00")
    for row in rows:
        amount = row.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int | float | Decimal):
            raise ValueError("control=True needs numeric amount cells; pass the totals instead")
        total += Decimal(repr(amount)) if isinstance(amount, float) else Decimal(amount)
    return total.quantize(Decimal("0.01"))


def _csv_text(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, str):
        return cell
    if isinstance(cell, bool):
        return "TRUE" if cell else "FALSE"
    if isinstance(cell, datetime):
        return cell.isoformat(sep=" ")
    if isinstance(cell, date):
        return cell.isoformat()
    return str(cell)


def _render_csv(columns: Sequence[str], table: Sequence[Sequence[Cell]], *, bom: bool) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(columns)
    writer.writerows([_csv_text(cell) for cell in row] for row in table)
    return ("\ufeff" if bom else "").encode() + buffer.getvalue().encode("utf-8")


def _render_xlsx(
    sheet: str,
    columns: Sequence[str],
    table: Sequence[Sequence[Cell]],
    control: Sequence[tuple[str, Cell]],
    notes: Sequence[Sequence[Cell]] = (),
) -> bytes:
    # Imported here: openpyxl is slow to import and CSV-only callers never need it.
    from openpyxl import Workbook
    from openpyxl.writer.excel import ExcelWriter

    workbook = Workbook()
    worksheet = workbook.active
    worksheet.title = sheet
    _put_row(worksheet, 1, columns)
    for number, row in enumerate(table, start=2):
        _put_row(worksheet, number, row)
    if control:
        control_sheet = workbook.create_sheet(CONTROL_SHEET)
        for number, pair in enumerate(control, start=1):
            _put_row(control_sheet, number, pair)
    if notes:
        notes_sheet = workbook.create_sheet(NOTES_SHEET)
        for number, note in enumerate(notes, start=1):
            _put_row(notes_sheet, number, note)

    properties = workbook.properties
    properties.creator = _CREATOR
    properties.created = properties.modified = _FIXED_TIMESTAMP
    raw = io.BytesIO()
    # ExcelWriter directly, not Workbook.save: save() stamps `modified` with the clock.
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(workbook, archive).save()
    return _restamp_zip(raw.getvalue())


def _put_row(worksheet: Any, row: int, values: Sequence[Cell]) -> None:
    for column, value in enumerate(values, start=1):
        if value is None:
            continue
        cell = worksheet.cell(row=row, column=column, value=value)
        if isinstance(value, str):
            cell.data_type = "s"  # text stays text: "=...", "+...", "@..." are never formulas


def _restamp_zip(data: bytes) -> bytes:
    """Rewrite the archive with fixed entry times; openpyxl stamps entries with the clock."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_DATE_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.create_system = 0
            entry.external_attr = 0
            target.writestr(entry, source.read(info))
    return out.getvalue()
