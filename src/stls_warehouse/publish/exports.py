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

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stls_warehouse.catalog import UNIT_KINDS, TableDoc, table_doc
from stls_warehouse.files import atomic_path
from stls_warehouse.sql import quote_ident, sql_string

if TYPE_CHECKING:
    import duckdb

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
EXPORT_LAYOUT = 2  # 2: Parquet files carry the catalogue's descriptions
# What a publishing connection may hold in memory; sorts beyond it spill to its temp folder.
MEMORY_LIMIT = "2GB"
PARQUET_BATCH_ROWS = 122_880  # DuckDB's row group size: one Parquet row group per batch

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


def connect_quietly(spill_to: Path | None = None) -> duckdb.DuckDBPyConnection:
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


def columns_of(con: duckdb.DuckDBPyConnection, relation: str) -> list[Column]:
    return [
        Column(str(r[0]), str(r[1])) for r in con.execute(f"describe select * from {relation}").fetchall()
    ]


def looks_like_formula(text: str) -> bool:
    return text.startswith(FORMULA_TRIGGERS)


def neutralise(text: str) -> str:
    """The CSV rule: a leading apostrophe on text a spreadsheet would evaluate."""
    return "'" + text if looks_like_formula(text) else text


def write_parquet(
    con: duckdb.DuckDBPyConnection, relation: str, target: Path, doc: TableDoc | None = None
) -> None:
    """The table in its canonical order (`order by all`): the other formats follow this file.

    Streamed from DuckDB as Arrow batches into pyarrow's writer, which keeps the
    documentation BI tools read: each field's description, kind and header in the Arrow field
    metadata, and the table's description (and every column's, as JSON) in the file's
    key-value metadata, which DuckDB's `parquet_kv_metadata()` shows too.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    reader = con.sql(f"select * from {relation} order by all").to_arrow_reader(PARQUET_BATCH_ROWS)
    schema = described_schema(reader.schema, doc)
    with pq.ParquetWriter(str(target), schema, compression="snappy") as writer:
        for batch in reader:
            if batch.num_rows:
                writer.write_batch(pa.RecordBatch.from_arrays(batch.columns, schema=schema))


def described_schema(schema: Any, doc: TableDoc | None) -> Any:
    """An Arrow schema with the catalogue's description, kind and header on every field."""
    import pyarrow as pa

    if doc is None:
        return schema
    fields = []
    columns: dict[str, dict[str, str]] = {}
    for field in schema:
        column = doc.column(field.name)
        entry = {"description": column.description, "kind": column.kind, "label": column.label}
        columns[field.name] = entry
        fields.append(
            field.with_metadata(
                {**(field.metadata or {}), **{k.encode(): v.encode() for k, v in entry.items()}}
            )
        )
    metadata = {
        **(schema.metadata or {}),
        b"table": doc.name.encode(),
        b"description": doc.description.encode(),
        b"columns": json.dumps(columns, sort_keys=True).encode(),
    }
    return pa.schema(fields, metadata=metadata)


def in_file_order(con: duckdb.DuckDBPyConnection, parquet: Path, columns: Sequence[Column]) -> str:
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
    con: duckdb.DuckDBPyConnection,
    relation: str,
    columns: Sequence[Column],
    target: Path,
    *,
    ordered: bool = False,
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


def write_duckdb(
    con: duckdb.DuckDBPyConnection, relations: dict[str, str], target: Path, *, ordered: bool = False
) -> None:
    """A new database file with one table per relation, checkpointed and detached (closed)."""
    con.execute(f"attach {sql_string(str(target))} as published (storage_version '{DUCKDB_STORAGE_VERSION}')")
    try:
        for table, relation in relations.items():
            con.execute(f"create table published.main.{quote_ident(table)} as {_ordered(relation, ordered)}")
            _comment_duckdb(con, f"published.main.{quote_ident(table)}", table_doc(table))
        con.execute("checkpoint published")
    finally:
        con.execute("detach published")


def _comment_duckdb(con: duckdb.DuckDBPyConnection, qualified: str, doc: TableDoc) -> None:
    """COMMENT ON the table and each column: what `duckdb_tables()`/`duckdb_columns()` show."""
    if doc.description:
        con.execute(f"comment on table {qualified} is {sql_string(doc.description)}")
    names = [str(r[0]) for r in con.execute(f"describe {qualified}").fetchall()]
    for name in names:
        column = doc.columns.get(name)
        if column is not None and column.description:
            con.execute(
                f"comment on column {qualified}.{quote_ident(name)} is {sql_string(column.description)}"
            )


