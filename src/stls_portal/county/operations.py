"""Runs, releases and reports, for county finance and auditors (read only).

The current release and what changed since the one before it come from the releases' own
manifests (row counts and checksums per table); the last run from the local run's log; the
reports are the files the pipeline wrote under $STLS_HOME/reports, listed by kind, opened in
the browser from that listing only (a name is never taken from the request as a path).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stls_portal.published import Release
from stls_warehouse.config import Paths

REPORT_KINDS = (
    ("monthly", "Monthly reports", "monthly/*.html"),
    ("annual", "Annual reviews for the Schools Funding Forum", "annual/*"),
    ("dq", "Data quality summaries", "dq/*.html"),
    ("evidence", "Evidence packs for auditors", "evidence/*.zip"),
    ("intake", "Who has submitted what", "intake/submission_summary.*"),
)
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".pdf": "application/pdf",
    ".zip": "application/zip",
    ".csv": "text/csv; charset=utf-8",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass(frozen=True)
class TableChange:
    table: str
    rows_before: int | None
    rows_now: int | None


def release_summary(home: Path) -> dict[str, Any]:
    release = Release.current(home)
    manifest = release.manifest()
    previous_id = manifest.get("previous_release_id")
    previous: dict[str, Any] = {}
    if previous_id:
        from stls_warehouse.publish.release import release_manifest

        folder = Paths(home).published / "releases" / str(previous_id)
        previous = (release_manifest(folder) or {}) if folder.is_dir() else {}
    changes = []
    now_tables = manifest.get("tables", {})
    before_tables = previous.get("tables", {})
    for name in sorted(set(now_tables) | set(before_tables)):
        now, before = now_tables.get(name, {}), before_tables.get(name, {})
        if now.get("checksum") != before.get("checksum"):
            changes.append(TableChange(name, before.get("rows"), now.get("rows")))
    return {
        "release_id": manifest.get("release_id"),
        "published_at": manifest.get("published_at"),
        "code_version": manifest.get("code_version"),
        "previous_release_id": previous_id,
        "previous_kept": bool(previous),
        "changes": changes,
        "tables": len(now_tables),
    }


def last_run(home: Path, lines: int = 40) -> dict[str, Any] | None:
    """The local run's log: when it ended and its last lines."""
    from stls_warehouse.airflow_local import last_run_log

    path = last_run_log(Paths(home))
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    tail = text[-lines:]
    blocked = [line for line in text if "GateFailed" in line or "gate failed" in line.lower()]
    return {
        "path": str(path),
        "ended_at": datetime.fromtimestamp(path.stat().st_mtime, UTC),
        "tail": "\n".join(tail),
        "blocked": blocked[-3:],
    }


@dataclass(frozen=True)
class ReportFile:
    kind: str
    name: str
    size: int
    modified: datetime
    path: Path


def reports(home: Path) -> dict[str, tuple[str, list[ReportFile]]]:
    root = Paths(home).reports
    found: dict[str, tuple[str, list[ReportFile]]] = {}
    for kind, title, pattern in REPORT_KINDS:
        files = [
            ReportFile(kind, p.name, p.stat().st_size, datetime.fromtimestamp(p.stat().st_mtime, UTC), p)
            for p in sorted(root.glob(pattern), reverse=True)
            if p.is_file() and not p.name.startswith(".") and p.suffix in CONTENT_TYPES
        ]
        found[kind] = (title, files)
    return found


def report_file(home: Path, kind: str, name: str) -> ReportFile | None:
    """A report by kind and name, found in the listing (never opened by a path from the request)."""
    title_files = reports(home).get(kind)
    if title_files is None:
        return None
    return next((f for f in title_files[1] if f.name == name), None)
