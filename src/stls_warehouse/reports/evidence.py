"""The auditor's evidence pack for a financial year: one zip archive that evidences the year
on its own, reproducible byte for byte.

Contents (each member listed in `index.json` with its SHA-256, its source and whether it was
present; `README.txt` walks the District outturn back to its file and row):

- `tables/parquet/<table>.parquet` and `tables/csv/<table>.csv`: every published table of the
  release, its rows of the year only where the table has a `financial_year` column (the data
  quality results are in `data_quality/`, the year's only);
  `fct_ledger_lines` carries `line_ref` (the school's own reference), `source_file_sha256`
  and `source_row` (the row in the submitted file);
- `sources/<sha256>/<file name>`: every accepted return of the year, as received; a file over
  `STLS_EVIDENCE_MAX_SOURCE_MB` (default 50) is listed in `sources/index.csv` with its hash and
  where to retrieve it (`$STLS_HOME/raw/objects/...`) instead;
- `data_quality/mart_data_quality_results.csv`: the year's data quality results only (checks
  of the year's returns and periods, and the warehouse gate of the release), and
  `data_quality/data_docs/`: the Data Docs of the runs those results come from (offline HTML);
- `annual/annual_review_<year>.pdf`: the annual review (written when missing);
- `dbt/docs/index.html`, `manifest.json`, `catalog.json` (`dbt docs generate`, run when
  missing) and `dbt/run_results.json`: every node's and test's latest result;
- `returns_service/audit_log_<year>.jsonl`: the returns service's audit log for the year,
  when the service has exported one to `$STLS_HOME/audit/audit_log_<year>.jsonl`
  (the hook: the service writes that file, one JSON object per line; this module never
  imports the service);
- `submission_ledger.csv`, `release/manifest.json`, `release/inputs_<year>.csv`;
- `logs/`: the last Airflow run log and the dbt log.

The same inputs give the same pack, byte for byte: members are sorted, every zip entry has
the same fixed time (1980-01-01 00:00) and permissions, JSON is written with sorted keys,
tables are sorted, Parquet is written by one thread, and the absolute `$STLS_HOME` path is
replaced by the text `$STLS_HOME`. What legitimately differs between two runs over the same
returns is left as it is and listed in `index.json` and `README.txt` (`VOLATILE`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from stls_warehouse import reference, transform
from stls_warehouse.config import REPO_ROOT, Paths, settings
from stls_warehouse.files import write_atomically
from stls_warehouse.quality.completeness import require_year_complete, year_completeness
from stls_warehouse.reports.source import PublishedRelease
from stls_warehouse.run_logs import last_run_log

ZIP_TIME = (1980, 1, 1, 0, 0, 0)
MAX_LOG_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_SOURCE_MB = 50
DBT_DOCS = ("index.html", "manifest.json", "catalog.json")
VOLATILE: dict[str, str] = {
    "release/manifest.json": "release_id, published_at, received_at of each input, code_version",
    "release/inputs_*.csv": "received_at (when each file arrived)",
    "submission_ledger.csv": "received_at (when each file arrived)",
    "tables/*/fct_ledger_lines.*, tables/*/mart_return_status.*, tables/*/submission_ledger.*": (
        "received_at (when each file arrived)"
    ),
    "tables/*/mart_data_quality_results.*, data_quality/*": "run identifiers and times of each check",
    "annual/annual_review_*.pdf": "the PDF's creation date and document id",
    "dbt/run_results.json": "metadata.generated_at, metadata.invocation_id, args, elapsed_time, results[].timing, "
    "results[].execution_time, results[].thread_id",
    "dbt/docs/manifest.json": "metadata.generated_at, metadata.invocation_id, nodes.*.created_at",
    "dbt/docs/catalog.json": "metadata.generated_at, metadata.invocation_id",
    "dbt/docs/index.html": "the embedded manifest and catalog, as above",
    "returns_service/*": "the times of the service's events",
    "logs/*": "every line's timestamp and the run's durations",
}


def max_source_bytes() -> int:
    """Above this size a source file is listed by hash, not copied (STLS_EVIDENCE_MAX_SOURCE_MB)."""
    return int((settings().evidence_max_source_mb or Decimal(DEFAULT_MAX_SOURCE_MB)) * 1024 * 1024)


def portal_audit_log(home: Paths, financial_year: str) -> Path:
    """Where the returns service exports its audit log for a year (one JSON object per line);
    `stls-portal portal_audit_export --year <year>` writes it, with its chain check beside it."""
    return home.audit / f"audit_log_{financial_year}.jsonl"


def evidence_pack_path(home: Paths, financial_year: str) -> Path:
    return home.reports / "evidence" / f"evidence_pack_{financial_year}.zip"


class EvidencePackFile(TypedDict):
    evidence_pack: str  # the zip's path
    sha256: str
    members: int
    release_id: str
    absent: list[str]  # members not present when the pack was built


class MemberEntry(TypedDict):
    """A member's line in `index.json`."""

    present: bool
    source: str
    sha256: NotRequired[str]
    bytes: NotRequired[int]


