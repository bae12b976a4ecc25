"""The pipeline's stages as plain functions: each DAG task and each CLI command calls one.

route -> intake (fanned out per SLA) -> gate -> load returns, then the returns service's
decisions (single writer) -> build -> publish.
Each stage is idempotent: running it again for the same inputs changes nothing.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

from stls_warehouse.config import Paths, paths
from stls_warehouse.progress import reported
from stls_warehouse.run_ids import new_run_id

if TYPE_CHECKING:
    from stls_warehouse.reports.monthly import MonthlyReportFile
    from stls_warehouse.transform import Mode

# What the stages return: each DAG task passes it on by XCom, so each is a plain JSON dict.
# The stages that hand on another module's summary as it is (`restore_warehouse`, the
# gates, the loads) return that module's dict.


class Batch(TypedDict):
    """Files for one mapped intake task: one SLA's landed files (`route_landing`), or one
    newly arrived file (`orchestration.arrivals.plan_arrivals`, which adds its label)."""

    sla_code: str
    files: list[str]
    label: NotRequired[str]  # the map index shown: the file's name on arrival, or the SLA


class IntakeResult(TypedDict):
    sla_code: str
    files: int
    outcomes: dict[str, int]  # staging status -> how many files


class BuildResult(TypedDict):
    restored_from_record: dict[str, Any]  # intake.record's summary of what was reloaded
    dbt_build: Mode
    dbt_build_reason: str
    dbt_build_seconds: float


class RetentionResult(TypedDict):
    releases_removed: list[str]
    data_docs_removed: list[str]
    run_logs_removed: list[str]


class PublishResult(TypedDict):
    release_id: str
    new_release: bool
    tables: dict[str, int]  # published table -> rows
    targets: list[str]
    retention: RetentionResult
    held: str | None
    repaired: str | None


class LocalRun(TypedDict):
    """`run_locally`: what each stage returned."""

    intake: list[IntakeResult]
    gate: dict[str, Any]
    load: dict[str, Any]
    decisions: dict[str, Any]
    checked: dict[str, Any]
    release: PublishResult
    monthly_report: MonthlyReportFile


def _run_dir(home: Paths, run_id: str) -> Path:
    return home.work / re.sub(r"[^A-Za-z0-9_.-]", "_", run_id)


@reported("route_landing")
def route_landing() -> list[Batch]:
    """The landing zone's files grouped by SLA: one mapped intake task per batch."""
    from stls_warehouse.intake.landing import discover, route, settled

    home = paths().ensure()
    clean_work(home)
    arrived, _still_arriving = settled(home.landing, discover(home.landing))
    batches = route(arrived)
    return [{"sla_code": sla, "files": files} for sla, files in batches.items()]


WORK_LEFTOVER_SECONDS = 24 * 3600  # far longer than any run (every task has a time limit)


def clean_work(home: Paths, *, older_than: float = WORK_LEFTOVER_SECONDS) -> list[str]:
    """Remove run folders under work/ that a run which died left behind. A run's folder lives
    from its intake to its load; one untouched for a day belongs to no live run (its files
    have no receipts, so the next run reads them again)."""
    import logging
    import time

    removed: list[str] = []
    if not home.work.is_dir():
        return removed
    cutoff = time.time() - older_than
    for folder in home.work.iterdir():
        if folder.name.startswith(".") or not folder.is_dir() or folder.is_symlink():
            continue
        newest = max((p.stat().st_mtime for p in folder.rglob("*")), default=folder.stat().st_mtime)
        if max(newest, folder.stat().st_mtime) < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    if removed:
        logging.getLogger(__name__).warning(
            "removed %d run folder(s) left in %s: %s", len(removed), home.work, removed
        )
    return removed


@reported("intake")
def intake_batch(sla_code: str, files: list[str], run_id: str) -> IntakeResult:
    from stls_warehouse.intake.raw_zone import RawZone
    from stls_warehouse.intake.stage import stage_files

    home = paths().ensure()
    summaries = stage_files(files, _run_dir(home, run_id), RawZone(home.raw), landing=home.landing)
    counts: dict[str, int] = {}
    for summary in summaries:
        counts[summary["status"]] = counts.get(summary["status"], 0) + 1
    return {"sla_code": sla_code, "files": len(files), "outcomes": counts}


