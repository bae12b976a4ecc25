"""The gates on the warehouse before anything is published.

Runs after dbt has built the marts and before the publish stage, as the warehouse writer
(the DAG task holds the one-slot pool). Each dataset is read from DuckDB into a pandas
DataFrame and validated with Great Expectations (its DuckDB SQL path fails):

- reconciliation: the published ledger lines against each accepted return's total, and
  every mart's money totals against the ledger lines;
- completeness: `is_complete` against mart_return_status; waivers (the seed's and those
  granted in the returns service) carry a reason and an approver;
- personal data: no column of any table in schema `marts` that may carry free text.

Every check's outcome is recorded as rows (audit.dq_results). The gate runs after `dbt
build`, so it then rebuilds dbt's model marts.mart_data_quality_results itself (`dbt run
--select`, results.rebuild_mart) in the same task, whenever the table does not hold every
row recorded: the published table holds the gate's own rows and those of the earlier
stages of the run. The run's Data Docs and one-page summary are written under `$STLS_HOME/reports/`, and a blocking failure raises `GateFailed`, so the publish
stage never runs and every published file stays as it was.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stls_warehouse.config import Paths, settings
from stls_warehouse.errors import StlsError
from stls_warehouse.quality.gx_runner import CheckResult, GxSession
from stls_warehouse.quality.results import mart_is_current, rebuild_mart, rows_for_tables
from stls_warehouse.run_ids import safe_run_id
from stls_warehouse.warehouse import CheckRow, append_rows, now

STAGE = "warehouse_gate"


class GateFailed(StlsError, RuntimeError):
    """A blocking warehouse check failed: nothing may be published from this warehouse."""

    refusal = True
    run_note = "nothing was published by this run"

    def __init__(self, reasons: list[str], report: Path | None) -> None:
        self.reasons = reasons
        self.report = report
        where = f"\nData quality report: {report}" if report else ""
        super().__init__("Publication stopped by the warehouse gate:\n- " + "\n- ".join(reasons) + where)


@dataclass
class WarehouseGateOutcome:
    checks: list[CheckResult] = field(default_factory=list)
    rows: list[CheckRow] = field(default_factory=list)
    recorded: bool = False
    report: Path | None = None
    docs_index: Path | None = None
    seconds_validating: float = 0.0

    @property
    def blocking_failures(self) -> list[CheckRow]:
        return [r for r in self.rows if r.blocks]

    def reasons(self) -> list[str]:
        return [
            f"{r.rule} ({r.code}) on {r.table_name}: {r.message}"
            + (f" Failing: {r.observed}" if r.observed else "")
            for r in self.blocking_failures
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "checks": len(self.rows),
            "blocking_failures": len(self.blocking_failures),
            "warnings": sum(r.failed and not r.blocks for r in self.rows),
            "recorded": self.recorded,
            "report": str(self.report) if self.report else None,
            "data_docs": str(self.docs_index) if self.docs_index else None,
        }


ALLOW_LOSS = "STLS_ALLOW_RELEASE_LOSS"


def release_loss_row(home: Paths, con: Any, *, run_id: str, checked_at: Any) -> CheckRow:
    """Would publishing lose accepted returns or ledger lines that the current release holds?

    A return the current release contains must still have an accepted version, and the ledger
    lines of every file that is still current must all be there (a newer version may replace
    lines; nothing else may drop them). A warehouse that lost its returns is stopped here
    (issue 13, case 3) unless an operator sets STLS_ALLOW_RELEASE_LOSS=yes for one run, when
    the check is recorded as a warning instead.
    """
    from stls_warehouse.publish.release import current_release_dir, release_manifest

    lost_returns: list[str] = []
    lost_lines = 0
    release = current_release_dir(home)
    try:
        manifest = release_manifest(release) if release else None
    except (OSError, ValueError):
        manifest = None  # a damaged release: publication repairs it, nothing to compare with
    if manifest is not None:
        have = {
            tuple(r)
            for r in con.execute(
                "select return_type, sla_code, period_key from raw.submissions where status = 'ACCEPTED'"
            ).fetchall()
        }
        lost_returns = sorted(
            f"{r['return_type']} {r['sla_code']} {r['period_key']}"
            for r in manifest.get("returns", [])
            if (r["return_type"], r["sla_code"], r["period_key"]) not in have
        )
        parquet = release / "parquet" / "fct_ledger_lines.parquet" if release else None
        if parquet is not None and parquet.is_file():
            before = dict(
                con.execute(
                    "select source_file_sha256, count(*) from read_parquet(?) group by 1", [str(parquet)]
                ).fetchall()
            )
            now_ = dict(
                con.execute(
                    "select source_file_sha256, count(*) from marts.fct_ledger_lines group by 1"
                ).fetchall()
            )
            superseded = {
                r[0]
                for r in con.execute(
                    "select supersedes_sha256 from raw.submissions where supersedes_sha256 is not null"
                ).fetchall()
            }
            lost_lines = sum(
                max(0, count - now_.get(sha, 0)) for sha, count in before.items() if sha not in superseded
            )
    allowed = settings().allow_release_loss
    failed = bool(lost_returns or lost_lines)
    observed = (
        f"{len(lost_returns)} accepted return(s) and {lost_lines} ledger line(s) of release "
        f"{manifest['release_id'] if manifest else '-'} are missing"
        + (
            f": {', '.join(lost_returns[:10])}" + (" and more" if len(lost_returns) > 10 else "")
            if lost_returns
            else ""
        )
    )
    return CheckRow(
        run_id=run_id,
        checked_at=checked_at,
        stage=STAGE,
        suite="release_continuity",
        rule="release_loses_nothing",
        code="RELEASE_LOSS",
        severity="warning" if allowed else "blocking",
        outcome="FAILED" if failed else "PASSED",
        message=(
            "The warehouse has lost returns or ledger lines that the current release publishes "
            "(a lost or recreated warehouse?). Run `stls rebuild`; if the loss is intended, run once "
            f"with {ALLOW_LOSS}=yes."
            + (f" {ALLOW_LOSS} is set: published anyway." if allowed and failed else "")
        )
        if failed
        else "Every accepted return and ledger line of the current release is still in the warehouse.",
        table_name="fct_ledger_lines",
        checked_count=len(manifest.get("returns", [])) if manifest else 0,
        failing_count=len(lost_returns) + lost_lines,
        observed=observed if failed else None,
        expected="no accepted return or current ledger line lost",
    )


def gate_warehouse(home: Paths, run_id: str) -> WarehouseGateOutcome:
    """Validate the built warehouse; record the results; raise GateFailed on a blocking failure."""
    from expectations import (
        return_waivers,
        warehouse_completeness,
        warehouse_personal_data,
        warehouse_reconciliation,
    )
    from stls_warehouse.quality import report as dq_report
    from stls_warehouse.warehouse import connect

    outcome = WarehouseGateOutcome()
    checked_at = now()
    con = connect(home.warehouse)
    try:
        con.begin()
        frames = {
            warehouse_reconciliation: reconciliation_frame(con),
            warehouse_completeness: completeness_frame(con),
            return_waivers: waivers_frame(con),
            warehouse_personal_data: columns_frame(con),
        }
        started = time.monotonic()
        session = GxSession(home.reports / "data_docs" / safe_run_id(run_id) / "warehouse", run_name=run_id)
        tables: dict[str, list[str]] = {}
        for module, frame in frames.items():
            outcome.checks.extend(session.run_suite(module, frame, module.INDEX_COLUMNS))
            tables[module.NAME] = sorted(set(frame["table_name"])) if not frame.empty else []
        outcome.docs_index = session.build_docs()
        outcome.seconds_validating = time.monotonic() - started
        outcome.rows = rows_for_tables(outcome.checks, tables, run_id=run_id, checked_at=checked_at)
        outcome.rows.append(release_loss_row(home, con, run_id=run_id, checked_at=checked_at))
        fingerprint = _fingerprint(con, outcome.rows)
        if fingerprint != _last_fingerprint(con):
            # Re-running over an unchanged warehouse records nothing new, so an unchanged
            # release is not republished just because the checks ran again.
            append_rows(con, outcome.rows)
            con.execute(
                "insert into audit.dq_runs values (?, ?, ?, ?, ?, ?, ?)",
                [
                    run_id,
                    STAGE,
                    checked_at,
                    fingerprint,
                    len(outcome.blocking_failures),
                    sum(r.failed and not r.blocks for r in outcome.rows),
                    None,
                ],
            )
            outcome.recorded = True
        stale = not mart_is_current(con)
        outcome.report = dq_report.write_summary(
            con, home, run_id, outcome.rows, blocked=outcome.reasons(), checked_at=checked_at
        )
        con.commit()
        con.execute("checkpoint")
    except BaseException:
        con.rollback()
        raise
    finally:
        con.close()
    if stale:  # every check recorded, this gate's too, published before any GateFailed
        rebuild_mart(home)
    from stls_warehouse.quality.data_docs import prune_data_docs

    prune_data_docs(home, current=safe_run_id(run_id))  # STLS_KEEP_DATA_DOCS_RUNS (retention.py)
    if outcome.blocking_failures:
        raise GateFailed(outcome.reasons(), outcome.report)
    return outcome


# --- frames read from DuckDB ---------------------------------------------------------------


def _frame(con: Any, sql: str) -> Any:
    """A query as a DataFrame with exact decimals (never floats) and nullable integers."""
    import pandas as pd
    import pyarrow as pa

    integer_types = {pa.int8(), pa.int16(), pa.int32(), pa.int64()}
    table = con.sql(sql).to_arrow_table()
    return table.to_pandas(types_mapper=lambda t: pd.Int64Dtype() if t in integer_types else None)


def _has_table(con: Any, schema: str, table: str) -> bool:
    found = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchall()[:1]
    return bool(found and found[0][0])


RECONCILIATION_SQL = """
with current_returns as (
    select sla_code, period_key, file_sha256, is_nil_return, line_count, amount_total
    from raw.submissions
    where status = 'ACCEPTED' and return_type = 'ledger'
    qualify row_number() over (
        partition by sla_code, period_key order by version desc, received_at desc
    ) = 1
),
published as (
    select
        l.sla_code,
        l.period_key,
        sum(l.amount) as amount,
        count(*) as lines,
        count(*) filter (where l.source_file_sha256 is distinct from c.file_sha256) as foreign_lines
    from marts.fct_ledger_lines l
    left join current_returns c on c.sla_code = l.sla_code and c.period_key = l.period_key
    group by all
),
return_totals as (
    select
        'return_total' as tie,
        'fct_ledger_lines' as table_name,
        coalesce(c.sla_code, p.sla_code) || ' ' || coalesce(c.period_key, p.period_key) as key,
        c.amount_total as expected_amount,
        coalesce(p.amount, 0) as actual_amount,
        case when c.sla_code is null then null when c.is_nil_return then 0 else c.line_count end
            as expected_lines,
        coalesce(p.lines, 0) as actual_lines,
        coalesce(p.foreign_lines, 0) as foreign_lines
    from current_returns c
    full outer join published p on p.sla_code = c.sla_code and p.period_key = c.period_key
),
ledger_by_line as (
    select financial_year, service_line, sum(amount) as amount
    from marts.fct_ledger_lines l
    join ref.ref_fund_strands s on s.fund_strand = l.fund_strand and s.is_high_needs
    group by all
),
outturns as (
    select
        'service_line_outturn' as tie,
        'mart_service_line_budget_outturn' as table_name,
        coalesce(m.financial_year, l.financial_year) || ' ' || coalesce(m.service_line, l.service_line)
            as key,
        coalesce(l.amount, 0) as expected_amount,
        m.outturn as actual_amount
    from marts.mart_service_line_budget_outturn m
    full outer join ledger_by_line l
        on l.financial_year = m.financial_year and l.service_line = m.service_line
),
ledger_by_category as (
    select financial_year, service_line, expenditure_category, sum(amount) as amount
    from marts.fct_ledger_lines where expenditure_category <> 'INCOME' group by all
),
breakdown as (
    select
        'expenditure_breakdown' as tie,
        'mart_expenditure_breakdown' as table_name,
        coalesce(m.financial_year, l.financial_year) || ' ' || coalesce(m.service_line, l.service_line)
            || ' ' || coalesce(m.expenditure_category, l.expenditure_category) as key,
        l.amount as expected_amount,
        m.amount as actual_amount
    from marts.mart_expenditure_breakdown m
    full outer join ledger_by_category l
        on l.financial_year = m.financial_year and l.service_line = m.service_line
        and l.expenditure_category = m.expenditure_category
)
select tie, table_name, key, cast(expected_amount as decimal(18, 2)) as expected_amount,
       cast(actual_amount as decimal(18, 2)) as actual_amount,
       cast(expected_lines as bigint) as expected_lines, cast(actual_lines as bigint) as actual_lines,
       cast(foreign_lines as bigint) as foreign_lines
