"""Reading a CSV return: UTF-8, comma-separated, double-quote quoting; nothing guessed."""

from __future__ import annotations

import csv
import io

from stls_warehouse.intake.problems import Code, ReturnUnreadable
from stls_warehouse.intake.reading.grid import TRIM, Grid, is_encrypted_ole, sniff
from stls_warehouse.intake.values import Cell


def read_csv(data: bytes) -> Grid:
    kind = sniff(data)
    if kind == "ole" and is_encrypted_ole(data):
        raise ReturnUnreadable(
            Code.ENCRYPTED,
            "This is a password-protected Excel file named .csv; save the return as CSV UTF-8 "
            "without a password.",
        )
    if kind != "text":
        held = "an Excel workbook (zip)" if kind == "zip" else "an old Excel (OLE) file"
        raise ReturnUnreadable(
            Code.FILE_UNREADABLE,
            f"This file is named .csv but holds {held}; save it as 'CSV UTF-8 (Comma delimited)' "
            "or send it named .xlsx.",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReturnUnreadable(
            Code.ENCODING_INVALID,
            f"The file is not valid UTF-8 (byte {exc.start + 1} cannot be read); in Excel use "
            "Save As > 'CSV UTF-8 (Comma delimited)'.",
        ) from None
    rows: dict[int, dict[int, Cell]] = {}
    ragged: list[tuple[int, int]] = []
    cells: dict[str, Cell] = {}  # one Cell per distinct text: codes and dates recur on every line
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header_width: int | None = None
    line = 1
    try:
        for record in reader:
            start_line = line  # a record spanning lines counts from its first line
            line = reader.line_num + 1
            values = [value.strip(TRIM) for value in record]
            if not any(values):
                continue
            if header_width is None:
                header_width = len(record)
            elif len(record) != header_width:
                ragged.append((start_line, len(record)))
            row: dict[int, Cell] = {}
            for index, value in enumerate(values):
                if value:
                    cell = cells.get(value)
                    if cell is None:
                        cell = cells[value] = Cell("text", value)
                    row[index] = cell
            rows[start_line] = row
    except csv.Error as exc:
        raise ReturnUnreadable(
            Code.FILE_UNREADABLE,
            f"The CSV cannot be read near line {reader.line_num}: {exc}. Check that every double "
            'quote that opens a value also closes it, and that quotes inside a value are doubled ("").',
        ) from None
    return Grid(sheet=None, rows=rows, ragged_rows=ragged, header_width=header_width)