def duckdb_storage_number(path: Path) -> int:
    """The storage version number in a DuckDB file's main header (64 = v1.0.0 up to 1.1)."""
    with path.open("rb") as handle:
        header = handle.read(24)
    if header[8:12] != b"DUCK":
        raise ValueError(f"{path} is not a DuckDB database file")
    return int.from_bytes(header[12:20], "little")


_ILLEGAL_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


# Number formats by the catalogue's column kind (percentages are stored as points: 90.4 is
# 90.4 %, so the format adds the sign rather than Excel's % multiplying by 100).
KIND_FORMATS = {
    "money": "£#,##0.00;[Red]-£#,##0.00",
    "percentage": '0.0"%";[Red]-0.0"%"',
    "count": "#,##0",
    "score": "0.00",
    "days": '#,##0.0" days"',
    "fte": "#,##0.00",
    "ratio": "0.0000",
    "index": "0.000000",
    "code": "0",
    "date": "yyyy-mm-dd",
    "timestamp": 'yyyy-mm-dd hh:mm:ss" UTC"',
}
CONTENTS, DICTIONARY, FORUM_SHEET = "Contents", "Data dictionary", "Budget v outturn"
FORUM_TABLE = "mart_service_line_budget_outturn"
TABLE_STYLE = "TableStyleLight9"


@dataclass(frozen=True)
class ListObject:
    """An Excel Table over a sheet's range: what Power Query and structured references see."""

    sheet_number: int  # the worksheet's part number, xl/worksheets/sheet<n>.xml
    name: str
    last_row: int  # zero-based, the header being row 0
    headers: tuple[str, ...]