class DistrictWalk(TypedDict):
    """From the District outturn to the ledger lines it sums and one line's file and row."""

    outturn: str | None
    sum_of_lines: str
    lines: int
    fund_strands: list[str]
    agrees: bool
    example_line: dict[str, str | None]
    example_file: str | None


def write_evidence_pack(home: Paths, financial_year: str) -> EvidencePackFile:
    """Write `reports/evidence/evidence_pack_<year>.zip` for a complete year."""
    members, index, release_id = collect_members(home, financial_year)
    target = evidence_pack_path(home, financial_year)
    archive = build_zip(members)
    write_atomically(target, archive, mode=0o644)
    return {
        "evidence_pack": str(target),
        "sha256": hashlib.sha256(archive).hexdigest(),
        "members": len(members),
        "release_id": release_id,
        "absent": [name for name, entry in index.items() if not entry["present"]],
    }


def build_zip(members: dict[str, bytes]) -> bytes:
    """A zip whose bytes depend only on the members: sorted, fixed times and permissions."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, members[name], compresslevel=9)
    return buffer.getvalue()


class _Members:
    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.index: dict[str, MemberEntry] = {}

    def add(self, name: str, data: bytes | None, source: str) -> None:
        entry: MemberEntry = {"present": data is not None, "source": source}
        self.index[name] = entry
        if data is not None:
            self.data[name] = data
            entry["sha256"] = hashlib.sha256(data).hexdigest()
            entry["bytes"] = len(data)


def collect_members(home: Paths, financial_year: str) -> tuple[dict[str, bytes], dict[str, MemberEntry], str]:
    pack = _Members()
    add = pack.add
    with PublishedRelease(home) as release:
        status = year_completeness(release.con, financial_year)
        require_year_complete(status)
        release_id = release.release_id
        year_keys = _year_period_keys(release, financial_year)
        line_refs = _line_refs(home, release)
        for table in release.tables:
            if table == "mart_data_quality_results":
                continue  # every year's checks: the year's are in data_quality/
            parquet, text = _table_files(release, table, financial_year, year_keys, line_refs)
            source = f"published table {table} (release {release_id})"
            add(f"tables/parquet/{table}.parquet", parquet, source)
            add(f"tables/csv/{table}.csv", text, source)
        dq_csv, dq_runs = _year_quality(release, financial_year, year_keys)
        add("data_quality/mart_data_quality_results.csv", dq_csv, "published table mart_data_quality_results")
        add(
            "submission_ledger.csv",
            _table_csv(release, "submission_ledger", financial_year)
            if release.has("submission_ledger")
            else None,
            "published table submission_ledger",
        )
        manifest = release.manifest
        add("release/manifest.json", _json(manifest, home), f"published/releases/{release_id}/manifest.json")
        add(f"release/inputs_{financial_year}.csv", _inputs_csv(manifest, year_keys), "release manifest")
        accepted = _accepted_files(release, financial_year)
        walk = _district_walk(release, financial_year, line_refs)

    _add_sources(pack, home, accepted)
    _add_data_docs(pack, home, dq_runs)
    add(
        f"annual/annual_review_{financial_year}.pdf",
        _annual_pdf(home, financial_year),
        f"$STLS_HOME/reports/annual/annual_review_{financial_year}.pdf",
    )
    _add_dbt(pack, home)
    audit = portal_audit_log(home, financial_year)
    add(
        f"returns_service/audit_log_{financial_year}.jsonl",
        _read(audit, home),
        f"$STLS_HOME/{audit.relative_to(home.home)} (exported by the returns service; absent if it is not used)",
    )
    check = audit.with_name(f"audit_log_{financial_year}.check.json")
    add(
        f"returns_service/audit_log_{financial_year}.check.json",
        _read(check, home),
        f"$STLS_HOME/{check.relative_to(home.home)} (the chain check written with the export)",
    )
    add(
        "logs/airflow_last_run.log",
        _read(last_run_log(home), home, tail=True),
        "the last `stls run` (run_logs.last_run_log)",
    )
    add(
        "logs/dbt.log",
        _read(transform.log_dir(home) / "dbt.log", home, tail=True),
        "$STLS_HOME/dbt/logs/dbt.log",
    )

    index = pack.index
    pack_index = {
        "financial_year": financial_year,
        "release_id": release_id,
        "completeness": status.explain(),
        "district_outturn": walk,
        "members": index,
        "volatile": VOLATILE,
        "normalised": [
            "zip entries sorted by name, each dated 1980-01-01 00:00:00 with permissions 0644",
            "JSON rewritten with sorted keys and two-space indent",
            "the absolute STLS_HOME path replaced by the text $STLS_HOME in every text member",
            "table rows sorted by every column, LF line endings; Parquet written by one thread",
        ],
    }
    members = pack.data
    members["index.json"] = (json.dumps(pack_index, indent=2, sort_keys=True, default=str) + "\n").encode(
        "utf-8"
    )
    members["README.txt"] = _readme(financial_year, release_id, index, walk).encode("utf-8")
    return members, index, release_id


# --- the year's tables -----------------------------------------------------------------------


def _year_period_keys(release: PublishedRelease, financial_year: str) -> set[str]:
    return {
        k
        for (k,) in release.rows(
            "select distinct period_key from mart_return_status where financial_year = ?", [financial_year]
        )
    }


def _line_refs(home: Paths, release: PublishedRelease) -> Any:
    """line_ref for every published ledger line: from the table when it is published there,
    else from the warehouse's staged lines (raw.ledger_lines, by file and row), as an Arrow
    table the pack's queries join; None when neither has it."""
    if "line_ref" in release.columns("fct_ledger_lines") or not home.warehouse.is_file():
        return None
    import duckdb

    con = duckdb.connect(str(home.warehouse), read_only=True)
    try:
        return con.sql("select file_sha256, source_row, line_ref from raw.ledger_lines").to_arrow_table()
    finally:
        con.close()


