"""The DuckDB warehouse's landing tables: the contract between intake and dbt.

Intake appends to the `raw` schema (one writer at a time); dbt reads it as sources and
builds everything else. Rows are never updated: a resubmission adds a new version.
The `audit` schema holds what the pipeline records of its own checks (every stage's check
results, `stls_warehouse.quality.results`); dbt reads `audit.dq_results` as a source too
and publishes it as `marts.mart_data_quality_results`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

# audit.dq_results: one row per check per return or table per run (warehouse.CheckRow).
DQ_RESULTS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("run_id", "varchar not null"),
    ("checked_at", "timestamp not null"),
    ("stage", "varchar not null"),  # intake | return_gate | decision_load | warehouse_gate
    ("suite", "varchar not null"),
    ("rule", "varchar not null"),
    ("code", "varchar not null"),
    ("severity", "varchar not null"),  # blocking | warning
    ("outcome", "varchar not null"),  # PASSED | FAILED
    ("table_name", "varchar"),
    ("file_sha256", "varchar"),
    ("file_name", "varchar"),
    ("sla_code", "varchar"),
    ("period_key", "varchar"),
    ("checked_count", "integer"),
    ("failing_count", "integer not null"),
    ("row_refs", "varchar"),
    ("observed", "varchar"),
    ("expected", "varchar"),
    ("message", "varchar not null"),
)
AUDIT_DDL = f"""
create schema if not exists audit;
create table if not exists audit.dq_results (
    {", ".join(f"{name} {kind}" for name, kind in DQ_RESULTS_COLUMNS)}
);
create table if not exists audit.dq_runs (
    run_id varchar not null,
    stage varchar not null,
    checked_at timestamp not null,
    fingerprint varchar,
    blocking_failures integer not null,
    warnings integer not null,
    report_path varchar
);
"""

RAW_DDL = """
create schema if not exists raw;

-- The submission ledger: one row per file received (append-only).
create table if not exists raw.submissions (
    file_sha256          varchar not null,
    original_name        varchar not null,   -- data only, never used to build a path
    received_at          timestamp not null,
    file_mtime           timestamp,
    return_type          varchar,            -- ledger | kpi | null when unknowable
    sla_code             varchar,
    period_key           varchar,            -- 2021-22-P07 | 2022-10
    financial_year       varchar,
    period               integer,            -- ledger only
    kpi_month            varchar,            -- kpi only, YYYY-MM
    status               varchar not null,   -- ACCEPTED | REJECTED | DUPLICATE
    version              integer,            -- 1, 2, ... among accepted returns of the key
    supersedes_sha256    varchar,
    is_nil_return        boolean not null default false,
    line_count           integer,
    amount_total         decimal(18, 2),
    error_count          integer not null,
    warning_count        integer not null,
    problems_json        varchar not null    -- the errors and warnings as JSON
);

-- Ledger lines of accepted returns (nil lines are not ledger lines).
create table if not exists raw.ledger_lines (
    file_sha256          varchar not null,
    source_row           integer not null,
    sla_code             varchar not null,
    financial_year       varchar not null,
    period               integer not null,
    line_ref             varchar not null,
    posting_date         date not null,
    cost_centre          varchar,
    account_code         varchar not null,   -- canonical spelling from ref_account_codes
    fund_strand          varchar not null,
    description          varchar,
    amount               decimal(18, 2) not null,
    is_overhead_recharge boolean not null
);

-- What changed when an accepted version superseded the previous one (append-only): one
-- row per superseding version; lines matched by line_ref (ledger) or kpi_code (KPI).
create table if not exists raw.submission_changes (
    file_sha256          varchar not null,   -- the new version
    supersedes_sha256    varchar not null,   -- the version it replaces
    return_type          varchar not null,
    sla_code             varchar not null,
    period_key           varchar not null,
    version              integer not null,
    recorded_at          timestamp not null,
    lines_before         integer not null,
    lines_after          integer not null,
    lines_added          integer not null,
    lines_removed        integer not null,
    lines_changed        integer not null,
    lines_unchanged      integer not null,
    total_before         decimal(18, 2),     -- ledger: sum of amount; KPI: null
    total_after          decimal(18, 2),
    changes_json         varchar not null    -- the lines added, removed, changed (no free text)
);