def write_xlsx(
    con: duckdb.DuckDBPyConnection,
    relations: dict[str, str],
    columns: dict[str, list[Column]],
    target: Path,
    title: str,
    *,
    ordered: bool = False,
) -> dict[str, str]:
    """A workbook of tables: contents, the Forum's table, a data dictionary, a sheet per table.

    Each table's sheet is an Excel Table (a ListObject named as the table) with human
    headers, its number formats by column kind (money, percentage, count, ...) and its
    header row frozen; the Data dictionary sheet pairs each header with its column name,
    kind and description. Returns the sheet of each table written.

    Written with XlsxWriter in constant memory with `strings_to_formulas` off, so no text
    ever becomes a formula; a text value that looks like one also gets Excel's quote prefix.
    XlsxWriter cannot add tables in constant memory, so `add_list_objects` adds them to the
    closed file. Excel stores numbers as binary doubles: amounts are exact in Parquet, CSV
    and DuckDB, and display to the penny here.
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
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    quoted = book.add_format({"quote_prefix": True})
    formats: dict[str, Any] = {}

    def style(number_format: str | None) -> Any:
        if number_format is None:
            return None
        if number_format not in formats:
            formats[number_format] = book.add_format({"num_format": number_format})
        return formats[number_format]

    names = sheet_names(relations)
    counts = {t: _count(con, r) for t, r in relations.items()}
    # A table longer than an Excel sheet is listed on the contents sheet but not written:
    # finance reads it from the Parquet, CSV or DuckDB release instead.
    too_long = {t for t, n in counts.items() if n > XLSX_MAX_ROWS}
    docs = {t: table_doc(t) for t in relations}
    list_objects: list[ListObject] = []
    sheet_count = 0

    def add_sheet(name: str) -> Any:
        nonlocal sheet_count
        sheet_count += 1
        return book.add_worksheet(name)

    contents = add_sheet(CONTENTS)
    contents.set_column(0, 0, 40)
    contents.set_column(1, 1, 34)
    contents.set_column(2, 2, 12)
    contents.set_column(3, 3, 90)
    contents.write_string(0, 0, title, bold)
    contents.write_string(
        1,
        0,
        "Each sheet below is an Excel Table named as its table (for Power Query and structured "
        f"references); the {DICTIONARY} sheet gives every column's name, kind and meaning. Times are UTC.",
    )
    for col, label in enumerate(("table", "sheet", "rows", "what it holds")):
        contents.write_string(3, col, label, bold)
    for row, table in enumerate(relations, start=4):
        contents.write_string(row, 0, table)
        contents.write_string(
            row,
            1,
            "too long for Excel: use the Parquet, CSV or DuckDB file" if table in too_long else names[table],
        )
        contents.write_number(row, 2, counts[table])
        contents.write_string(row, 3, docs[table].description)

    if FORUM_TABLE in relations:
        _forum_sheet(add_sheet(FORUM_SHEET), con, relations[FORUM_TABLE], bold, style)

    dictionary = add_sheet(DICTIONARY)
    dictionary_headers = ("Table", "Sheet", "Column", "Header", "Kind", "Type", "Description")
    for col, (header, width) in enumerate(
        zip(dictionary_headers, (30, 24, 30, 30, 11, 16, 100), strict=True)
    ):
        dictionary.set_column(col, col, width, wrap if header == "Description" else None)
        dictionary.write_string(0, col, header, bold)
    dictionary.freeze_panes(1, 0)
    entry = 0
    headers_of: dict[str, list[str]] = {}
    for table in relations:
        headers_of[table] = _headers(docs[table], columns[table])
        for column, header in zip(columns[table], headers_of[table], strict=True):
            entry += 1
            doc = docs[table].column(column.name)
            values = (
                table,
                names[table] if table not in too_long else "",
                column.name,
                header,
                doc.kind if doc.kind_declared else "",
                column.type,
                doc.description,
            )
            for col, value in enumerate(values):
                dictionary.write_string(entry, col, _ILLEGAL_XLSX.sub("\ufffd", value))
    list_objects.append(ListObject(sheet_count, "data_dictionary", max(entry, 1), dictionary_headers))

    for table, relation in relations.items():
        cols = columns[table]
        if table in too_long:
            continue
        sheet = add_sheet(names[table])
        sheet.freeze_panes(1, 0)
        headers = headers_of[table]
        for index, header in enumerate(headers):
            sheet.set_column(index, index, max(12, min(40, len(header) + 4)))
            sheet.write_string(0, index, header, bold)
        if cols:
            list_objects.append(
                ListObject(sheet_count, _table_name(table), max(counts[table], 1), tuple(headers))
            )
        writers = _row_writer(sheet, docs[table], cols, style, quoted)
        result = con.execute(_ordered(relation, ordered))  # streamed, 10,000 rows at a time
        row = 1
        while batch := result.fetchmany(10_000):
            for values in batch:
                writers(row, values)
                row += 1
    book.close()
    add_list_objects(target, list_objects)
    return {t: name for t, name in names.items() if t not in too_long}


def _count(con: duckdb.DuckDBPyConnection, relation: str) -> int:
    row = con.execute(f"select count(*) from {relation}").fetchone()
    assert row is not None  # an aggregate without `group by` returns one row
    return int(row[0])


def sheet_names(tables: Iterable[str]) -> dict[str, str]:
    """Excel's 31-character sheet names: drop the `mart_` prefix, then cut, then number."""
    reserved = {CONTENTS.lower(), DICTIONARY.lower(), FORUM_SHEET.lower()}
    names: dict[str, str] = {}
    for table in tables:
        base = table.removeprefix("mart_")[:31]
        name, n = base, 2
        while name.lower() in {v.lower() for v in names.values()} or name.lower() in reserved:
            suffix = f"~{n}"
            name, n = base[: 31 - len(suffix)] + suffix, n + 1
        names[table] = name
    return names


