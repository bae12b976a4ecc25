"""Reading a return's bytes into a table of cells, safely: the public face of `reading`.

The file's type is decided from its bytes, never its name (`sniff`). A CSV is read by
`reading.csv_text`; a workbook by `reading.xlsx`, which takes each part through the fast
path (`reading.xlsx_fast`) when it is laid out as Excel writes it and streams it otherwise
(`reading.xlsx_stream`), inflating the zip entries itself (`reading.archive`). The three
ways of reading a worksheet give the same cells (tests/intake/test_fast_paths.py).
"""

from __future__ import annotations

from stls_warehouse.intake.reading.csv_text import read_csv
from stls_warehouse.intake.reading.grid import (
    ERROR_VALUES,
    MAX_CELL_CHARS,
    MAX_EXCEL_COLUMN,
    MAX_EXCEL_ROW,
    MAX_FILE_BYTES,
    MAX_XLSX_INFLATED_BYTES,
    MAX_ZIP_ENTRIES,
    TRIM,
    Grid,
    Workbook,
    cell_reference,
    column_letter,
    sniff,
)
from stls_warehouse.intake.reading.xlsx import declared_inflated_size, open_xlsx

__all__ = [
    "ERROR_VALUES",
    "MAX_CELL_CHARS",
    "MAX_EXCEL_COLUMN",
    "MAX_EXCEL_ROW",
    "MAX_FILE_BYTES",
    "MAX_XLSX_INFLATED_BYTES",
    "MAX_ZIP_ENTRIES",
    "TRIM",
    "Grid",
    "Workbook",
    "cell_reference",
    "column_letter",
    "declared_inflated_size",
    "open_xlsx",
    "read_csv",
    "sniff",
]