def _table_query(
    release: PublishedRelease, table: str, financial_year: str, line_refs: Any
) -> tuple[str, list[Any]]:
    columns = list(release.columns(table))
    where, params = (
        ("where t.financial_year = ?", [financial_year]) if "financial_year" in columns else ("", [])
    )
    if table == "fct_ledger_lines" and line_refs is not None:
        release.con.register("_staged_line_refs", line_refs)
        at = columns.index("source_row") + 1 if "source_row" in columns else len(columns)
        shown = [f't."{c}"' for c in columns]
        shown.insert(at, "r.line_ref")
        return (
            f'select {", ".join(shown)} from "{table}" t left join _staged_line_refs r '
            f"on r.file_sha256 = t.source_file_sha256 and r.source_row = t.source_row {where} order by all",
            params,
        )
    return f'select * from "{table}" t {where} order by all', params


def _table_files(
    release: PublishedRelease, table: str, financial_year: str, year_keys: set[str], line_refs: Any
) -> tuple[bytes, bytes]:
    sql, params = _table_query(release, table, financial_year, line_refs)
    cursor = release.con.execute(sql, params)
    header = [d[0] for d in cursor.description]
    text = _rows_csv(header, cursor.fetchall())
    with tempfile.TemporaryDirectory(prefix="stls_pack_") as folder:
        target = Path(folder) / f"{table}.parquet"
        release.con.execute("set threads = 1")
        literal = str(target).replace("'", "''")
        release.con.execute(f"copy ({sql}) to '{literal}' (format parquet, compression zstd)", params)
        return target.read_bytes(), text


