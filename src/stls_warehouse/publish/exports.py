"""The files of a release, one writer per format, all holding the same rows in the same order.

Each table is sorted once (`order by all`) into its Parquet file; the CSV, DuckDB and XLSX
writers then read that file in its order (`in_file_order`, `ordered=True`) rather than sort
the table again. Every writer streams: DuckDB spills what does not fit its memory limit, and
the workbook is written row by row.

- Parquet: the contract's format, typed, decimals exact.
- CSV: UTF-8, comma separated, header row, ISO dates. Text that a spreadsheet would run as
  a formula (a value starting with =, +, -, @, tab or carriage return) is written with a
  leading apostrophe, the OWASP rule for CSV injection: Excel shows the apostrophe-less text
  and never evaluates it. Only text columns are touched; numbers (a negative amount is a
  number, not a formula) are written as they are.
- DuckDB: a database file in storage version v1.0.0 so that BI tools on any DuckDB 1.x driver
  can open it (DuckDB 2.0 writes v2.0.0 by default, which 1.x refuses).
- XLSX: one sheet per table for finance; headers frozen and filtered, money formatted, and
  every text cell written as text (never a formula), with Excel's quote prefix on values that
  look like formulas so that editing the cell keeps it text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

# Characters that make Excel, LibreOffice or Google Sheets treat a cell as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
CSV_FORMULA_GUARD = (
    "In CSV files, a text value that starts with =, +, -, @, a tab or a carriage return is "
    "written with a leading apostrophe (') so that spreadsheets show it as text and never run "
    "it as a formula; numeric columns are written unchanged."
)
# The same rule as a regular expression for DuckDB (RE2 reads \t and \r as tab and return).
FORMULA_PATTERN = r"^[=+\-@\t\r]"
DUCKDB_STORAGE_VERSION = "v1.0.0"  # readable by DuckDB 1.0 and every later release
DUCKDB_STORAGE_NUMBER = 64  # the version number DuckDB writes in the header for v1.0.0
XLSX_MAX_ROWS = 1_048_575  # Excel's sheet limit less the header row
# The files' layout: a release reuses an earlier release's file of an unchanged table only
# when that file was written under the same layout. Raise it whenever a writer changes.
EXPORT_LAYOUT = 1
# What a publishing connection may hold in memory; sorts beyond it spill to its temp folder.
MEMORY_LIMIT = "2GB"

_TEXT_TYPES = ("VARCHAR", "JSON", "UUID")
_MONEY = "#,##0.00;[Red]-#,##0.00"


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # DuckDB's type name, e.g. DECIMAL(18,2)

    @property
    def is_text(self) -> bool:
        return self.type in _TEXT_TYPES

    @property
    def decimal_places(self) -> int | None:
        match = re.fullmatch(r"DECIMAL\(\d+,(\d+)\)", self.type)
        return int(match.group(1)) if match else None


def connect_quietly(spill_to: Path | None = None) -> Any:
    """An in-memory DuckDB connection without the progress bar (it would fill task logs).

    With `spill_to`, the connection holds at most MEMORY_LIMIT and writes what a large sort
    needs beyond it to files in that folder.
    """
    import duckdb

    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    if spill_to is not None:
        con.execute(f"set temp_directory = {sql_string(str(spill_to))}")
        con.execute(f"set memory_limit = {sql_string(MEMORY_LIMIT)}")
    return con


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def columns_of(con: Any, relation: str) -> list[Column]:
    return [
        Column(str(r[0]), str(r[1])) for r in con.execute(f"describe select * from {relation}").fetchall()
    ]


def looks_like_formula(text: str) -> bool:
    return text.startswith(FORMULA_TRIGGERS)


def neutralise(text: str) -> str:
    """The CSV rule: a leading apostrophe on text a spreadsheet would evaluate."""
    return "'" + text if looks_like_formula(text) else text


def write_parquet(con: Any, relation: str, target: Path) -> None:
    """The table in its canonical order (`order by all`): the other formats follow this file."""
    con.execute(f"copy (select * from {relation} order by all) to {sql_string(str(target))} (format parquet)")


def in_file_order(con: Any, parquet: Path, columns: Sequence[Column]) -> str:
    """A relation reading a Parquet file written by `write_parquet`, in the file's row order.

    DuckDB keeps a file's order when it copies or creates from it, so the CSV, DuckDB and XLSX
    writers read the sorted Parquet file instead of sorting the table again. A column whose
    type does not survive Parquet (JSON, HUGEINT, ...) is cast back to the warehouse's type.
    """
    source = f"read_parquet({sql_string(str(parquet))})"
    stored = {c.name: c.type for c in columns_of(con, source)}
    select = ", ".join(
        quote_ident(c.name)
        if stored.get(c.name) == c.type
        else f"cast({quote_ident(c.name)} as {c.type}) as {quote_ident(c.name)}"
        for c in columns
    )
    return f"(select {select or '*'} from {source})"


def _ordered(relation: str, ordered: bool) -> str:
    return f"select * from {relation}" if ordered else f"select * from {relation} order by all"


def write_csv(
    con: Any, relation: str, columns: Sequence[Column], target: Path, *, ordered: bool = False
) -> None:
    """CSV with the formula guard applied to every text column, in SQL so it stays fast.

    `ordered`: the relation is already in its canonical order (`in_file_order`); otherwise
    it is sorted here.
    """
    select = ", ".join(
        (
            f"case when regexp_matches({quote_ident(c.name)}, {sql_string(FORMULA_PATTERN)}) "
            f"then '''' || {quote_ident(c.name)} else {quote_ident(c.name)} end as {quote_ident(c.name)}"
        )
        if c.is_text
        else quote_ident(c.name)
        for c in columns
    )
    con.execute(
        f"copy (select {select} from ({_ordered(relation, ordered)})) to {sql_string(str(target))} "
        "(format csv, header true, delimiter ',')"
    )


def write_duckdb(con: Any, relations: dict[str, str], target: Path, *, ordered: bool = False) -> None:
    """A new database file with one table per relation, checkpointed and detached (closed)."""
    con.execute(f"attach {sql_string(str(target))} as published (storage_version '{DUCKDB_STORAGE_VERSION}')")
    try:
        for table, relation in relations.items():
            con.execute(f"create table published.main.{quote_ident(table)} as {_ordered(relation, ordered)}")
        con.execute("checkpoint published")
    finally:
        con.execute("detach published")


def duckdb_storage_number(path: Path) -> int:
    """The storage version number in a DuckDB file's main header (64 = v1.0.0 up to 1.1)."""
    with path.open("rb") as handle:
        header = handle.read(24)
    if header[8:12] != b"DUCK":
        raise ValueError(f"{path} is not a DuckDB database file")
    return int.from_bytes(header[12:20], "little")


