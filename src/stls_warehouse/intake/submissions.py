"""The submission ledger: the single writer that records staged returns in the warehouse.

Append-only. A byte-identical file under a new name is a DUPLICATE that repeats the first
outcome and changes nothing; the same file seen again under the same name is not even a
new row, so re-running intake over an unchanged landing zone changes nothing. A new
accepted return for an SLA and period gets the next version and supersedes the last, and
what changed between the two is recorded (raw.submission_changes, plus a readable page in
the raw zone). Everything of one run is committed in one transaction; the files written
beside it (receipts, quarantine reports, change pages, the period summary) only after it.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from stls_warehouse.intake import changes, feedback
from stls_warehouse.intake.contract import KPI, LEDGER
from stls_warehouse.intake.problems import ProblemDict
from stls_warehouse.intake.raw_zone import RawZone
from stls_warehouse.intake.record import write_missing
from stls_warehouse.intake.stage import StagedOutcome, read_staged
from stls_warehouse.warehouse import connect

if TYPE_CHECKING:
    import duckdb

_LEDGER_COLUMNS = ", ".join(LEDGER.staged)
_KPI_COLUMNS = ", ".join(KPI.staged)


@dataclass
class LoadSummary:
    accepted: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    duplicate: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: len(v) for k, v in self.__dict__.items()}


def load_staged(
    run_dir: Path,
    warehouse: Path,
    zone: RawZone,
    quarantine: Path,
    received_at: datetime,
    *,
    reports_dir: Path | None = None,
) -> LoadSummary:
    """Record a run's staged outcomes; `reports_dir` defaults to <STLS_HOME>/reports/intake."""
    staged = _share_gate_verdicts(read_staged(run_dir))
    summary = LoadSummary()
    receipts: list[tuple[str, str]] = []
    rejected: list[StagedOutcome] = []
    compared: list[changes.Comparison] = []
    con = connect(warehouse)
    try:
        con.begin()
        for record in staged:
            outcome = _record(con, run_dir, record, received_at, compared)
            getattr(summary, outcome).append(record["file"])
            # "unchanged": recorded by a run that died after its commit. Receipts and the
            # rejection report are written again (both idempotent), so nothing stays half-done.
            receipts.append((record["sha256"], record["file"]))
            if outcome == "rejected" or (
                outcome == "unchanged"
                and record["status"] != "ACCEPTED"
                and not (quarantine / record["sha256"] / "rejection.json").exists()
            ):
                rejected.append(record)
        con.commit()
        con.execute("checkpoint")
        record_batches = write_missing(con, zone.root)  # the record a lost warehouse is rebuilt from
        if (
            summary.accepted
            or summary.rejected
            or summary.duplicate
            or record_batches
            or not (reports_dir or quarantine.parent / "reports" / "intake").exists()
        ):
            feedback.write_submission_summary(
                con, reports_dir or quarantine.parent / "reports" / "intake", received_at
            )
    except BaseException:
        con.rollback()
        raise
    finally:
        con.close()
    for record in rejected:
        _quarantine(zone, quarantine, record, received_at)
    for comparison in compared:
        _write_change_pages(zone, comparison)
    for sha256, name in receipts:
        zone.record_receipt(sha256, name)
    return summary


def _share_gate_verdicts(staged: list[StagedOutcome]) -> list[StagedOutcome]:
    """Identical bytes staged under two names hold identical lines, so a quality-gate rejection
    of one (the gate keys its verdicts by hash) holds for both."""
    gate_errors: dict[str, list[ProblemDict]] = {}
    for record in staged:
        found = [e for e in record["errors"] if e.get("rule")]
        if found:
            gate_errors.setdefault(record["sha256"], found)
    for record in staged:
        extra = gate_errors.get(record["sha256"])
        if extra and record["status"] == "ACCEPTED":
            record["errors"] = [*record["errors"], *extra]
            record["status"] = "REJECTED"
    return staged


