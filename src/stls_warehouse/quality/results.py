"""Check results as rows: what auditors and BI users read beside the published tables.

One row per check per return (return gates) or per table (warehouse gates) per run, with
its severity, outcome, what was observed and expected, and where (file, rows, table).
Rows are appended to `audit.dq_results` (history kept across runs); the published table
`marts.mart_data_quality_results` is dbt's model of it, rebuilt by the warehouse gate after
it has recorded its own rows (`rebuild_mart`).

The return gate runs before the warehouse may be written, so it stages its rows in the
run's work folder (`quality/checks.json`); `load_returns` records them in the same task
that records the returns they are about.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stls_warehouse.files import write_text_atomically
from stls_warehouse.quality.gx_runner import CheckResult
from stls_warehouse.text import safe_text
from stls_warehouse.warehouse import AUDIT_DDL, FAILED, PASSED, CheckRow, append_rows

if TYPE_CHECKING:
    import duckdb

    from stls_warehouse.config import Paths
    from stls_warehouse.intake.stage import StagedOutcome

MART_MODEL = "mart_data_quality_results"
MART = f"marts.{MART_MODEL}"
STAGED = Path("quality") / "checks.json"

_MAX_TEXT = 500


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = safe_text(value if isinstance(value, str) else str(value))
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 3] + "..."


def _value(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def describe_failures(check: CheckResult, failing: list[dict[str, Any]]) -> str | None:
    """The failing values in words, e.g. `row 5: value=95.0, expected_percent=88.9`."""
    if not failing:
        return None
    row_column = check.meta.get("row_column") or "source_row"
    hidden = {"file_sha256", "source_row", "table_name", "key", row_column}
    parts = []
    for row in failing[:5]:
        values = ", ".join(
            f"{k}={_value(v)}" for k, v in row.items() if k not in hidden and not k.endswith("_row")
        )
        where = row.get(row_column)
        key = row.get("key")
        prefix = f"row {where}: " if where is not None else (f"{key}: " if key else "")
        parts.append(prefix + values)
    more = len(failing) - 5
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def rows_for_returns(
    checks: Iterable[CheckResult],
    files: dict[str, list[str]],
    records: dict[str, StagedOutcome],
    *,
    run_id: str,
    checked_at: datetime,
) -> list[CheckRow]:
    """One row per check per return the check's suite saw (`files`: suite -> file hashes)."""
    rows = []
    for check in checks:
        by_file: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for bad in check.failing_rows:
            by_file[str(bad.get("file_sha256"))].append(bad)
        row_column = check.meta.get("row_column") or "source_row"
        for sha in files.get(check.suite, []):
            record = records[sha]
            failing = by_file.get(sha, [])
            refs = sorted({int(f[row_column]) for f in failing if f.get(row_column) is not None})
            rows.append(
                CheckRow(
                    run_id=run_id,
                    checked_at=checked_at,
                    stage="return_gate",
                    suite=check.suite,
                    rule=check.rule,
                    code=check.code,
                    severity=check.severity,
                    outcome=FAILED if failing else PASSED,
                    message=check.description,
                    file_sha256=sha,
                    file_name=record["file"],
                    sla_code=record.get("sla_code"),
                    period_key=record.get("period_key"),
                    failing_count=len(failing),
                    row_refs=_text(", ".join(map(str, refs))) if refs else None,
                    observed=_text(describe_failures(check, failing)),
                    expected=_text(check.expected),
                )
            )
    return rows


def rows_for_intake(records: Iterable[StagedOutcome], *, run_id: str, checked_at: datetime) -> list[CheckRow]:
    """One row per file received: did it meet the returns contract (intake's own verdict)?

    Only codes, rows and columns are kept, never cell values: a rejected file's cells may
    hold anything, personal data included.
    """
    rows = []
    for record in records:
        for severity, found in (("blocking", record["errors"]), ("warning", record["warnings"])):
            problems = [p for p in found if not p.get("rule")]
            if severity == "warning" and not problems:
                continue
            where = "; ".join(
                p["code"]
                + "".join(
                    f" {label} {value}"
                    for label, value in (("sheet", p["sheet"]), ("row", p["row"]), ("column", p["column"]))
                    if value is not None
                )
                for p in problems
            )
            codes = sorted({p["code"] for p in problems})
            refs = sorted({int(row) for p in problems if (row := p["row"]) is not None})
            rows.append(
                CheckRow(
                    run_id=run_id,
                    checked_at=checked_at,
                    stage="intake",
                    suite="returns_contract",
                    rule="returns_contract_v1" if severity == "blocking" else "returns_contract_warnings",
                    code=", ".join(codes) if codes else "ACCEPTED",
                    severity=severity,
                    outcome=FAILED if problems else PASSED,
                    message=(
                        "The file meets the returns contract (spec/returns.md, version 1)."
                        if not problems
                        else "The file breaks the returns contract; see the rejection report."
                        if severity == "blocking"
                        else "The file draws warnings under the returns contract."
                    ),
                    file_sha256=record["sha256"],
                    file_name=record["file"],
                    sla_code=record.get("sla_code"),
                    period_key=record.get("period_key"),
                    failing_count=len(problems),
                    row_refs=_text(", ".join(map(str, refs))) if refs else None,
                    observed=_text(where) if where else None,
                    expected=None,
                )
            )
    return rows