def sheet_names(tables: Iterable[str]) -> dict[str, str]:
    """Excel's 31-character sheet names: drop the `mart_` prefix, then cut, then number."""
    names: dict[str, str] = {}
    for table in tables:
        base = table.removeprefix("mart_")[:31]
        name, n = base, 2
        while name.lower() in {v.lower() for v in names.values()} or name.lower() == "contents":
            suffix = f"~{n}"
            name, n = base[: 31 - len(suffix)] + suffix, n + 1
        names[table] = name
    return names


_ILLEGAL_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def write_xlsx(
    con: Any,
    relations: dict[str, str],
    columns: dict[str, list[Column]],
    target: Path,
    title: str,
    *,
    ordered: bool = False,
) -> dict[str, str]:
    """The finance workbook: a contents sheet, then one sheet per table; returns sheet names.

    Written with XlsxWriter with `strings_to_formulas` off, so no text ever becomes a formula;
    a text value that looks like one also gets Excel's quote prefix. Excel stores numbers as
    binary doubles: amounts are exact in Parquet, CSV and DuckDB, and display to the penny here.
    """
    import xlsxwriter

    book = xlsxwriter.Workbook(
        str(target),
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    book.set_properties({"title": title, "author": "STLS finance warehouse", "created": datetime(2000, 1, 1)})
    bold = book.add_format({"bold": True})
    quoted = book.add_format({"quote_prefix": True})
    formats: dict[str, Any] = {}

    def style(number_format: str | None) -> Any:
        if number_format is None:
            return None
        if number_format not in formats:
            formats[number_format] = book.add_format({"num_format": number_format})
        return formats[number_format]

    names = sheet_names(relations)
    counts = {t: int(con.execute(f"select count(*) from {r}").fetchone()[0]) for t, r in relations.items()}
    # A table longer than an Excel sheet is listed on the contents sheet but not written:
    # finance reads it from the Parquet, CSV or DuckDB release instead.
    too_long = {t for t, n in counts.items() if n > XLSX_MAX_ROWS}
    contents = book.add_worksheet("Contents")
    contents.set_column(0, 0, 40)
    contents.set_column(1, 1, 34)
    contents.set_column(2, 2, 12)
    contents.write_string(0, 0, title, bold)
    for col, label in enumerate(("table", "sheet", "rows")):
        contents.write_string(1, col, label, bold)
    for row, table in enumerate(relations, start=2):
        contents.write_string(row, 0, table)
        contents.write_string(
            row,
            1,
            "too long for Excel: use the Parquet, CSV or DuckDB file" if table in too_long else names[table],
        )
        contents.write_number(row, 2, counts[table])

    for table, relation in relations.items():
        cols = columns[table]
        if table in too_long:
            continue
        sheet = book.add_worksheet(names[table])
        sheet.freeze_panes(1, 0)
        for index, column in enumerate(cols):
            sheet.set_column(index, index, max(12, min(40, len(column.name) + 4)))
            sheet.write_string(0, index, column.name, bold)
        if cols:
            sheet.autofilter(0, 0, counts[table], len(cols) - 1)
        writers = [_cell_writer(sheet, style(_number_format(c)), quoted) for c in cols]
        result = con.execute(_ordered(relation, ordered))  # streamed, 10,000 rows at a time
        row = 1
        while batch := result.fetchmany(10_000):
            for values in batch:
                for index, value in enumerate(values):
                    if value is not None:
                        writers[index](row, index, value)
                row += 1
    book.close()
    return {t: name for t, name in names.items() if t not in too_long}


def _number_format(column: Column) -> str | None:
    places = column.decimal_places
    if places == 2:
        return _MONEY
    if places is not None:
        return "#,##0." + "0" * places if places else "#,##0"
    if column.type == "DATE":
        return "yyyy-mm-dd"
    if column.type.startswith("TIMESTAMP"):
        return "yyyy-mm-dd hh:mm:ss"
    return None


def _cell_writer(sheet: Any, number_style: Any, quoted: Any) -> Any:
    """One writer per column: text stays text, numbers and dates get the column's format."""

    def write(row: int, col: int, value: Any) -> None:
        if isinstance(value, str):
            text = _ILLEGAL_XLSX.sub("\ufffd", value)
            sheet.write_string(row, col, text, quoted if looks_like_formula(text) else None)
        elif isinstance(value, bool):
            sheet.write_boolean(row, col, value)
        elif isinstance(value, (int, float, Decimal)):
            sheet.write_number(row, col, value, number_style)
        elif isinstance(value, datetime):
            sheet.write_datetime(row, col, value.replace(tzinfo=None), number_style)
        elif isinstance(value, date):
            sheet.write_datetime(row, col, datetime.combine(value, time()), number_style)
        else:
            sheet.write_string(row, col, str(value))

    return write