def _table_name(table: str) -> str:
    """An Excel Table name: letters, digits and underscores, not starting with a digit."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", table)
    return name if re.match(r"[A-Za-z_]", name) else f"t_{name}"


def _headers(doc: TableDoc, columns: Sequence[Column]) -> list[str]:
    """Human headers, each unique in its table (Excel Tables need unique headers)."""
    headers: list[str] = []
    for column in columns:
        header = doc.column(column.name).label if column.name in doc.columns else column.name
        if header.lower() in {h.lower() for h in headers}:
            header = column.name
        headers.append(header)
    return headers


def number_format(kind: str, column: Column) -> str | None:
    """The cell format for a column of this kind (a number of undeclared kind: by its type)."""
    places = column.decimal_places
    if kind in ("count", "fte") and places:
        return "#,##0." + "0" * places
    if kind in KIND_FORMATS:
        return KIND_FORMATS[kind]
    if column.type == "DATE":
        return KIND_FORMATS["date"]
    if column.type.startswith("TIMESTAMP"):
        return KIND_FORMATS["timestamp"]
    if places == 2:
        return _MONEY
    if places is not None:
        return "#,##0." + "0" * places if places else "#,##0"
    return None


def _row_writer(sheet: Any, doc: TableDoc, columns: Sequence[Column], style: Any, quoted: Any) -> Any:
    """Writes one row: text stays text, numbers and dates get their kind's format.

    A `by_unit` column (a KPI's target, a structure's value) is formatted by its row's
    `unit` (days for one KPI, per cent for another).
    """
    kinds = [doc.column(c.name).kind if c.name in doc.columns else "" for c in columns]
    fixed = [
        None if k == "by_unit" else style(number_format(k, c)) for k, c in zip(kinds, columns, strict=True)
    ]
    names = [c.name for c in columns]
    unit_index = names.index("unit") if "unit" in names else None
    by_unit = {unit: style(KIND_FORMATS[kind]) for unit, kind in UNIT_KINDS.items()}
    by_unit_columns = [i for i, k in enumerate(kinds) if k == "by_unit"]

    def write(row: int, values: Sequence[Any]) -> None:
        formats = fixed
        if by_unit_columns:
            unit = values[unit_index] if unit_index is not None else None
            formats = list(fixed)
            for i in by_unit_columns:
                formats[i] = by_unit.get(str(unit)) or style(number_format("number", columns[i]))
        for col, value in enumerate(values):
            if value is not None:
                _write_cell(sheet, row, col, value, formats[col], quoted)

    return write


def _write_cell(sheet: Any, row: int, col: int, value: Any, number_style: Any, quoted: Any) -> None:
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


def _forum_sheet(sheet: Any, con: duckdb.DuckDBPyConnection, relation: str, bold: Any, style: Any) -> None:
    """Budget against outturn per year as the Forum's table: lines across, measures down."""
    from stls_warehouse.reference import service_line_names

    lines = service_line_names()
    names = [c.name for c in columns_of(con, relation)]
    traded = "traded_net" in names
    rows = con.execute(f"select * from {relation} order by financial_year desc, service_line").fetchall()
    by_year: dict[str, dict[str, dict[str, Any]]] = {}
    for fetched in rows:
        record = dict(zip(names, fetched, strict=True))
        by_year.setdefault(str(record["financial_year"]), {})[str(record["service_line"])] = record
    money = style(KIND_FORMATS["money"])
    sheet.set_column(0, 0, 44)
    sheet.set_column(1, len(lines) + 1, 16)
    sheet.write_string(
        0, 0, "Budget against outturn by service line, as the Schools Funding Forum's table", bold
    )
    sheet.write_string(
        1,
        0,
        "Variance = budget less outturn: negative = overspend. Per service line before the pension "
        "funding, in total after it. From mart_service_line_budget_outturn; values, no formulas.",
    )
    row = 3
    for year, by_line in by_year.items():
        keys = [k for k in lines if k in by_line]
        complete = all(bool(by_line[k].get("is_complete")) for k in keys)
        received = max(int(by_line[k].get("periods_received") or 0) for k in keys) if keys else 0
        heading = (
            year
            if complete
            else f"{year} (no ledger returns yet)"
            if received == 0
            else f"{year} (part year: {received} of 12 ledger periods in)"
        )
        sheet.write_string(row, 0, heading, bold)
        for col, key in enumerate(keys, start=1):
            sheet.write_string(row, col, lines[key], bold)
        sheet.write_string(row, len(keys) + 1, "Total", bold)
        row += 1

        def total(
            column: str, by_line: dict[str, dict[str, Any]] = by_line, keys: list[str] = keys
        ) -> Decimal:
            return sum((Decimal(by_line[k][column] or 0) for k in keys), Decimal("0.00"))

        pension = total("pension_allocation")
        measures: list[tuple[str, list[Any], Any]] = [
            ("Core funding", [by_line[k]["core_budget"] for k in keys], total("core_budget")),
            ("Outreach funding", [by_line[k]["outreach_budget"] for k in keys], total("outreach_budget")),
            ("Pension funding", [None] * len(keys), pension),
            ("Total budget", [by_line[k]["total_budget"] for k in keys], total("total_budget") + pension),
            ("Outturn", [by_line[k]["outturn"] for k in keys], total("outturn")),
        ]
        if traded:
            measures.append(
                (
                    "Traded services, net (beside the outturn)",
                    [by_line[k]["traded_net"] for k in keys],
                    total("traded_net"),
                )
            )
        measures += [
            (
                "Variance (negative = overspend)",
                [by_line[k]["variance"] for k in keys],
                total("variance_after_pension"),
            ),
            (
                "Variance after pension",
                [by_line[k]["variance_after_pension"] for k in keys],
                total("variance_after_pension"),
            ),
        ]
        for label, values, year_total in measures:
            sheet.write_string(row, 0, label, bold if label.startswith(("Total", "Variance")) else None)
            for col, value in enumerate([*values, year_total], start=1):
                if value is not None:
                    sheet.write_number(row, col, value, money)
            row += 1
        row += 1