def restore_warehouse(home: Paths) -> dict[str, Any]:
    """Reload what the warehouse lacks of the submission record (all of it when the warehouse
    is missing or was recreated): never publish from a warehouse that lost its returns."""
    from stls_warehouse.intake.record import restore_missing

    return restore_missing(home.warehouse, home.raw).as_dict()


def rebuild(*, build: bool = True) -> dict[str, Any]:
    """`stls rebuild`: a new warehouse from the raw zone's submission record, then a full dbt build."""
    from stls_warehouse.intake.record import rebuild as rebuild_from_record
    from stls_warehouse.intake.record import unrecorded_receipts

    home = paths().ensure()
    restored, kept = rebuild_from_record(home.warehouse, home.raw)
    result: dict[str, Any] = restored.as_dict() | {
        "previous_warehouse": str(kept) if kept else None,
        "unrecorded_receipts": unrecorded_receipts(home.raw),
    }
    # The returns service's decisions are their own record (one file each): loaded again.
    result["decisions"] = load_decisions(new_run_id("rebuild"))
    if build:
        result |= build_warehouse(full=True)
    return result


@reported("gate_returns")
def gate_returns(run_id: str) -> dict[str, Any]:
    """Content rules on the run's staged returns (GX, one process); reads the warehouse
    read-only for each SLA's history, so the DAG runs it in the writer pool."""
    from stls_warehouse.quality.return_gates import gate_returns as run_gate

    home = paths().ensure()
    restore_warehouse(home)
    run_dir = _run_dir(home, run_id)
    if not run_dir.exists():
        return {"checks": 0, "failed": 0}
    outcome = run_gate(
        run_dir,
        warehouse=home.warehouse,
        raw_root=home.raw,
        docs_dir=home.reports / "data_docs" / run_dir.name / "returns",
        run_id=run_id,
    )
    return outcome.as_dict()


@reported("load_returns")
def load_returns(run_id: str) -> dict[str, Any]:
    """Record the run's returns (the single warehouse writer), then tell each school what
    became of its file and update the data quality summary: every path that takes in
    returns does both (`report_intake`)."""
    from stls_warehouse.intake.raw_zone import RawZone
    from stls_warehouse.intake.stage import read_staged
    from stls_warehouse.intake.submissions import load_staged

    home = paths().ensure()
    restore_warehouse(home)
    run_dir = _run_dir(home, run_id)
    if not run_dir.exists():
        run_dir.mkdir(parents=True)
    staged = [(r["sha256"], r["file"]) for r in read_staged(run_dir)]
    summary = load_staged(run_dir, home.warehouse, RawZone(home.raw), home.quarantine, datetime.now(UTC))
    from stls_warehouse.quality.results import record_staged_results

    checks = record_staged_results(run_dir, home.warehouse)  # the return gate's rows
    shutil.rmtree(run_dir, ignore_errors=True)
    return summary.as_dict() | {"checks_recorded": checks} | report_intake(home, run_id, staged, summary)


def report_intake(home: Paths, run_id: str, staged: list[tuple[str, str]], summary: Any) -> dict[str, Any]:
    """Each school's feedback note and the data quality summary, after a load; what the run
    received, accepted, rejected, superseded and ignored as duplicate (progress.run_summary)."""
    from stls_warehouse.intake.notes import feedback_notes
    from stls_warehouse.quality.report import run_outcome, write_intake_summary

    unchanged = set(summary.unchanged)
    notes = feedback_notes(home, [(sha, Path(f).name) for sha, f in staged if f not in unchanged])
    outcome = run_outcome(home, staged, summary)
    # A run that received nothing leaves the last summary page as it was.
    page = write_intake_summary(home, run_id, outcome) if outcome["received"] else None
    return {k: v for k, v in outcome.items() if k != "files"} | {
        "feedback_notes": len(notes),
        "report": str(page) if page else None,
    }


def load_decisions(run_id: str) -> dict[str, Any]:
    """The returns service's decisions (explanations, sign-offs, waivers) not loaded yet,
    from $STLS_HOME/decisions/ into raw.portal_decisions, as the warehouse writer. A file
    that is not a valid decision is named in the task log and the data quality results and
    skipped; the others load."""
    from stls_warehouse.intake.portal_decisions import load_decisions as load

    home = paths().ensure()
    return load(home.decisions, home.warehouse, run_id=run_id).as_dict()


