"""Write-audit-publish of a release: every published output swapped in as one set.

Write: a candidate folder under `published/releases/` gets, for every published table, a
Parquet file (the contract's path), a CSV file, a table in a new DuckDB database (written in a
storage version DuckDB 1.x drivers read, checkpointed and closed) and a sheet in the finance
workbook, and a manifest (release id and time, code version, every input file's SHA-256, the
returns the release contains, row counts and checksums per table, every file's SHA-256).
Audit: each file is read back and compared with the warehouse (`audit.py`); a failure deletes
the candidate and leaves the current release untouched.
Publish: one atomic rename of the `published/current` symlink, then PostgreSQL when
`STLS_POSTGRES_URL` is set (one transaction, retried; a server that is down or locked by a
reader leaves only itself behind, and `published/status.json` says so). The fixed paths readers use
(`published/parquet/<table>.parquet`, `published/csv/`, `published/stls.duckdb`,
`published/stls_finance.xlsx`, `published/manifest.json`) are symlinks through `current`, so
they all change together. A reader that wants several tables of one release resolves
`current` once (`current_release_dir`).

A release whose tables have the same checksums as the current one is not published again
(tables that only record the runs, such as the data quality results, do not count). A new
release takes the Parquet and CSV files of each table that did not change from the current
release (hard links: a release's files are never written to once published) instead of writing
them again; the DuckDB file and the workbook hold every table and are always written anew, all
from the sorted Parquet files. Every file is audited, whichever way it came. The last releases
are kept for `rollback`.

Memory stays bounded: checksums and the audit stream, the writers stream, and the one sort per
changed table spills to `work/.publish_spill` beyond `exports.MEMORY_LIMIT`.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, cast

from stls_warehouse.catalog import docs_fingerprint, table_doc
from stls_warehouse.config import REPO_ROOT, Paths, settings
from stls_warehouse.errors import StlsError
from stls_warehouse.files import replace_symlink, write_atomically
from stls_warehouse.publish import exports
from stls_warehouse.publish.audit import (
    CHECKSUM_RULE,
    AuditFailed,
    audit_candidate,
    canonical_checksum,
    sha256_of,
    verify_release,
)
from stls_warehouse.publish.manifest import (
    FileEntry,
    Hold,
    InputFile,
    Manifest,
    PublicationStatus,
    ReturnInRelease,
    TableEntry,
)
from stls_warehouse.sql import quote_ident, sql_string

if TYPE_CHECKING:
    import duckdb

# The fixed tables of spec/marts.md; every other table dbt builds in `marts` is published too
# (the submission ledger and the data quality results, for auditors, included).
CONTRACT_TABLES = (
    "fct_ledger_lines",
    "mart_service_line_budget_outturn",
    "mart_expenditure_breakdown",
    "mart_return_status",
)
# The data quality results in the files release, which every BI user reads: the name, row
# references and observed values (which quote header and cell text) of a file that was not
# accepted are left out. Auditors read them in full through PostgreSQL (role stls_auditor),
# loaded from the release's `auditor/` folder, which only the pipeline's own user can read.
DATA_QUALITY_RESULTS = "mart_data_quality_results"
AUDITOR_FOLDER = "auditor"
_DQ_FOR_EVERY_READER_SQL = """(
    select * exclude (from_school_text) replace (
        case when from_school_text then null else file_name end as file_name,
        case when from_school_text then null else row_refs end as row_refs,
        case when from_school_text then null else observed end as observed
    )
    from (
        select *, file_sha256 is not null and file_sha256 not in (
            select file_sha256 from wh.raw.submissions where status = 'ACCEPTED'
        ) as from_school_text
        from wh.marts.mart_data_quality_results
    )
)"""
# Tables that record the runs themselves (each run's checks, with its run id and time): a run
# that changes only these has nothing new to publish, so they do not count as a change.
RUN_RECORD_TABLES = ("mart_data_quality_results",)
HOLD_FILE = "hold.json"  # written by a rollback; `stls publish --release` removes it
STATUS_FILE = "status.json"  # what each target serves after the last publication
log = logging.getLogger(__name__)
MANIFEST_FORMAT = 2
# Fixed reader paths under published/, each a symlink through `current`.
LINKS = ("parquet", "csv", "stls.duckdb", "stls_finance.xlsx", "stls_data_quality.xlsx", "manifest.json")
# The workbooks: finance's tables, and the data quality results for auditors in their own.
FINANCE_WORKBOOK = "stls_finance.xlsx"
QUALITY_WORKBOOK = "stls_data_quality.xlsx"
QUALITY_WORKBOOK_TABLES = ("mart_data_quality_results",)


class NothingToRollBack(StlsError, RuntimeError):
    """There is no earlier complete release to restore."""


def published_tables(con: duckdb.DuckDBPyConnection, catalog: str = "") -> tuple[str, ...]:
    """Every table in the warehouse's `marts` schema; the contract's four must be there."""
    where = f" and table_catalog = '{catalog}'" if catalog else ""
    names = tuple(
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables "
            f"where table_schema = 'marts' and table_type = 'BASE TABLE'{where} order by table_name"
        ).fetchall()
    )
    missing = sorted(set(CONTRACT_TABLES) - set(names))
    if missing:
        raise RuntimeError(f"cannot publish: the warehouse has no marts.{', marts.'.join(missing)}")
    return names


def current_release_dir(paths: Paths) -> Path | None:
    """The current release's folder, resolved once: read every table of one release from it."""
    link = paths.published / "current"
    if link.is_symlink() or link.exists():
        return link.resolve()
    legacy = paths.parquet  # before releases had a `current` link
    if (legacy / "manifest.json").exists():
        return legacy.resolve().parent
    return None