_CONTENT_TYPE_TABLE = "application/vnd.openxmlformats-officedocument.spreadsheetml.table+xml"
_REL_TABLE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/table"


def add_list_objects(path: Path, list_objects: Sequence[ListObject]) -> None:
    """Add Excel Tables to a closed XlsxWriter workbook, streaming each sheet (bounded memory).

    Each table is a part `xl/tables/table<n>.xml` (its range, column names and style), a
    relationship from its sheet, a `<tableParts>` element at the end of the sheet and a
    content type. Nothing else in the file changes.
    """
    import zipfile
    from xml.sax.saxutils import quoteattr

    if not list_objects:
        return
    by_sheet = {
        f"xl/worksheets/sheet{t.sheet_number}.xml": (n, t) for n, t in enumerate(list_objects, start=1)
    }
    fixed_time = (1980, 1, 1, 0, 0, 0)
    with (
        atomic_path(path) as tmp,
        zipfile.ZipFile(path) as source,
        zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as out,
    ):
        for info in source.infolist():
            name = info.filename
            if (
                name.startswith("xl/worksheets/_rels/")
                and name.replace("_rels/", "").removesuffix(".rels") in by_sheet
            ):
                raise ValueError(f"{path}: {name} exists; tables cannot be added beside its relationships")
            with source.open(info) as reader, out.open(_copy_info(info), "w", force_zip64=True) as writer:
                if name == "[Content_Types].xml":
                    text = reader.read().decode("utf-8")
                    overrides = "".join(
                        f'<Override PartName="/xl/tables/table{n}.xml" ContentType="{_CONTENT_TYPE_TABLE}"/>'
                        for n in range(1, len(list_objects) + 1)
                    )
                    writer.write(text.replace("</Types>", overrides + "</Types>").encode("utf-8"))
                elif name in by_sheet:
                    _copy_with_table_part(reader, writer)
                else:
                    while block := reader.read(1 << 20):
                        writer.write(block)
        for number, table in enumerate(list_objects, start=1):
            ref = f"A1:{_column_letter(len(table.headers) - 1)}{table.last_row + 1}"
            columns = "".join(
                f'<tableColumn id="{i}" name={quoteattr(h)}/>' for i, h in enumerate(table.headers, start=1)
            )
            xml = (
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                '<table xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                f'id="{number}" name="{table.name}" displayName="{table.name}" ref="{ref}" totalsRowShown="0">'
                f'<autoFilter ref="{ref}"/><tableColumns count="{len(table.headers)}">{columns}</tableColumns>'
                f'<tableStyleInfo name="{TABLE_STYLE}" showFirstColumn="0" showLastColumn="0" '
                'showRowStripes="1" showColumnStripes="0"/></table>'
            )
            out.writestr(zipfile.ZipInfo(f"xl/tables/table{number}.xml", fixed_time), xml)
            rels = (
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                f'<Relationship Id="rId1" Type="{_REL_TABLE}" Target="../tables/table{number}.xml"/>'
                "</Relationships>"
            )
            out.writestr(
                zipfile.ZipInfo(f"xl/worksheets/_rels/sheet{table.sheet_number}.xml.rels", fixed_time), rels
            )


def _copy_info(info: Any) -> Any:
    import zipfile

    copy = zipfile.ZipInfo(info.filename, info.date_time)
    copy.compress_type = zipfile.ZIP_DEFLATED
    copy.external_attr = info.external_attr
    return copy


def _copy_with_table_part(reader: Any, writer: Any) -> None:
    """Copy a sheet's XML, adding `<tableParts>` just before `</worksheet>` (its last element)."""
    closing = b"</worksheet>"
    part = b'<tableParts count="1"><tablePart r:id="rId1"/></tableParts>'
    held = b""
    while block := reader.read(1 << 20):
        held += block
        writer.write(held[: -len(closing) * 2])
        held = held[-len(closing) * 2 :]
    if not held.rstrip().endswith(closing) or b"<extLst" in held:
        raise ValueError("a worksheet does not end with </worksheet>; cannot add its table")
    writer.write(held.rstrip()[: -len(closing)] + part + closing)


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters
