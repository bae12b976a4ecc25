"""The audit of a candidate release, before anything is swapped in.

Every file is opened the way a reader would open it and compared with the warehouse: the
Parquet files and the DuckDB database must hold exactly the warehouse's rows (row count
and an order-independent checksum of every row); the CSV files and the workbook must have
the same row counts and columns and no formula anywhere. A candidate that fails is
deleted and the current release stays as it is. Every check streams: memory stays bounded
however many rows a table has.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stls_warehouse.errors import StlsError
from stls_warehouse.publish.exports import (
    DUCKDB_STORAGE_NUMBER,
    FORMULA_PATTERN,
    connect_quietly,
    duckdb_storage_number,
)
from stls_warehouse.publish.manifest import Manifest, TableEntry
from stls_warehouse.sql import quote_ident, sql_string

if TYPE_CHECKING:
    import duckdb


class AuditFailed(StlsError, RuntimeError):
    """A candidate release does not match the warehouse; nothing was published."""

    refusal = True
    run_note = "nothing was published by this run"

    def __init__(self, problems: list[str]) -> None:
        super().__init__("the candidate release failed its audit:\n- " + "\n- ".join(problems))
        self.problems = problems


# Recorded per table in each manifest: a release checksummed under another rule is compared
# with nothing (it is published again once under this rule), never compared wrongly.
CHECKSUM_RULE = (
    "multiset-md5-sum/1: sha256 of 'rows:high:low', where high and low are the exact sums of the "
    "upper and lower 64 bits of md5 of every row cast to text"
)
_LOW_64_BITS = (1 << 64) - 1


def canonical_checksum(con: duckdb.DuckDBPyConnection, relation: str) -> tuple[int, str]:
    """Row count and an order-independent checksum of a table's rows, taken as a multiset.

    One streaming pass in bounded memory: each row, cast to text, is hashed with MD5, and the
    two 64-bit halves of the hashes are summed exactly (as HUGEINT, which no table can
    overflow). The order of the rows does not matter; every duplicate row does (a sum, not
    an exclusive or, so two equal rows never cancel out).
    """
    count, high, low = _one(
        con,
        "select count(*), coalesce(sum(cast(h >> 64 as ubigint)), 0), "
        f"coalesce(sum(cast(h & cast({_LOW_64_BITS} as uhugeint) as ubigint)), 0) "
        f"from (select md5_number(cast(t as varchar)) as h from {relation} as t)",
    )
    digest = hashlib.sha256(f"{int(count)}:{int(high)}:{int(low)}".encode()).hexdigest()
    return int(count), digest


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def audit_candidate(release_dir: Path, manifest: Manifest) -> None:
    """Check every file of a release against the warehouse figures in its manifest."""

    problems: list[str] = []
    tables: dict[str, TableEntry] = manifest["tables"]
    con = connect_quietly()
    try:
        database = release_dir / "stls.duckdb"
        if duckdb_storage_number(database) != DUCKDB_STORAGE_NUMBER:
            problems.append(f"stls.duckdb has storage number {duckdb_storage_number(database)}")
        con.execute(f"attach {sql_string(str(database))} as candidate (read_only)")
        in_database = {r[0] for r in con.execute("show tables from candidate.main").fetchall()}
        for table, expected in tables.items():
            want = (expected["rows"], expected["checksum"])
            parquet = release_dir / "parquet" / f"{table}.parquet"
            got = canonical_checksum(con, f"read_parquet({sql_string(str(parquet))})")
            if got != want:
                problems.append(f"parquet/{table}.parquet holds {got}, the warehouse {want}")
            if table not in in_database:
                problems.append(f"stls.duckdb has no table {table}")
            else:
                got = canonical_checksum(con, f"candidate.main.{quote_ident(table)}")
                if got != want:
                    problems.append(f"stls.duckdb table {table} holds {got}, the warehouse {want}")
            problems += _audit_csv(con, release_dir / "csv" / f"{table}.csv", expected)
        con.execute("detach candidate")
    finally:
        con.close()
    workbooks = manifest.get("xlsx_workbooks") or {"stls_finance.xlsx": manifest["xlsx_sheets"]}
    for workbook, sheets in workbooks.items():
        problems += _audit_xlsx(release_dir / workbook, sheets, manifest)
    for name, entry in manifest["files"].items():
        if sha256_of(release_dir / name) != entry["sha256"]:
            problems.append(f"{name} changed after it was written")
    if problems:
        raise AuditFailed(problems)


def verify_release(release_dir: Path) -> Manifest:
    """An existing release's files still match its manifest (before a rollback or republish)."""
    manifest: Manifest = json.loads((release_dir / "manifest.json").read_text(encoding="utf-8"))
    problems = [
        f"{name} does not match the manifest"
        for name, entry in manifest.get("files", {}).items()
        if not (release_dir / name).is_file() or sha256_of(release_dir / name) != entry["sha256"]
    ]
    if problems:
        raise AuditFailed(problems)
    return manifest


def _audit_csv(con: duckdb.DuckDBPyConnection, path: Path, expected: TableEntry) -> list[str]:
    relation = f"read_csv({sql_string(str(path))}, header = true, all_varchar = true)"
    names = [r[0] for r in con.execute(f"describe select * from {relation}").fetchall()]
    want_names = [c[0] for c in expected["columns"]]
    if expected["rows"] == 0:
        return []  # an empty table's CSV is its header alone
    if names != want_names:
        return [f"csv/{path.name} has columns {names}, expected {want_names}"]
    (count,) = _one(con, f"select count(*) from {relation}")
    problems = (
        []
        if count == expected["rows"]
        else [f"csv/{path.name} has {count} rows, expected {expected['rows']}"]
    )
    pattern = FORMULA_PATTERN
    text = [c[0] for c in expected["columns"] if c[1] in ("VARCHAR", "JSON", "UUID")]
    if text:
        condition = " or ".join(f"regexp_matches({quote_ident(c)}, {sql_string(pattern)})" for c in text)
        (unsafe,) = _one(con, f"select count(*) from {relation} where {condition}")
        if unsafe:
            problems.append(f"csv/{path.name} has {unsafe} rows with a value a spreadsheet would run")
    return problems


def _one(con: duckdb.DuckDBPyConnection, query: str) -> tuple[Any, ...]:
    """The one row of an aggregate query."""
    row = con.execute(query).fetchone()
    assert row is not None  # an aggregate without `group by` returns one row
    return row


def _audit_xlsx(path: Path, sheets: dict[str, str], manifest: Manifest) -> list[str]:
    """Row counts per sheet and no formula anywhere, read from the workbook's XML as a stream."""
    problems: list[str] = []
    with zipfile.ZipFile(path) as book:
        workbook = book.read("xl/workbook.xml").decode("utf-8")
        titles = re.findall(r'<sheet[^>]* name="([^"]+)"', workbook)
        members = sorted(
            (n for n in book.namelist() if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n)),
            key=lambda n: int(re.findall(r"\d+", n)[0]),
        )
        by_title = dict(zip(titles, members, strict=True))
        rows_in: dict[str, int] = {}
        for member in members:
            formulas, rows_in[member] = _count_tags(book, member)
            if formulas:
                problems.append(f"{path.name} {member} contains a formula")
        for table, sheet in sheets.items():
            found = by_title.get(_xml_escape(sheet))
            if found is None:
                problems.append(f"{path.name} has no sheet {sheet}")
                continue
            rows = rows_in[found]
            if rows != manifest["tables"][table]["rows"] + 1:
                problems.append(f"{path.name} sheet {sheet} has {rows - 1} data rows")
    return problems


_TAGS = (re.compile(rb"<f[ >]"), re.compile(rb"<row[ >]"))  # every match is 3 and 5 bytes long
_TAG_LENGTHS = (3, 5)


def _count_tags(book: zipfile.ZipFile, member: str, block_size: int = 1 << 20) -> tuple[int, int]:
    """(formula elements, row elements) in one worksheet, read a block (1 MiB) at a time.

    For each tag the last bytes of a block, one fewer than the tag, are carried into the
    next: a tag split between two blocks is counted once, and none is counted twice.
    """
    counts = [0, 0]
    carries = [b"", b""]
    with book.open(member) as handle:
        while block := handle.read(block_size):
            for i, (tag, length) in enumerate(zip(_TAGS, _TAG_LENGTHS, strict=True)):
                text = carries[i] + block
                counts[i] += len(tag.findall(text))
                carries[i] = text[-(length - 1) :]
    return counts[0], counts[1]


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