def release_manifest(release: Path) -> Manifest | None:
    """A release folder's manifest (at the older path `parquet/manifest.json` in early releases)."""
    for candidate in (release / "manifest.json", release / "parquet" / "manifest.json"):
        if candidate.exists():
            manifest: Manifest = json.loads(candidate.read_text(encoding="utf-8"))
            return manifest
    return None


def current_manifest(paths: Paths) -> Manifest | None:
    release = current_release_dir(paths)
    return release_manifest(release) if release else None


def postgres_url() -> str | None:
    return settings().postgres_url


def publish(paths: Paths) -> Manifest:
    """Build, audit and swap in a release of the warehouse's marts; returns its manifest.

    When the warehouse holds exactly the current release (run records such as the data quality
    results aside), nothing is written and the current manifest is returned (PostgreSQL still
    gets it if it lacks it). A damaged current release (its link, manifest or a file gone or
    changed) is replaced by a fresh release from the warehouse, and the status says so. While a
    rollback holds (`stls publish --release` lifts it), nothing newer is made current.

    Files first, then PostgreSQL (retried): a server that is down or locked by a reader never
    keeps the files behind; when PostgreSQL stays behind, `published/status.json` says so and
    PostgresPublishFailed names the release each target serves.
    """

    paths.published.mkdir(parents=True, exist_ok=True)
    with _publication_lock(paths):
        _clean_leftovers(paths)
        held = publication_hold(paths)
        if held is not None:
            current = current_manifest(paths)
            log.warning("%s", hold_message(held))
            _write_status(paths, current, held=held)
            if current is None:
                raise NothingToRollBack(hold_message(held))
            return current
        current, damage = _current_release(paths)
        spill = paths.work / ".publish_spill"
        spill.mkdir(parents=True, exist_ok=True)
        con = exports.connect_quietly(spill_to=spill)
        try:
            con.execute(f"attach {sql_string(str(paths.warehouse))} as wh (read_only)")
            sources = _sources(con)
            checksums = {t: canonical_checksum(con, r) for t, r in sources.items()}
            if _unchanged(current, checksums):
                assert current is not None
                _ensure_links(paths)
                _publish_to_targets(paths, current_release_dir(paths), current, only_if_behind=True)
                return current
            release_id = _new_release_id(current_manifest_or_none(paths))
            staging = paths.published / "releases" / f".{release_id}.tmp"
            try:
                manifest = _write_candidate(
                    con, staging, release_id, sources, checksums, current, current_release_dir(paths)
                )
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
        finally:
            con.close()
            shutil.rmtree(spill, ignore_errors=True)
        try:
            audit_candidate(staging, manifest)
            _make_read_only(staging)
            release_dir = staging.with_name(release_id)
            os.replace(staging, release_dir)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        _make_current(paths, release_id)
        from stls_warehouse.retention import prune_releases

        prune_releases(paths)  # STLS_KEEP_RELEASES, never the current or an evidence pack's
        if damage:
            log.warning("repaired: %s; release %s was published from the warehouse", damage, release_id)
        _publish_to_targets(paths, release_dir, manifest, only_if_behind=False, repaired=damage)
        return manifest