@reported("build_warehouse")
def build_warehouse(*, full: bool = False, as_of: str | None = None) -> BuildResult:
    """dbt: a full build when the dbt project changed or none succeeded yet, else only what
    the sources feed, or nothing when no source row and not the status date changed
    (transform.plan_build). `as_of` (YYYY-MM-DD) is the date return statuses are judged at,
    a dbt variable; without it, STLS_AS_OF_DATE or today. The decision and its reason are
    in the task log and the result."""
    import time

    from stls_warehouse import transform
    from stls_warehouse.warehouse import connect

    home = paths().ensure()
    restored = restore_warehouse(home)  # the monthly close builds without loading first
    connect(home.warehouse).close()  # the raw tables exist even before the first return
    started = time.monotonic()
    plan = transform.build(home, full=full, as_of=as_of)
    return {
        "restored_from_record": restored,
        "dbt_build": plan.mode,
        "dbt_build_reason": plan.reason,
        "dbt_build_seconds": round(time.monotonic() - started, 1),
    }


@reported("gate_warehouse")
def gate_warehouse(run_id: str | None = None) -> dict[str, Any]:
    """The gates on the built warehouse before publication (reconciliation, completeness,
    no personal data), as the warehouse writer. Raises GateFailed on a blocking failure,
    so publication never runs; the reason is in the raised error and the run's report."""
    from stls_warehouse.quality.warehouse_gates import gate_warehouse as run_gate

    run_id = run_id or new_run_id("manual")
    return run_gate(paths().ensure(), run_id).as_dict()


@reported("publish")
def publish_release() -> PublishResult:
    """Write, audit and publish the marts (files, and PostgreSQL when STLS_POSTGRES_URL is set),
    then apply the retention settings (retention.py)."""
    from stls_warehouse.publish.release import (
        current_manifest,
        hold_message,
        postgres_url,
        publication_status,
        publish,
    )
    from stls_warehouse.quality.results import ensure_mart_current

    home = paths().ensure()
    current: Mapping[str, Any] = current_manifest(home) or {}
    before = current.get("release_id")
    ensure_mart_current(home)  # every check recorded is published, gate or no gate
    manifest = publish(home)
    status: Mapping[str, Any] = publication_status(home) or {}
    return {
        "release_id": manifest["release_id"],
        "new_release": manifest["release_id"] != before,
        "tables": {t: v["rows"] for t, v in manifest["tables"].items()},
        "targets": ["files", "postgresql"] if postgres_url() else ["files"],
        "retention": apply_retention(home),
        "held": hold_message(status["held"]) if status.get("held") else None,
        "repaired": status.get("repaired"),
    }


@reported("monthly_report")
def write_monthly_report(period: str | None = None) -> MonthlyReportFile:
    """The monthly report of a period (default: the latest with an accepted ledger return)."""
    from stls_warehouse.reports.monthly import NoDataForPeriod, latest_period
    from stls_warehouse.reports.monthly import write_monthly_report as write

    home = paths().ensure()
    if period is None:
        latest = latest_period(home)
        if latest is None:
            return {"report": None, "note": "no ledger period has an accepted return yet"}
        period = latest.key
    try:
        return write(home, period)
    except NoDataForPeriod as nothing:  # a closed month with nothing received: no empty report
        return {"report": None, "note": str(nothing)}


def run_locally(run_id: str | None = None) -> LocalRun:
    """Every stage in this process, in order, without Airflow (tests and debugging)."""
    run_id = run_id or new_run_id("local", microseconds=True)
    intake = [intake_batch(b["sla_code"], b["files"], run_id) for b in route_landing() if b["files"]]
    gate = gate_returns(run_id)
    load = load_returns(run_id)
    decided = load_decisions(run_id)
    build_warehouse()
    checked = gate_warehouse(run_id)
    release = publish_release()
    report = write_monthly_report()  # as the DAG does
    return {
        "intake": intake,
        "gate": gate,
        "load": load,
        "decisions": decided,
        "checked": checked,
        "release": release,
        "monthly_report": report,
    }


def apply_retention(home: Paths, *, current_run: str | None = None) -> RetentionResult:
    """Every setting at once (a publishing run calls this); what was removed."""
    from stls_warehouse.quality.data_docs import prune_data_docs
    from stls_warehouse.retention import prune_releases, prune_run_logs
    from stls_warehouse.run_logs import run_log_dir

    return {
        "releases_removed": prune_releases(home),
        "data_docs_removed": prune_data_docs(home, current=current_run),
        "run_logs_removed": prune_run_logs(run_log_dir(home)),
    }