from return_totals
union all by name select * from outturns
union all by name select * from breakdown
order by tie, key
"""


def reconciliation_frame(con: Any) -> Any:
    return _frame(con, RECONCILIATION_SQL)


COMPLETENESS_SQL = """
with status as (
    select
        financial_year,
        service_line,
        count(*) filter (where return_type = 'ledger') as ledger_expected,
        count(*) filter (where return_type = 'ledger' and (status = 'ACCEPTED' or is_waived)) as ledger_in,
        count(*) filter (where return_type = 'kpi') as kpi_expected,
        count(*) filter (where return_type = 'kpi' and (status = 'ACCEPTED' or is_waived)) as kpi_in
    from marts.mart_return_status
    where is_expected
    group by all
)
select
    'mart_service_line_budget_outturn' as table_name,
    o.financial_year || ' ' || o.service_line as key,
    o.financial_year,
    o.service_line,
    o.is_complete,
    o.is_pension_allocated,
    o.year_pension_unallocated,
    coalesce(s.ledger_expected > 0 and s.ledger_in = s.ledger_expected, false) as derived_is_complete,
    cast(coalesce(s.ledger_expected, 0) as bigint) as ledger_expected,
    cast(coalesce(s.ledger_in, 0) as bigint) as ledger_in,
    cast(coalesce(s.kpi_expected, 0) as bigint) as kpi_expected,
    cast(coalesce(s.kpi_in, 0) as bigint) as kpi_in