def rollback(paths: Paths) -> Manifest:
    """Make the release before the current one current again, on every target, atomically.

    The rollback holds: later runs publish nothing newer until an operator lifts it with
    `stls publish --release`.
    """
    with _publication_lock(paths):
        current = current_manifest(paths)
        if current is None:
            raise NothingToRollBack("nothing has been published yet")
        earlier = [r for r in complete_releases(paths) if r.name < current["release_id"]]
        if not earlier:
            raise NothingToRollBack(f"no release older than {current['release_id']} is kept")
        previous = earlier[-1]
        manifest = verify_release(previous)
        held: Hold = {
            "release_id": previous.name,
            "rolled_back_from": current["release_id"],
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        write_atomically(paths.published / HOLD_FILE, json.dumps(held, indent=1).encode(), mode=0o644)
        _make_current(paths, previous.name)
        _publish_to_targets(paths, previous, manifest, only_if_behind=False, held=held)
        return manifest


def release_hold(paths: Paths) -> Hold | None:
    """Lift a rollback's hold (`stls publish --release`): the next run publishes again."""
    with _publication_lock(paths):
        held = publication_hold(paths)
        (paths.published / HOLD_FILE).unlink(missing_ok=True)
        return held


def publication_hold(paths: Paths) -> Hold | None:
    """The rollback that holds publication, or None."""
    try:
        held: Hold = json.loads((paths.published / HOLD_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError:  # a damaged hold still holds: publishing over a rollback is the worse fault
        return {"release_id": "unknown", "rolled_back_from": "unknown", "at": "unknown"}
    return held


def hold_message(held: Hold) -> str:
    return (
        f"publication is held at release {held['release_id']} by a rollback from "
        f"{held['rolled_back_from']} at {held['at']}; nothing newer is published until an operator "
        "runs `stls publish --release`"
    )


def publication_status(paths: Paths) -> PublicationStatus | None:
    """What each target serves, as the last publication left it (`published/status.json`)."""
    try:
        status: PublicationStatus = json.loads((paths.published / STATUS_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    return status


def republish(paths: Paths) -> Manifest:
    """Publish the current release again to every configured target (files and PostgreSQL)."""
    with _publication_lock(paths):
        release = current_release_dir(paths)
        if release is None or not (release / "manifest.json").exists():
            raise NothingToRollBack("nothing has been published yet; run `stls run` first")
        manifest = verify_release(release)
        _make_current(paths, release.name)
        _publish_to_targets(paths, release, manifest, only_if_behind=False, held=publication_hold(paths))
        return manifest


def _current_release(paths: Paths) -> tuple[Manifest | None, str | None]:
    """The current release's manifest when it is whole, else None and what is damaged."""
    release = current_release_dir(paths)
    if release is None:
        kept = complete_releases(paths)
        damage = f"published/current is missing (the last release kept is {kept[-1].name})" if kept else None
        return None, damage
    try:
        return verify_release(release), None
    except FileNotFoundError:
        return None, f"the current release {release.name} has no manifest.json"
    except ValueError as error:  # a corrupt manifest (JSONDecodeError is a ValueError)
        return None, f"manifest.json of the current release {release.name} is corrupt ({error})"
    except AuditFailed as failed:
        return None, f"the current release {release.name} is damaged: {'; '.join(failed.problems)}"


def current_manifest_or_none(paths: Paths) -> Manifest | None:
    try:
        return current_manifest(paths)
    except (OSError, ValueError):
        return None


def _clean_leftovers(paths: Paths) -> None:
    """Candidates of a publisher that died (under the lock, so none is being written)."""
    releases = paths.published / "releases"
    if releases.is_dir():
        for left in releases.glob(".*.tmp"):
            log.warning("removing %s, left by a publication that did not finish", left)
            shutil.rmtree(left, ignore_errors=True)


def _make_read_only(release: Path) -> None:
    """A release's files are never written again (hard links share them between releases)."""
    for path in release.rglob("*"):
        if path.is_file() and not path.is_symlink():
            path.chmod(0o400 if path.parent.name == AUDITOR_FOLDER else 0o444)


def complete_releases(paths: Paths) -> list[Path]:
    """Kept releases in the current layout, oldest first."""
    folder = paths.published / "releases"
    if not folder.exists():
        return []
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_dir() and not p.name.startswith(".") and _format_of(p / "manifest.json") == MANIFEST_FORMAT
    )


def code_version() -> str:
    """`git describe` of the checkout when there is one, otherwise the package version."""
    if (REPO_ROOT / ".git").exists() and shutil.which("git"):
        done = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "describe", "--always", "--dirty", "--tags"],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode == 0 and done.stdout.strip():
            return f"git:{done.stdout.strip()}"
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"stls-warehouse=={version('stls-warehouse')}"
    except PackageNotFoundError:
        return "unknown"


# --- building the candidate ---------------------------------------------------------------


def _sources(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    sources = {t: f"wh.marts.{quote_ident(t)}" for t in published_tables(con, "wh")}
    if DATA_QUALITY_RESULTS in sources:
        sources[DATA_QUALITY_RESULTS] = _DQ_FOR_EVERY_READER_SQL
    return dict(sorted(sources.items()))


def _write_auditor_copies(con: duckdb.DuckDBPyConnection, staging: Path) -> None:
    """The data quality results in full, for PostgreSQL's auditor role only: the files
    release, which every BI user reads, carries them without school text (see above)."""
    folder = staging / AUDITOR_FOLDER
    folder.mkdir(mode=0o700)
    exports.write_parquet(
        con, "wh.marts.mart_data_quality_results", folder / f"{DATA_QUALITY_RESULTS}.parquet"
    )


def _unchanged(current: Manifest | None, checksums: dict[str, tuple[int, str]]) -> bool:
    if current is None or current.get("format") != MANIFEST_FORMAT:
        return False
    if any(v.get("checksum_rule") != CHECKSUM_RULE for v in current["tables"].values()):
        return False  # checksummed under an earlier rule: published again once, under this one
    if any(v.get("docs") != docs_fingerprint(t) for t, v in current["tables"].items()):
        return False  # the tables' documentation changed: every format carries it
    published = {
        t: (v["rows"], v["checksum"]) for t, v in current["tables"].items() if t not in RUN_RECORD_TABLES
    }
    return published == {t: v for t, v in checksums.items() if t not in RUN_RECORD_TABLES}


def _new_release_id(current: Manifest | None) -> str:
    release_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    if current and release_id <= current["release_id"]:  # a clock step back never reorders releases
        raise RuntimeError(f"clock is behind the current release {current['release_id']}")
    return release_id


def _write_candidate(
    con: duckdb.DuckDBPyConnection,
    staging: Path,
    release_id: str,
    sources: dict[str, str],
    checksums: dict[str, tuple[int, str]],
    current: Manifest | None,
    current_dir: Path | None,
) -> Manifest:
    (staging / "parquet").mkdir(parents=True)
    (staging / "csv").mkdir()
    columns = {t: exports.columns_of(con, r) for t, r in sources.items()}
    reused = _reusable_files(current, current_dir, checksums, columns)
    files: dict[str, FileEntry] = {}
    in_order: dict[str, str] = {}
    for table, relation in sources.items():
        parquet, csv = staging / "parquet" / f"{table}.parquet", staging / "csv" / f"{table}.csv"
        if table in reused:
            assert current_dir is not None
            for name, entry in reused[table].items():
                _link_or_copy(current_dir / name, staging / name)
                files[name] = entry
        else:
            exports.write_parquet(con, relation, parquet, table_doc(table))
        in_order[table] = exports.in_file_order(con, parquet, columns[table])
        if table not in reused:
            exports.write_csv(con, in_order[table], columns[table], csv, ordered=True)
    exports.write_duckdb(con, in_order, staging / "stls.duckdb", ordered=True)
    if DATA_QUALITY_RESULTS in sources:
        _write_auditor_copies(con, staging)
    workbooks: dict[str, dict[str, str]] = {}
    for workbook, title, tables in (
        (
            FINANCE_WORKBOOK,
            f"STLS published tables, release {release_id}",
            [t for t in in_order if t not in QUALITY_WORKBOOK_TABLES],
        ),
        (
            QUALITY_WORKBOOK,
            f"STLS data quality results, release {release_id}",
            [t for t in in_order if t in QUALITY_WORKBOOK_TABLES],
        ),
    ):
        workbooks[workbook] = exports.write_xlsx(
            con, {t: in_order[t] for t in tables}, columns, staging / workbook, title, ordered=True
        )
    for path in sorted(staging.rglob("*")):
        name = path.relative_to(staging).as_posix()
        if path.is_file() and name not in files:
            files[name] = {"sha256": sha256_of(path), "bytes": path.stat().st_size}
    files = dict(sorted(files.items()))
    manifest: Manifest = {
        "format": MANIFEST_FORMAT,
        "release_id": release_id,
        "published_at": datetime.now(UTC).isoformat(),
        "code_version": code_version(),
        "previous_release_id": current["release_id"] if current else None,
        "tables": {
            t: TableEntry(
                rows=checksums[t][0],
                checksum=checksums[t][1],
                checksum_rule=CHECKSUM_RULE,
                columns=[[c.name, c.type] for c in columns[t]],
                docs=docs_fingerprint(t),
            )
            for t in sources
        },
        "files": files,
        # Tables whose Parquet and CSV files are those of the release named (unchanged since).
        "files_reused_from": {t: current["release_id"] for t in reused} if current else {},
        "export_layout": exports.EXPORT_LAYOUT,
        "duckdb_storage_version": exports.DUCKDB_STORAGE_VERSION,
        "csv_formula_guard": exports.CSV_FORMULA_GUARD,
        "xlsx_sheets": workbooks[FINANCE_WORKBOOK],  # the finance workbook's, as before
        "xlsx_workbooks": workbooks,
        "returns": _returns_in_release(con),
        "inputs": _inputs(con),
    }
    text = json.dumps(manifest, indent=1, default=str)
    (staging / "manifest.json").write_text(text, encoding="utf-8")
    (staging / "parquet" / "manifest.json").write_text(text, encoding="utf-8")  # the older path
    return manifest


def _reusable_files(
    current: Manifest | None,
    current_dir: Path | None,
    checksums: dict[str, tuple[int, str]],
    columns: dict[str, list[exports.Column]],
) -> dict[str, dict[str, FileEntry]]:
    """The current release's Parquet and CSV files (with their manifest entries) per unchanged table.

    A table's files are taken only when the current release checksummed it under the same rule
    to the same rows and checksum, with the same columns, wrote them in the same layout and
    CSV formula guard, and the files still match its manifest.
    """
    if (
        current is None
        or current_dir is None
        or current.get("format") != MANIFEST_FORMAT
        or current.get("export_layout") != exports.EXPORT_LAYOUT
        or current.get("csv_formula_guard") != exports.CSV_FORMULA_GUARD
    ):
        return {}
    reusable: dict[str, dict[str, FileEntry]] = {}
    for table, (rows, checksum) in checksums.items():
        entry = current["tables"].get(table)
        if (
            entry is None
            or entry.get("checksum_rule") != CHECKSUM_RULE
            or (entry["rows"], entry["checksum"]) != (rows, checksum)
            or entry["columns"] != [[c.name, c.type] for c in columns[table]]
            or entry.get("docs") != docs_fingerprint(table)
        ):
            continue
        names = (f"parquet/{table}.parquet", f"csv/{table}.csv")
        found = {name: current["files"].get(name) for name in names}
        if all(
            e is not None and (current_dir / n).is_file() and sha256_of(current_dir / n) == e["sha256"]
            for n, e in found.items()
        ):
            reusable[table] = {n: e.copy() for n, e in found.items() if e is not None}
    return reusable


def _link_or_copy(source: Path, target: Path) -> None:
    """A hard link to an earlier release's file (never written to again), or a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _submission_rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, object]]:
    """The rows of a query on the submission ledger, keyed by their column names, with
    `received_at` as text (the manifest is JSON)."""
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description or ()]
    return [
        {k: (str(v) if k == "received_at" else v) for k, v in zip(names, row, strict=True)}
        for row in cursor.fetchall()
    ]


def _returns_in_release(con: duckdb.DuckDBPyConnection) -> list[ReturnInRelease]:
    """The accepted returns whose figures the release holds (the current version of each)."""
    rows = _submission_rows(
        con,
        "select s.original_name as file, s.file_sha256 as sha256, s.return_type, s.sla_code, "
        "s.period_key, s.version, s.received_at from wh.raw.submissions s "
        "where s.status = 'ACCEPTED' and s.file_sha256 in "
        "(select current_file_sha256 from wh.marts.mart_return_status) "
        "order by s.return_type, s.sla_code, s.period_key",
    )
    return cast(list[ReturnInRelease], rows)


def _inputs(con: duckdb.DuckDBPyConnection) -> list[InputFile]:
    """Every file ever received, with its hash and outcome (names only of accepted files)."""
    rows = _submission_rows(
        con,
        "select file_sha256 as sha256, status, "
        "case when status = 'ACCEPTED' then original_name end as file, "
        "return_type, sla_code, period_key, received_at from wh.raw.submissions "
        "order by received_at, file_sha256, status",
    )
    return cast(list[InputFile], rows)


# --- publishing -------------------------------------------------------------------------


def _publish_to_targets(
    paths: Paths,
    release: Path | None,
    manifest: Manifest,
    *,
    only_if_behind: bool,
    repaired: str | None = None,
    held: Hold | None = None,
) -> None:
    """PostgreSQL, after the files: retried, and its state written to `published/status.json`."""
    url = postgres_url()
    if url is None or release is None:
        _write_status(paths, manifest, repaired=repaired, held=held)
        return
    from stls_warehouse.publish import postgres

    attempts, pause = settings().postgres_attempts, settings().postgres_retry_seconds
    error: Exception | None = None
    for attempt in range(1, attempts + 1):
        try:
            if not (only_if_behind and postgres.published_release_id(url) == manifest["release_id"]):
                postgres.publish_release(url, release, manifest)
            error = None
            break
        except (postgres.PostgresPublishFailed, OSError, postgres_errors()) as failed:
            error = failed
            log.warning("PostgreSQL publication attempt %d of %d failed: %s", attempt, attempts, failed)
            if attempt < attempts:
                time.sleep(pause)
    served = _served_release(url)
    _write_status(paths, manifest, repaired=repaired, held=held, postgres=(served, error))
    if error is not None:
        raise postgres.PostgresPublishFailed(
            f"the files serve release {manifest['release_id']}, but PostgreSQL is behind "
            f"(it serves {served or 'nothing'}) after {attempts} attempt(s): {error}. "
            "`stls publish` publishes the current release to PostgreSQL again."
        ) from error


def postgres_errors() -> type[Exception]:
    import psycopg

    return psycopg.Error


def _served_release(url: str) -> str | None:
    from stls_warehouse.publish import postgres

    try:
        return postgres.published_release_id(url)
    except Exception:  # the server is what failed: say "unknown" rather than hide the first error
        return "unknown (the server did not answer)"


def _write_status(
    paths: Paths,
    manifest: Manifest | None,
    *,
    repaired: str | None = None,
    held: Hold | None = None,
    postgres: tuple[str | None, Exception | None] | None = None,
) -> None:
    files = manifest["release_id"] if manifest else None
    status: PublicationStatus = {
        "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "release_id": files,
        "targets": {"files": {"release_id": files, "behind": False}},
        "held": held,
        "repaired": repaired,
    }
    if postgres is not None:
        served, error = postgres
        status["targets"]["postgresql"] = {
            "release_id": served,
            "behind": served != files,
            "error": None if error is None else str(error),
        }
    write_atomically(paths.published / STATUS_FILE, json.dumps(status, indent=1).encode("utf-8"), mode=0o644)


def _make_current(paths: Paths, release_id: str) -> None:
    _swap_link(paths.published / "current", Path("releases") / release_id)
    _ensure_links(paths)


def _ensure_links(paths: Paths) -> None:
    if not (paths.published / "current").is_symlink():
        return
    for name in LINKS:
        link = paths.published / name
        target = Path("current") / name
        if link.is_symlink() and Path(os.readlink(link)) == target:
            continue
        _swap_link(link, target)


def _swap_link(link: Path, target: Path) -> None:
    if link.exists() and not link.is_symlink():
        if link.is_dir():
            shutil.rmtree(link)  # a plain folder left by an older layout
        else:
            link.unlink()
    replace_symlink(link, target)


def _format_of(manifest: Path) -> int | None:
    try:
        return int(json.loads(manifest.read_text(encoding="utf-8")).get("format") or 1)
    except (OSError, ValueError):
        return None


@contextmanager
def _publication_lock(paths: Paths) -> Iterator[None]:
    """One publisher at a time (the pipeline's task, `stls publish`, a rollback)."""
    paths.published.mkdir(parents=True, exist_ok=True)
    with (paths.published / ".publish.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


__all__ = [
    "CONTRACT_TABLES",
    "AuditFailed",
    "Hold",
    "Manifest",
    "NothingToRollBack",
    "PublicationStatus",
    "canonical_checksum",
    "current_manifest",
    "current_release_dir",
    "publication_hold",
    "publication_status",
    "publish",
    "release_hold",
    "republish",
    "rollback",
]