def _table_csv(release: PublishedRelease, table: str, financial_year: str) -> bytes:
    columns = list(release.columns(table))
    where, params = (
        ("where financial_year = ?", [financial_year]) if "financial_year" in columns else ("", [])
    )
    return _rows_csv(columns, release.rows(f'select * from "{table}" {where} order by all', params))


def _year_quality(
    release: PublishedRelease, financial_year: str, year_keys: set[str]
) -> tuple[bytes | None, list[str]]:
    """The year's checks: those on its returns (by period or file) and the warehouse gate of
    the run that passed this release (the latest), plus the run ids they come from."""
    if not release.has("mart_data_quality_results"):
        return None, []
    files = [
        sha
        for (sha,) in release.rows(
            "select distinct file_sha256 from submission_ledger where financial_year = ?", [financial_year]
        )
    ]
    release.con.register("_year_keys", _one_column("period_key", sorted(year_keys)))
    release.con.register("_year_files", _one_column("file_sha256", files))
    sql = """
        with last_gate as (
            select max(run_id) as run_id from mart_data_quality_results where stage = 'warehouse_gate'
        )
        select * from mart_data_quality_results d
        where d.period_key in (select period_key from _year_keys)
           or d.file_sha256 in (select file_sha256 from _year_files)
           or (d.stage = 'warehouse_gate' and d.run_id = (select run_id from last_gate))
        order by all
    """
    cursor = release.con.execute(sql)
    header = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    runs = sorted({str(r[header.index("run_id")]) for r in rows})
    return _rows_csv(header, rows), runs


def _one_column(name: str, values: list[str]) -> Any:
    import pyarrow as pa

    return pa.table({name: pa.array(values, type=pa.string())})


def _accepted_files(release: PublishedRelease, financial_year: str) -> list[tuple[str, str]]:
    return [
        (str(sha), str(name))
        for sha, name in release.rows(
            "select distinct file_sha256, original_name from submission_ledger "
            "where financial_year = ? and status = 'ACCEPTED' order by all",
            [financial_year],
        )
    ]


# --- files beside the tables -------------------------------------------------------------------


def _add_sources(pack: _Members, home: Paths, accepted: list[tuple[str, str]]) -> None:
    from stls_warehouse.intake.raw_zone import RawZone

    raw = RawZone(home.raw)
    limit = max_source_bytes()
    listing = []
    for sha, name in accepted:
        path = raw.object_path(sha)
        where = f"$STLS_HOME/{path.relative_to(home.home).as_posix()}"
        size = path.stat().st_size if path.is_file() else None
        included = size is not None and size <= limit
        member = f"sources/{sha}/{name}"
        if included:
            pack.add(member, path.read_bytes(), where)
        listing.append(
            (sha, name, size if size is not None else "", "yes" if included else "no", member, where)
        )
    pack.add(
        "sources/index.csv",
        _rows_csv(["sha256", "file_name", "bytes", "in_pack", "member", "retrieve_from"], listing),
        f"the year's accepted returns (files over {limit // (1024 * 1024)} MB are listed, not copied)",
    )


def _add_data_docs(pack: _Members, home: Paths, runs: list[str]) -> None:
    from stls_warehouse.quality.data_docs import root_index_html
    from stls_warehouse.run_ids import safe_run_id

    docs = home.reports / "data_docs"
    found = False
    sites: list[tuple[str, dict[str, Any]]] = []
    for run in runs:
        folder = docs / safe_run_id(run)
        for path in sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []:
            found = True
            if path.name == "site.json":
                sites.append(
                    (path.parent.relative_to(docs).as_posix(), json.loads(path.read_text(encoding="utf-8")))
                )
            pack.add(
                f"data_quality/data_docs/{path.relative_to(docs).as_posix()}",
                _read(path, home),
                "$STLS_HOME/reports/data_docs",
            )
    if not found:
        pack.add("data_quality/data_docs/", None, "$STLS_HOME/reports/data_docs (no run of the year kept)")
    else:
        pack.add(
            "data_quality/data_docs/index.html",
            _normalise_text(root_index_html(sorted(sites, key=lambda s: s[0])).encode("utf-8"), home),
            "the Data Docs of the year's runs, listed",
        )


