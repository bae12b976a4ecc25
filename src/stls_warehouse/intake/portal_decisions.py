"""Loading the returns service's decisions into the warehouse (raw.portal_decisions).

The service writes each decision (an explanation, a sign-off, a waiver granted or revoked)
as one JSON file under `$STLS_HOME/decisions/<day>/<decision_id>.json`, by rename
(`stls_warehouse.decisions.record`). This stage, run by the warehouse writer, appends every
file it has not loaded yet, keyed by `decision_id`, so running it again changes nothing:

- the files already loaded are known by name (their decision_id) and never read again;
- hidden files (the service's half-written temporary files) are never read;
- a file that cannot be read as a decision, or a waiver granted without a reason (the
  warehouse gate requires one of every waiver), is reported, with its path, in the task log
  and as a data quality result, and skipped: it never stops the others from loading. It is
  reported once per distinct problem, and loaded once it is replaced by a good file.

Neither side waits for the other: the service only adds files and this stage only reads
them, in one short transaction on the warehouse.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stls_warehouse.decisions import Decision, DecisionInvalid, parse
from stls_warehouse.warehouse import FAILED, CheckRow

if TYPE_CHECKING:
    import duckdb

SUITE = "portal_decisions"
RULE = "decision_file_valid"
CODE = "DECISION_INVALID"
STAGE = "decision_load"
_COLUMNS = (
    "decision_id",
    "kind",
    "sla_code",
    "return_type",
    "period_key",
    "actor",
    "actor_role",
    "decision_text",
    "file_sha256",
    "rule",
    "decided_at",
    "loaded_at",
    "source_path",
)


@dataclass
class DecisionsLoaded:
    """What one load did: decisions appended (by kind) and files skipped as malformed."""

    loaded: dict[str, int] = field(default_factory=dict)
    already_loaded: int = 0
    malformed: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "decisions_loaded": sum(self.loaded.values()),
            "by_kind": dict(sorted(self.loaded.items())),
            "already_loaded": self.already_loaded,
            "malformed": self.malformed,
        }


def decision_files(root: Path) -> list[Path]:
    """Every decision file the service has finished writing, in path order."""
    if not root.is_dir():
        return []
    return sorted(
        path
        for path in root.glob("*/*.json")
        if not path.name.startswith(".") and not path.parent.name.startswith(".") and path.is_file()
    )


def _checked(path: Path) -> Decision:
    decision = parse(path)
    if decision.kind == "waiver_granted" and not decision.text.strip():
        raise DecisionInvalid(f"{path}: a waiver granted gives its reason (text is empty)")
    return decision


def _utc(moment: datetime) -> datetime:
    """Stored as UTC without a zone, like every time in the warehouse."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def _row(decision: Decision, relative: str, loaded_at: datetime) -> tuple[Any, ...]:
    return (
        decision.decision_id,
        decision.kind,
        decision.sla_code,
        decision.return_type,
        decision.period_key,
        decision.actor,
        decision.actor_role,
        decision.text,
        decision.file_sha256,
        decision.rule,
        _utc(decision.decided_at),
        loaded_at,
        relative,
    )


def load_decisions(root: Path, warehouse: Path, *, run_id: str) -> DecisionsLoaded:
    """Append every decision file under `root` not loaded yet; report and skip bad files."""
    from stls_warehouse.warehouse import append_rows, connect, now

    outcome = DecisionsLoaded()
    loaded_at = now()
    con = connect(warehouse)
    try:
        known = {row[0] for row in con.execute("select decision_id from raw.portal_decisions").fetchall()}
        rows: list[tuple[Any, ...]] = []
        problems: list[CheckRow] = []
        for path in decision_files(root):
            relative = path.relative_to(root).as_posix()
            if path.stem in known:
                outcome.already_loaded += 1
                continue
            try:
                decision = _checked(path)
            except DecisionInvalid as error:
                problem = str(error).replace(f"{root}/", "")
                outcome.malformed.append({"file": relative, "problem": problem})
                sys.stdout.write(f"decision file skipped: {problem}\n")
                problems.append(_problem_row(run_id, loaded_at, relative, problem))
                continue
            known.add(decision.decision_id)
            rows.append(_row(decision, relative, loaded_at))
            outcome.loaded[decision.kind] = outcome.loaded.get(decision.kind, 0) + 1
        con.begin()
        try:
            if rows:
                marks = ", ".join("?" for _ in _COLUMNS)
                con.executemany(
                    f"insert into raw.portal_decisions ({', '.join(_COLUMNS)}) values ({marks})", rows
                )
            append_rows(con, [p for p in problems if not _reported(con, p)])
            con.commit()
        except BaseException:
            con.rollback()
            raise
    finally:
        con.close()
    return outcome


def _problem_row(run_id: str, checked_at: datetime, relative: str, problem: str) -> CheckRow:
    return CheckRow(
        run_id=run_id,
        checked_at=checked_at,
        stage=STAGE,
        suite=SUITE,
        rule=RULE,
        code=CODE,
        severity="warning",
        outcome=FAILED,
        message="A decision file from the returns service could not be loaded; it is skipped "
        "until it is replaced by a valid one.",
        file_name=relative,
        failing_count=1,
        observed=problem[:500],
        expected="a decision as stls_warehouse.decisions.record writes it",
    )


def _reported(con: duckdb.DuckDBPyConnection, problem: CheckRow) -> bool:
    """The same problem with the same file was recorded by an earlier run."""
    found = con.execute(
        "select 1 from audit.dq_results where stage = ? and file_name = ? and observed = ? limit 1",
        [STAGE, problem.file_name, problem.observed],
    ).fetchall()
    return bool(found)