from marts.mart_service_line_budget_outturn o
left join status s on s.financial_year = o.financial_year and s.service_line = o.service_line
order by key
"""


def completeness_frame(con: Any) -> Any:
    return _frame(con, COMPLETENESS_SQL)


def waivers_frame(con: Any) -> Any:
    """Every waiver in force, the seed's and the returns service's alike (dbt's
    `int_return_waivers_current`, a view, so it reads the seed table and the loaded
    decisions as they are now)."""
    if not _has_table(con, "intermediate", "int_return_waivers_current"):
        return _frame(
            con,
            "select 'mart_return_status' as table_name, '' as key, '' as sla_code, '' as return_type, "
            "'' as period_key, '' as reason, '' as approved_by, null::timestamp as approved_on, "
            "'' as waiver_source, true as names_expected_return where false",
        )
    return _frame(
        con,
        """
        select
            'mart_return_status' as table_name,
            w.sla_code || ' ' || w.return_type || ' ' || w.period_key as key,
            w.sla_code, w.return_type, w.period_key,
            nullif(trim(w.waiver_reason), '') as reason,
            nullif(trim(w.waived_by), '') as approved_by,
            w.waived_at as approved_on,
            w.waiver_source,
            coalesce(s.is_expected, false) as names_expected_return
        from intermediate.int_return_waivers_current w
        left join marts.mart_return_status s
            on s.sla_code = w.sla_code and s.return_type = w.return_type
            and s.period_key = w.period_key
        order by key
        """,
    )


def columns_frame(con: Any) -> Any:
    from expectations.warehouse_personal_data import REVIEWED_COLUMNS

    frame = _frame(
        con,
        """
        select c.table_name, c.column_name, c.data_type
        from information_schema.columns c
        join information_schema.tables t
            on t.table_schema = c.table_schema and t.table_name = c.table_name
        where c.table_schema = 'marts' and t.table_type = 'BASE TABLE'
        order by c.table_name, c.ordinal_position
        """,
    )
    frame["reviewed"] = [
        (table, column) in REVIEWED_COLUMNS
        for table, column in zip(frame["table_name"], frame["column_name"], strict=True)
    ]
    return frame


# --- idempotence ---------------------------------------------------------------------------


def _fingerprint(con: Any, rows: list[CheckRow]) -> str:
    """The data the checks looked at, and what they found.

    Each table enters as its row count and order-independent checksum, one streaming pass
    with bounded memory per table (`audit.canonical_checksum`).
    """
    from stls_warehouse.publish.audit import canonical_checksum
    from stls_warehouse.quality.results import MART

    digest = hashlib.sha256()
    tables = [
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' "
            "and table_type = 'BASE TABLE' order by table_name"
        ).fetchall()
        if f"marts.{name}" != MART
    ]
    for table in tables:
        digest.update(f"{table}:{canonical_checksum(con, f'marts.{table}')}\n".encode())
    for row in rows:
        digest.update(f"{row.suite}|{row.rule}|{row.table_name}|{row.outcome}|{row.observed}\n".encode())
    return digest.hexdigest()


def _last_fingerprint(con: Any) -> str | None:
    found = con.execute(
        "select fingerprint from audit.dq_runs where stage = ? order by checked_at desc, run_id desc limit 1",
        [STAGE],
    ).fetchall()[:1]
    return str(found[0][0]) if found else None