def _annual_pdf(home: Paths, financial_year: str) -> bytes | None:
    path = home.reports / "annual" / f"annual_review_{financial_year}.pdf"
    if not path.is_file():
        from stls_warehouse.reports.annual import write_annual_report

        write_annual_report(home, financial_year)
    return path.read_bytes() if path.is_file() else None


def _add_dbt(pack: _Members, home: Paths) -> None:
    target = transform.target_dir(home)
    if not all((target / name).is_file() for name in DBT_DOCS) and (target / "manifest.json").is_file():
        transform.run_dbt(home, "docs", "generate")
    for name in DBT_DOCS:
        pack.add(
            f"dbt/docs/{name}",
            _read(target / name, home),
            f"$STLS_HOME/dbt/target/{name} (dbt docs generate)",
        )
    # Every node's latest result: a targeted build's own run_results.json lists only its nodes.
    results = transform.results_path(home)
    if not results.is_file():
        results = target / "run_results.json"
    pack.add("dbt/run_results.json", _read(results, home), f"$STLS_HOME/{results.relative_to(home.home)}")


# --- the walk from the District outturn to a file and row ------------------------------------


def _district_walk(release: PublishedRelease, financial_year: str, line_refs: Any) -> DistrictWalk:
    """The District outturn, the ledger lines it sums, and one line's file and row."""
    outturn = release.rows(
        "select outturn from mart_service_line_budget_outturn where financial_year = ? and service_line = 'DISTRICT'",
        [financial_year],
    )
    high_needs = reference.high_needs_condition()
    total, lines = release.rows(
        f"select coalesce(sum(amount), 0), count(*) from fct_ledger_lines where financial_year = ? "
        f"and service_line = 'DISTRICT' and {high_needs}",
        [financial_year],
    )[0]
    sql, params = _table_query(release, "fct_ledger_lines", financial_year, line_refs)
    example = release.records(
        f"select * from ({sql}) where service_line = 'DISTRICT' and {high_needs} "
        "order by amount desc, source_file_sha256, source_row limit 1",
        params,
    )
    names = dict(release.rows("select file_sha256, original_name from submission_ledger"))
    line = example[0] if example else {}
    sha = line.get("source_file_sha256")
    return {
        "outturn": str(outturn[0][0]) if outturn else None,
        "sum_of_lines": str(total),
        "lines": int(lines),
        "fund_strands": list(reference.high_needs_strands()),
        "agrees": bool(outturn) and Decimal(outturn[0][0]) == Decimal(total),
        "example_line": {
            k: (str(v) if v is not None else None)
            for k, v in line.items()
            if k
            in (
                "sla_code",
                "period_key",
                "account_code",
                "fund_strand",
                "amount",
                "line_ref",
                "source_file_sha256",
                "source_row",
            )
        },
        "example_file": f"sources/{sha}/{names.get(sha)}" if sha else None,
    }


