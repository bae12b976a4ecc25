"""`stls status`: the state at a glance, from the published release and the run records.

Never opens the working warehouse (a run may be writing it): the current release and its
`mart_return_status`, the last `stls run` record (`$AIRFLOW_HOME/runs/last_run.json`) and
the latest data quality summary page are enough.
"""

from __future__ import annotations

import json
from typing import Any

from stls_warehouse.config import Paths

BLOCKED_MARK = "Publication blocked by the warehouse gate"


def print_status(home: Paths) -> int:
    from stls_warehouse.reports.source import NothingPublished, PublishedRelease
    from stls_warehouse.run_logs import run_log_dir

    print(f"STLS_HOME: {home.home}")
    outstanding: list[str] = []
    try:
        with PublishedRelease(home) as release:
            manifest = release.manifest
            print(
                f"Current release: {release.release_id}, published {manifest.get('published_at', 'at an unknown time')}"
                f" ({len(release.tables)} tables)"
            )
            if release.has("mart_return_status"):
                outstanding = _outstanding(release)
    except NothingPublished:
        print("Current release: none yet (run `stls run`)")

    record = run_log_dir(home) / "last_run.json"
    try:
        last: dict[str, Any] | None = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        last = None
    if last is None:
        print("Last run: none recorded")
    else:
        print(f"Last run: {last.get('outcome')}, finished {last.get('finished_at')} (log {last.get('log')})")
        for line in last.get("summary", []):
            print(f"  {line}")

    print(*(outstanding or ["Outstanding: nothing due is missing"]), sep="\n")

    blocked = []
    if last and last.get("failed"):
        blocked += [f"{stage}: {error}" for stage, error in last["failed"].items()]
    latest = home.reports / "dq" / "latest.html"
    if latest.is_file() and BLOCKED_MARK in latest.read_text(encoding="utf-8"):
        blocked.append(f"the warehouse gate blocked publication; see {latest}")
    if blocked:
        print("Blocked:")
        print(*(f"  {b}" for b in blocked), sep="\n")
    else:
        print("Blocked: nothing")
    return 0


def _outstanding(release: Any) -> list[str]:
    """The latest due ledger period and KPI month, and their returns not accepted or waived."""
    lines = []
    for return_type in ("ledger", "kpi"):
        latest = release.rows(
            "select max(period_key) from mart_return_status where return_type = ? and due_date <= status_as_of",
            [return_type],
        )
        period = latest[0][0] if latest else None
        if period is None:
            continue
        rows = release.rows(
            "select sla_code, status from mart_return_status where return_type = ? and period_key = ? "
            "and status not in ('ACCEPTED', 'WAIVED') order by sla_code",
            [return_type, period],
        )
        shown = ", ".join(f"{sla} {status.lower()}" for sla, status in rows) or "none"
        lines.append(f"Outstanding {return_type} returns for {period} (the latest due): {shown}")
    return lines
