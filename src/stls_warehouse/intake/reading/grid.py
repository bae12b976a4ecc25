"""The reader's shared shapes and limits: a sheet as rows of cells, Excel's grid, and what
the bytes are."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from stls_warehouse.intake.values import Cell

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_XLSX_INFLATED_BYTES = 200 * 1024 * 1024
MAX_ZIP_ENTRIES = 5000  # a workbook has tens of parts; more is not a workbook
MAX_CELL_CHARS = 32767  # Excel's own limit for one cell's text
MAX_EXCEL_ROW = 1_048_576
MAX_EXCEL_COLUMN = 16_384
TRIM = " \t\u00a0"

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"
VBA_CONTENT_TYPE = "application/vnd.ms-office.vbaproject"
ERROR_VALUES = frozenset(
    {
        "#REF!",
        "#DIV/0!",
        "#N/A",
        "#VALUE!",
        "#NAME?",
        "#NUM!",
        "#NULL!",
        "#SPILL!",
        "#CALC!",
        "#GETTING_DATA",
    }
)
# Built-in number formats that Excel shows as dates or times.
DATE_FORMAT_IDS = frozenset(
    {14, 15, 16, 17, 18, 19, 20, 21, 22, *range(27, 37), *range(45, 48), *range(50, 59)}
)
FORMAT_LITERALS = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.')
CELL_REF = re.compile(r"^([A-Z]{1,3})([1-9]\d{0,6})$")
# What Excel writes in a numeric <v>: a finite decimal, perhaps with a small exponent.
NUMBER = re.compile(r"^-?(?:\d{1,20}(?:\.\d{0,20})?|\.\d{1,20})(?:[eE][-+]?\d{1,3})?$")
CHUNK_IN = 1 << 16
CHUNK_OUT = 1 << 20


@dataclass
class Grid:
    """A sheet (or a CSV) as rows of cells: {row number: {column index (0-based): Cell}}."""

    sheet: str | None
    rows: dict[int, dict[int, Cell]]
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)  # r1, c1, r2, c2
    hidden: bool = False
    ragged_rows: list[tuple[int, int]] = field(default_factory=list)  # CSV: (row, field count)
    header_width: int | None = None  # CSV: fields in the header record


@dataclass
class Workbook:
    sheets: dict[str, Grid]  # by the sheet's name as written


def column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def cell_reference(row: int | None, column_index: int | None) -> str | None:
    """`J7` for row 7, column index 9; None when either is unknown."""
    if row is None or column_index is None:
        return None
    return f"{column_letter(column_index)}{row}"


def column_index_of(letters: str) -> int:
    index = 0
    for char in letters:
        index = index * 26 + (ord(char) - 64)
    return index - 1


def sniff(data: bytes) -> str:
    """What the bytes are: ole, zip or text."""
    if data.startswith(OLE_MAGIC):
        return "ole"
    if data.startswith(ZIP_MAGIC) or data.startswith(EMPTY_ZIP_MAGIC):
        return "zip"
    return "text"


def is_encrypted_ole(data: bytes) -> bool:
    """An Office file encrypted to open is an OLE container holding an EncryptedPackage stream."""
    return "EncryptedPackage".encode("utf-16-le") in data
