"""The feedback note each school gets for each file it sent, from what the submission
ledger recorded: its status, version and problems, as JSON and as text, under
`feedback/<SLA>/<sha256>.{json,txt}`. Written after the ledger committed, by every path that
takes returns in (the on-arrival DAG, the daily pipeline, `stls run`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stls_warehouse import reference
from stls_warehouse.config import Paths
from stls_warehouse.files import write_text_atomically

if TYPE_CHECKING:
    import duckdb


def feedback_notes(home: Paths, wanted: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """One note per (SHA-256, file name) the ledger recorded, written under feedback/<SLA>/."""
    import duckdb

    if not wanted or not home.warehouse.exists():
        return []
    con = duckdb.connect(str(home.warehouse), read_only=True)
    try:
        notes = [_note(con, home, sha, name) for sha, name in wanted]
    finally:
        con.close()
    written = [n for n in notes if n is not None]
    for note in written:
        _write_note(home, note)
    return [{k: note[k] for k in ("file", "status", "errors", "warnings", "path")} for note in written]


def _note(con: duckdb.DuckDBPyConnection, home: Paths, sha: str, name: str) -> dict[str, Any] | None:
    cursor = con.execute(
        "select original_name, cast(received_at as varchar), return_type, sla_code, period_key, status, "
        "version, supersedes_sha256, problems_json from raw.submissions "
        "where file_sha256 = ? and original_name = ? order by received_at limit 1",
        [sha, name],
    )
    row = cursor.fetchone()
    if row is None:
        return None
    problems = json.loads(row[8])
    sla = row[3] if row[3] in reference.slas() else "UNROUTED"
    folder = home.feedback / sla
    quarantine = home.quarantine / sha
    return {
        "file": row[0],
        "sha256": sha,
        "received_at": row[1],
        "return_type": row[2],
        "sla_code": row[3],
        "period_key": row[4],
        "status": row[5],
        "version": row[6],
        "supersedes_sha256": row[7],
        "duplicate_of": problems.get("duplicate_of"),
        "errors": len(problems.get("errors", [])),
        "warnings": len(problems.get("warnings", [])),
        "problems": problems.get("errors", []) + problems.get("warnings", []),
        "rejection_report": str(quarantine) if quarantine.exists() else None,
        "path": str(folder / f"{sha}.txt"),
    }


def _message(note: dict[str, Any]) -> str:
    lines = [f"Return {note['file']} (received {note['received_at']}): {note['status']}"]
    if note["status"] == "ACCEPTED":
        superseded = f", replacing version {note['version'] - 1}" if note["supersedes_sha256"] else ""
        lines.append(f"Recorded as version {note['version']} of {note['period_key']}{superseded}.")
    elif note["status"] == "DUPLICATE":
        lines.append(f"Byte-identical to {note['duplicate_of']}, received before; nothing changed.")
    else:
        lines.append("Nothing from this file was loaded. Please correct these problems and send it again:")
    for problem in note["problems"]:
        where = ", ".join(
            f"{k} {problem[k]}" for k in ("sheet", "row", "column") if problem.get(k) is not None
        )
        lines.append(f"- {problem.get('code')}{f' ({where})' if where else ''}: {problem.get('message')}")
    if note["rejection_report"]:
        lines.append(f"The full rejection report is kept at {note['rejection_report']}.")
    return "\n".join(lines) + "\n"


def _write_note(home: Paths, note: dict[str, Any]) -> None:
    target = Path(note["path"])
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix, text in ((".json", json.dumps(note, indent=1)), (".txt", _message(note))):
        write_text_atomically(target.with_suffix(suffix), text)