def rows_for_tables(
    checks: Iterable[CheckResult], tables: dict[str, list[str]], *, run_id: str, checked_at: datetime
) -> list[CheckRow]:
    """One row per check per warehouse table (`tables`: suite -> tables it looked at)."""
    rows = []
    for check in checks:
        fixed = check.meta.get("table")  # a check about one table owns all its failures
        scope = [fixed] if fixed else tables.get(check.suite, [])
        by_table: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for bad in check.failing_rows:
            by_table[str(fixed or bad.get("table_name"))].append(bad)
        for table in scope or [None]:
            failing = by_table.get(str(table), []) if table else check.failing_rows
            keys = [str(f.get("key") or f.get("column_name") or "") for f in failing]
            rows.append(
                CheckRow(
                    run_id=run_id,
                    checked_at=checked_at,
                    stage="warehouse_gate",
                    suite=check.suite,
                    rule=check.rule,
                    code=check.code,
                    severity=check.severity,
                    outcome=FAILED if failing or (not check.success and not check.failing_rows) else PASSED,
                    message=check.description,
                    table_name=table,
                    checked_count=check.element_count,
                    failing_count=len(failing),
                    row_refs=_text(", ".join(k for k in keys if k)) or None,
                    observed=_text(describe_failures(check, failing)),
                    expected=_text(check.expected),
                )
            )
    return rows


# --- staging and recording -------------------------------------------------------------


def stage_rows(run_dir: Path, rows: list[CheckRow]) -> Path:
    return write_text_atomically(run_dir / STAGED, json.dumps([r.as_dict() for r in rows], default=str))


def read_staged_rows(run_dir: Path) -> list[CheckRow]:
    source = run_dir / STAGED
    if not source.exists():
        return []
    rows = json.loads(source.read_text(encoding="utf-8"))
    return [CheckRow(**(r | {"checked_at": datetime.fromisoformat(r["checked_at"])})) for r in rows]


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """The audit tables on a connection not opened by `warehouse.connect` (which makes them)."""
    con.execute(AUDIT_DDL)


def mart_is_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Does the published table hold exactly the rows recorded (a count and an order-free
    hash of every row, as transform's planner fingerprints a source)?"""
    found = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'marts' and table_name = ?",
        [MART_MODEL],
    ).fetchone()
    if not found or not found[0]:
        return False
    fingerprint = "select count(*), coalesce(sum(hash(t)::hugeint), 0)::varchar from {} as t"
    recorded = con.execute(fingerprint.format("audit.dq_results")).fetchone()
    published = con.execute(fingerprint.format(MART)).fetchone()
    return bool(recorded == published)


def rebuild_mart(home: Paths) -> None:
    """Rebuild the published table from audit.dq_results: dbt's model
    `mart_data_quality_results` (with the staging view it reads), run on its own.

    Intake, the return gate and the decision load record their rows before `dbt build`,
    the warehouse gate records its own after it; so the warehouse gate, the last stage
    before publication, calls this once its rows are committed and its connection closed
    (dbt opens the warehouse itself), and every check recorded so far is published. A
    build never waits for the checks: transform's planner does not count audit.dq_results
    as a change of data, and a run with no new return still skips the build.
    """
    from stls_warehouse.transform import run_dbt

    run_dbt(home, "run", "--quiet", "--select", f"+{MART_MODEL}")


def ensure_mart_current(home: Paths) -> bool:
    """Rebuild the published table when it lacks a check recorded since (a publication
    without the warehouse gate before it, such as a backfill's); whether it rebuilt."""
    from stls_warehouse.warehouse import connect

    if not home.warehouse.exists():
        return False
    con = connect(home.warehouse, read_only=True)
    try:
        stale = not mart_is_current(con)
    finally:
        con.close()
    if stale:
        rebuild_mart(home)
    return stale


# The return gate's warnings as the raw source of the returns' queries (dbt source
# returns.return_warnings): the same rows as in audit.dq_results, kept in step with it, so a
# retried run's rows replace its earlier ones and a warehouse loaded before the table existed
# gets its earlier warnings too. Only this changes when returns arrive: the warehouse gate's
# rows, added on every run, never touch it, so a build with no new return stays skipped.
_WARNING_ROWS = """
    from audit.dq_results d
    where d.stage = 'return_gate' and d.severity = 'warning' and d.outcome = 'FAILED'
        and d.file_sha256 is not null
"""
_SAME_ROW = "w.run_id = d.run_id and w.file_sha256 = d.file_sha256 and w.rule = d.rule"


def record_return_warnings(con: duckdb.DuckDBPyConnection) -> int:
    """Bring raw.return_warnings in step with the return gate's failed warnings; rows added."""
    con.execute(
        f"delete from raw.return_warnings w where not exists (select 1 {_WARNING_ROWS} and {_SAME_ROW})"
    )
    before = _count(con, "select count(*) from raw.return_warnings")
    con.execute(
        f"""
        insert into raw.return_warnings
        select d.run_id, d.checked_at, d.file_sha256, d.sla_code, d.period_key, d.suite, d.rule,
               d.code, d.message, d.observed, d.expected, d.failing_count, d.row_refs
        {_WARNING_ROWS}
            and not exists (select 1 from raw.return_warnings w where {_SAME_ROW})
        """
    )
    return _count(con, "select count(*) from raw.return_warnings") - before


def _count(con: duckdb.DuckDBPyConnection, query: str) -> int:
    row = con.execute(query).fetchone()
    return int(row[0]) if row is not None else 0


def record_staged_results(run_dir: Path, warehouse: Path) -> int:
    """The warehouse writer records the return gate's staged rows; how many it recorded."""
    from stls_warehouse.warehouse import connect

    rows = read_staged_rows(run_dir)
    con = connect(warehouse)
    try:
        con.begin()
        append_rows(con, rows)
        record_return_warnings(con)
        con.commit()
    except BaseException:
        con.rollback()
        raise
    finally:
        con.close()
    return len(rows)