-- The return gate's warnings: one row per non-blocking check that failed on an accepted
-- return (audit.dq_results rows of stage return_gate, severity warning, outcome FAILED),
-- written by the warehouse writer with the returns they are about
-- (quality.results.record_return_warnings). They become the returns' queries.
create table if not exists raw.return_warnings (
    run_id               varchar not null,
    checked_at           timestamp not null, -- UTC
    file_sha256          varchar not null,
    sla_code             varchar,
    period_key           varchar,
    suite                varchar not null,
    rule                 varchar not null,   -- the expectation's stable rule name
    code                 varchar not null,
    description          varchar not null,   -- the expectation's definition, in words
    observed             varchar,            -- what was found (never free text of the return)
    expected             varchar,
    failing_count        integer not null,
    row_refs             varchar
);

-- Decisions taken in the returns service (stls_warehouse.decisions): one row per decision
-- file loaded, keyed by decision_id, never updated (intake.portal_decisions).
create table if not exists raw.portal_decisions (
    decision_id          varchar not null,
    kind                 varchar not null,   -- explanation | sign_off | waiver_granted | waiver_revoked
    sla_code             varchar not null,
    return_type          varchar not null,   -- ledger | kpi
    period_key           varchar not null,
    actor                varchar not null,
    actor_role           varchar not null,
    decision_text        varchar not null,   -- explanation, declaration or waiver reason
    file_sha256          varchar,            -- the return version explained or signed
    rule                 varchar,            -- the warning explained
    decided_at           timestamp not null, -- UTC
    loaded_at            timestamp not null, -- UTC
    source_path          varchar not null    -- below $STLS_HOME/decisions/
);

-- KPI rows of accepted returns.
create table if not exists raw.kpi_values (
    file_sha256          varchar not null,
    source_row           integer not null,
    sla_code             varchar not null,
    kpi_month            varchar not null,   -- YYYY-MM
    kpi_code             varchar not null,
    value                decimal(18, 2),
    numerator            bigint,
    denominator          bigint,
    comment              varchar
);
"""


# Every table dbt reads as a source, created by one script (also on PostgreSQL, where the
# dbt project is built in CI): intake's landing tables and the record of the checks.
RAW_DDL += AUDIT_DDL


def connect(path: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    import duckdb

    path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
    con = duckdb.connect(str(path), read_only=read_only)
    if not read_only:
        con.execute(RAW_DDL)
        if path.stat().st_mode & 0o007:
            path.chmod(0o640)  # owner and group only: it holds every school's lines
    return con


# --- rows of audit.dq_results: every check's outcome, written by each stage that checks ----
# (here beside the table's DDL, so intake records a check without importing quality; the
# quality package builds and reads them: quality.results)

PASSED = "PASSED"
FAILED = "FAILED"


@dataclass
class CheckRow:
    run_id: str
    checked_at: datetime
    stage: str
    suite: str
    rule: str
    code: str
    severity: str
    outcome: str
    message: str
    table_name: str | None = None
    file_sha256: str | None = None
    file_name: str | None = None
    sla_code: str | None = None
    period_key: str | None = None
    checked_count: int | None = None
    failing_count: int = 0
    row_refs: str | None = None
    observed: str | None = None
    expected: str | None = None

    @property
    def failed(self) -> bool:
        return self.outcome == FAILED

    @property
    def blocks(self) -> bool:
        return self.failed and self.severity == "blocking"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def now() -> datetime:
    """Checked-at times are UTC, stored without a zone (DuckDB `timestamp`)."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _dq_arrow_schema() -> Any:
    import pyarrow as pa

    types = {"varchar": pa.string(), "timestamp": pa.timestamp("us"), "integer": pa.int32()}
    return pa.schema([(name, types[kind.split()[0]]) for name, kind in DQ_RESULTS_COLUMNS])


def append_rows(con: Any, rows: list[CheckRow]) -> None:
    """Append a run's rows; rows of the same run and stage recorded before are replaced,
    so a retried task records its checks once."""
    if not rows:
        return
    import pyarrow as pa

    names = [name for name, _ in DQ_RESULTS_COLUMNS]
    dq_rows = pa.Table.from_pylist(
        [{n: getattr(r, n) for n in names} for r in rows], schema=_dq_arrow_schema()
    )
    for run_id, stage in sorted({(r.run_id, r.stage) for r in rows}):
        con.execute("delete from audit.dq_results where run_id = ? and stage = ?", [run_id, stage])
    con.register("dq_rows", dq_rows)
    try:
        con.execute(f"insert into audit.dq_results select {', '.join(names)} from dq_rows")
    finally:
        con.unregister("dq_rows")