def _readme(financial_year: str, release_id: str, index: dict[str, MemberEntry], walk: DistrictWalk) -> str:
    line = walk["example_line"]
    strands = ", ".join(walk["fund_strands"])
    lines = [
        f"STLS auditor's evidence pack, financial year {financial_year}",
        f"Built from published release {release_id}. Everything needed to check the year is in this",
        "archive: the published tables, the ledger lines with their file and row, the accepted returns",
        "as received, the data quality results, the annual review and the dbt documentation.",
        "",
        "From the District outturn to a file and a row",
        "",
        f"1. tables/csv/mart_service_line_budget_outturn.csv, row DISTRICT: outturn {walk['outturn']}.",
        "2. It is the sum of `amount` in tables/csv/fct_ledger_lines.csv (or the Parquet beside it) over the",
        f"   {walk['lines']} lines with service_line DISTRICT and fund_strand one of {strands}:",
        f"   {walk['sum_of_lines']} ({'agrees' if walk['agrees'] else 'DOES NOT AGREE'}). In DuckDB, from this folder:",
        "     select sum(amount) from 'tables/parquet/fct_ledger_lines.parquet'",
        f"     where service_line = 'DISTRICT' and fund_strand in ({', '.join(repr(s) for s in walk['fund_strands'])});",
        f"3. Each line names its file (source_file_sha256) and row (source_row). For example, the line of"
        f" {line.get('sla_code')}",
        f"   {line.get('period_key')}, account {line.get('account_code')}, {line.get('fund_strand')},"
        f" amount {line.get('amount')}, line_ref {line.get('line_ref')}:",
        f"   file {walk['example_file']}, row {line.get('source_row')} (row 1 is the header of a CSV;",
        "   in a workbook, the row number of the Ledger sheet).",
        "4. The file's SHA-256 is its folder name under sources/ (sha256sum checks it), and",
        "   submission_ledger.csv records when it arrived and that it was ACCEPTED; sources/index.csv",
        "   lists every accepted return and, for any too large to include, where to retrieve it.",
        "5. data_quality/ holds every check of the year's returns and of the release, with the Data Docs",
        "   (open data_quality/data_docs/index.html in a browser; it needs no network).",
        "",
        "Contents:",
        *(
            f"  {name}  ({entry['source']})"
            + ("" if entry["present"] else "  -- NOT PRESENT when the pack was built")
            for name, entry in sorted(index.items())
            if not name.startswith(("sources/", "tables/", "data_quality/data_docs/"))
            or name in ("sources/index.csv",)
        ),
        f"  tables/parquet/, tables/csv/: {sum(n.startswith('tables/csv/') for n in index)} published tables",
        f"  sources/: {sum(n.startswith('sources/') for n in index) - 1} accepted returns",
        f"  data_quality/data_docs/: {sum(n.startswith('data_quality/data_docs/') for n in index)} pages",
        "",
        "Reproducible: the same inputs give the same archive byte for byte. Normalised: entry order,",
        "entry times (1980-01-01), permissions, JSON key order, row order, the STLS_HOME path.",
        "What legitimately differs between two runs over the same returns (left as it is):",
        *(f"  {name}: {what}" for name, what in VOLATILE.items()),
        "",
    ]
    return "\n".join(lines)


# --- reading and normalising ----------------------------------------------------------------


def _normalise_text(data: bytes, home: Paths) -> bytes:
    text = data.decode("utf-8", errors="surrogateescape")
    text = text.replace(str(home.home), "$STLS_HOME").replace(str(REPO_ROOT), "$REPO")
    return text.encode("utf-8", errors="surrogateescape")


def _read(path: Path, home: Paths, *, tail: bool = False) -> bytes | None:
    if not path.is_file():
        return None
    data = path.read_bytes()
    if tail and len(data) > MAX_LOG_BYTES:
        data = b"[earlier lines cut: the pack keeps the last 20 MB]\n" + data[-MAX_LOG_BYTES:]
    if path.suffix == ".json":
        return _json(json.loads(data), home)
    if path.suffix in (".html", ".log", ".txt", ".csv", ".md", ".css", ".js", ".jsonl"):
        return _normalise_text(data, home)
    return data


def _json(value: Any, home: Paths) -> bytes:
    return _normalise_text(
        (json.dumps(value, indent=2, sort_keys=True, default=str) + "\n").encode("utf-8"), home
    )


def _rows_csv(header: list[str], rows: Iterable[Iterable[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue().encode("utf-8")


def _inputs_csv(manifest: Mapping[str, Any], year_keys: set[str]) -> bytes:
    """The year's input files (every file received, with its hash and outcome)."""
    keys = ("sha256", "status", "file", "return_type", "sla_code", "period_key", "received_at")
    rows = sorted(
        tuple(item.get(k) for k in keys)
        for item in manifest.get("inputs", manifest.get("returns", []))
        if item.get("period_key") in year_keys
    )
    return _rows_csv(list(keys), rows)