def _record(
    con: duckdb.DuckDBPyConnection,
    run_dir: Path,
    record: StagedOutcome,
    received_at: datetime,
    compared: list[changes.Comparison],
) -> str:
    sha = record["sha256"]
    first = con.execute(
        "select status, problems_json, original_name from raw.submissions "
        "where file_sha256 = ? and status <> 'DUPLICATE' order by received_at limit 1",
        [sha],
    ).fetchone()
    if first is not None:
        seen = con.execute(
            "select 1 from raw.submissions where file_sha256 = ? and original_name = ?",
            [sha, record["file"]],
        ).fetchone()
        if seen:
            return "unchanged"
        problems = json.loads(first[1])
        problems["duplicate_of"] = first[2]
        problems["repeated_status"] = first[0]
        _insert_submission(con, record, received_at, "DUPLICATE", None, None, problems)
        return "duplicate"
    problems = {"errors": record["errors"], "warnings": record["warnings"]}
    if record["status"] != "ACCEPTED":
        _insert_submission(con, record, received_at, "REJECTED", None, None, problems)
        return "rejected"
    previous = con.execute(
        "select file_sha256, version, original_name from raw.submissions where status = 'ACCEPTED' "
        "and return_type = ? and sla_code = ? and period_key = ? order by version desc limit 1",
        [record["return_type"], record["sla_code"], record["period_key"]],
    ).fetchone()
    version = (previous[1] + 1) if previous else 1
    _insert_submission(
        con, record, received_at, "ACCEPTED", version, previous[0] if previous else None, problems
    )
    lines = run_dir / f"{sha}.parquet"
    table, columns = (
        ("raw.ledger_lines", _LEDGER_COLUMNS)
        if record["return_type"] == "ledger"
        else ("raw.kpi_values", _KPI_COLUMNS)
    )
    con.execute(
        f"insert into {table} (file_sha256, {columns}) select ?, {columns} from read_parquet(?)",
        [sha, str(lines)],
    )
    if previous is not None:
        comparison = changes.compare(
            cast(str, record["return_type"]),  # an accepted return's type is known
            _rows(con, table, columns, previous[0]),
            _rows(con, table, columns, sha),
            sla_code=record["sla_code"],
            period_key=record["period_key"],
            version=version,
            file=record["file"],
            file_sha256=sha,
            previous_file=previous[2],
            previous_sha256=previous[0],
        )
        _insert_changes(con, comparison, received_at)
        compared.append(comparison)
    return "accepted"


def _rows(con: duckdb.DuckDBPyConnection, table: str, columns: str, sha: str) -> list[dict[str, Any]]:
    cursor = con.execute(f"select {columns} from {table} where file_sha256 = ?", [sha])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _insert_changes(
    con: duckdb.DuckDBPyConnection, comparison: changes.Comparison, recorded_at: datetime
) -> None:
    c = comparison.as_dict()
    con.execute(
        """
        insert into raw.submission_changes (
            file_sha256, supersedes_sha256, return_type, sla_code, period_key, version,
            recorded_at, lines_before, lines_after, lines_added, lines_removed, lines_changed,
            lines_unchanged, total_before, total_after, changes_json
        ) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [
            c["file_sha256"],
            c["supersedes_sha256"],
            c["return_type"],
            c["sla_code"],
            c["period_key"],
            c["version"],
            recorded_at,
            c["lines_before"],
            c["lines_after"],
            c["lines_added"],
            c["lines_removed"],
            c["lines_changed"],
            c["lines_unchanged"],
            c["total_before"],
            c["total_after"],
            json.dumps({k: c[k] for k in ("added", "removed", "changed")}),
        ],
    )


def _write_change_pages(zone: RawZone, comparison: changes.Comparison) -> None:
    """The comparison, readable, in the raw zone under the new version's hash."""
    folder = zone.root / "changes"
    folder.mkdir(parents=True, exist_ok=True)
    sha = comparison.file_sha256
    (folder / f"{sha}.json").write_text(json.dumps(comparison.as_dict(), indent=1), encoding="utf-8")
    (folder / f"{sha}.md").write_text(changes.markdown(comparison), encoding="utf-8")


def _insert_submission(
    con: duckdb.DuckDBPyConnection,
    record: StagedOutcome,
    received_at: datetime,
    status: str,
    version: int | None,
    supersedes: str | None,
    problems: dict[str, Any],
) -> None:
    con.execute(
        """
        insert into raw.submissions (
            file_sha256, original_name, received_at, file_mtime, return_type, sla_code,
            period_key, financial_year, period, kpi_month, status, version,
            supersedes_sha256, is_nil_return, line_count, amount_total, error_count,
            warning_count, problems_json
        ) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [
            record["sha256"],
            record["file"],
            received_at,
            record["mtime"],
            record["return_type"],
            record["sla_code"],
            record["period_key"],
            record["financial_year"],
            record["period"],
            record["kpi_month"],
            status,
            version,
            supersedes,
            record["is_nil_return"],
            record["line_count"],
            record["amount_total"],
            len(problems.get("errors", [])),
            len(problems.get("warnings", [])),
            json.dumps(problems),
        ],
    )


def _quarantine(zone: RawZone, quarantine: Path, record: StagedOutcome, received_at: datetime) -> None:
    """A rejected file's bytes and its reports, by hash; the school's name is data only."""
    folder = quarantine / record["sha256"]
    folder.mkdir(parents=True, exist_ok=True, mode=0o750)  # owner and group only
    suffix = Path(record["file"]).suffix.lower()
    copy = folder / f"return{suffix if suffix in ('.csv', '.xlsx') else '.bin'}"
    if not copy.exists():
        shutil.copyfile(zone.object_path(record["sha256"]), copy)
        copy.chmod(0o440)
    feedback.write_rejection_report(folder, record, received_at)
