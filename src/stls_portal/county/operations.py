"""Runs, releases and reports, for county finance and auditors (read only).

The current release and what changed since the one before it come from the releases' own
manifests (row counts and checksums per table); the last run of each DAG from Airflow's REST
API when the deployment gives its address (`STLS_AIRFLOW_API_URL`), else from the local run's
log (as it is also when Airflow does not answer within a few seconds); the
reports are the files the pipeline wrote under $STLS_HOME/reports, listed by kind, opened in
the browser from that listing only (a name is never taken from the request as a path).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
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
    previous: Mapping[str, Any] = {}
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


class AirflowUnreachable(Exception):
    """Airflow's API did not answer in time, refused the credentials, or answered nonsense."""


@dataclass(frozen=True)
class DagRunSummary:
    """A DAG and its last run (none when it has never run), as Airflow's REST API reports it."""

    dag_id: str
    paused: bool
    run_id: str | None = None
    state: str | None = None
    run_type: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None


def airflow_runs(url: str, username: str, password: str, timeout: float) -> list[DagRunSummary]:
    """The last run of each DAG from Airflow 3's REST API (/api/v2, a JWT from /auth/token).

    Every request waits at most `timeout` seconds and none starts once `timeout` has passed,
    so a page that shows it is never held up long by an Airflow that is down or hung."""
    import httpx

    from stls_warehouse.orchestration.native import RestClient

    deadline = time.monotonic() + timeout

    def in_time() -> None:
        if time.monotonic() > deadline:
            raise AirflowUnreachable(f"Airflow took longer than {timeout:g} seconds to answer")

    client = RestClient(url, username, password, timeout=timeout)
    try:
        dags = client.get("/dags", limit=100, order_by="dag_id")["dags"]
        found = []
        for dag in dags:
            in_time()
            runs = client.get(f"/dags/{dag['dag_id']}/dagRuns", limit=1, order_by="-run_after")["dag_runs"]
            last = runs[0] if runs else {}
            found.append(
                DagRunSummary(
                    dag_id=str(dag["dag_id"]),
                    paused=bool(dag.get("is_paused")),
                    run_id=last.get("dag_run_id"),
                    state=last.get("state"),
                    run_type=last.get("run_type"),
                    started_at=_when(last.get("start_date")),
                    ended_at=_when(last.get("end_date")),
                )
            )
        return found
    except httpx.HTTPStatusError as exc:
        raise AirflowUnreachable(f"Airflow answered {exc.response.status_code}") from exc
    except httpx.HTTPError as exc:
        raise AirflowUnreachable(f"Airflow could not be reached ({type(exc).__name__})") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise AirflowUnreachable("Airflow's answer was not the REST API's") from exc
    finally:
        client.close()


def dag_runs(settings: Any) -> dict[str, Any]:
    """What the runs page shows about runs: Airflow's view when the deployment gives its
    address (`configured`), with the reason when it could not be read (`unreachable`)."""
    if not settings.AIRFLOW_API_URL:
        return {"configured": False, "runs": None, "unreachable": None}
    try:
        runs = airflow_runs(
            settings.AIRFLOW_API_URL,
            settings.AIRFLOW_API_USERNAME,
            settings.AIRFLOW_API_PASSWORD,
            settings.AIRFLOW_API_TIMEOUT,
        )
    except AirflowUnreachable as exc:
        return {"configured": True, "runs": None, "unreachable": str(exc)}
    return {"configured": True, "runs": runs, "unreachable": None}


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
