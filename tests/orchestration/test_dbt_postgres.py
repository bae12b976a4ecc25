"""The same dbt project builds on PostgreSQL (target `postgres`) and publishes the same marts.

A small slice of synthetic returns goes through intake and the submission ledger into a
temporary DuckDB warehouse, which the pipeline builds as usual; its raw tables are copied
into a fresh PostgreSQL database (`stls_dbt_it`, dropped afterwards) with the warehouse's
own RAW_DDL and COPY (the returns service's decisions and the return gate's warnings
included), and `dbt build --target postgres` runs every model, seed, data test
and unit test there. Every mart must then hold the same rows, with the same types, on both.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from stls_warehouse.config import DBT_PROJECT_DIR

pytestmark = [pytest.mark.slow, pytest.mark.integration]

DATABASE = "stls_dbt_it" + os.environ.get("STLS_TEST_PG_SUFFIX", "")  # parallel checkouts set a suffix
AS_OF = "2022-09-30"
SLAS = ["SWA", "CSN", "CPD"]
# The sources dbt reads: the landing tables and the check rows (audit.dq_results).
SOURCE_TABLES = [
    ("raw", "submissions"),
    ("raw", "ledger_lines"),
    ("raw", "kpi_values"),
    ("raw", "submission_changes"),
    ("raw", "return_warnings"),
    ("raw", "portal_decisions"),
    ("audit", "dq_results"),
]
MARTS = sorted(path.stem for path in (DBT_PROJECT_DIR / "models" / "marts").glob("*/*.sql"))


def _pg_settings() -> dict[str, str]:
    """The server the profile's `postgres` target reaches (its STLS_PG_* defaults)."""
    return {
        "host": os.environ.get("STLS_PG_HOST", "127.0.0.1"),
        "port": os.environ.get("STLS_PG_PORT", "5432"),
        "user": os.environ.get("STLS_PG_USER", "postgres"),
        "password": os.environ.get("STLS_PG_PASSWORD", ""),
    }


def _pg_connect(dbname: str, autocommit: bool = False) -> Any:
    import psycopg

    return psycopg.connect(dbname=dbname, autocommit=autocommit, **_pg_settings())


@dataclass(frozen=True)
class Warehouses:
    duckdb_path: Path
    dbt_output: str


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouses]:
    home = tmp_path_factory.mktemp("dbt_postgres_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STLS_HOME", str(home))
        patch.setenv("STLS_AS_OF_DATE", AS_OF)
        patch.delenv("STLS_WAREHOUSE_PATH", raising=False)
        _build_duckdb_warehouse(home)
        duckdb_path = home / "warehouse" / "stls.duckdb"
        with _pg_connect("postgres", autocommit=True) as admin:
            admin.execute(f"drop database if exists {DATABASE} with (force)")
            admin.execute(f"create database {DATABASE}")
        try:
            _copy_raw_tables(duckdb_path)
            output = _dbt_build_postgres(home)
            yield Warehouses(duckdb_path, output)
        finally:
            with _pg_connect("postgres", autocommit=True) as admin:
                admin.execute(f"drop database if exists {DATABASE} with (force)")


def _build_duckdb_warehouse(home: Path) -> None:
    """Three SLAs, P1-P3 and their KPI months of 2021-22 (and a nil P04 with a query), through
    the pipeline's own stages."""
    from stls_warehouse import pipeline
    from stls_warehouse.config import paths
    from stls_warehouse.synthetic.generator import generate

    where = paths().ensure()
    generate(where.landing, years=["2021-22"], slas=SLAS, periods=[1, 2, 3])
    _add_a_query_and_decisions(where)
    # The DAG's stages, the return gate included (its warnings are the queries).
    for batch in pipeline.route_landing():
        if batch["files"]:
            pipeline.intake_batch(batch["sla_code"], batch["files"], "dbt_postgres")
    pipeline.gate_returns("dbt_postgres")
    pipeline.load_returns("dbt_postgres")
    pipeline.load_decisions("dbt_postgres")
    pipeline.build_warehouse()  # DuckDB: the pipeline's dbt build


def _add_a_query_and_decisions(home: Any) -> None:
    """A nil SWA P04 (the payroll warning: a query), its explanation and sign-off, and a
    waiver of CSN's July KPI return, as the returns service records them."""
    import hashlib
    from datetime import UTC, datetime

    from stls_warehouse import decisions
    from stls_warehouse.decisions import Decision
    from tests.factories import csv_bytes, ledger_rows

    rows = ledger_rows("SWA", "2021-22", 4)[:1]
    rows[0].update(account_code="NIL", amount="0")
    data = csv_bytes(rows)
    (home.landing / "LEDGER_SWA_2021-22_P04.csv").write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    when = datetime(2021, 8, 2, 9, tzinfo=UTC)
    common = {"sla_code": "SWA", "return_type": "ledger", "period_key": "2021-22-P04", "decided_at": when}
    for decision in (
        Decision(
            "explanation",
            actor="sbm",
            actor_role="school_submitter",
            text="Closed",
            file_sha256=sha,
            rule="payroll_every_month",
            **common,
        ),  # type: ignore[arg-type]
        Decision(
            "sign_off",
            actor="head",
            actor_role="school_approver",
            text="True record",
            file_sha256=sha,
            **common,
        ),  # type: ignore[arg-type]
        Decision(
            "waiver_granted",
            "CSN",
            "kpi",
            "2021-07",
            actor="finance",
            actor_role="county_finance",
            text="Summer",
            decided_at=when,
        ),
    ):
        decisions.record(home.decisions, decision)


def _copy_raw_tables(duckdb_path: Path) -> None:
    """The tables dbt reads, created by the warehouse's own DDL, rows copied as they are."""
    import duckdb

    from stls_warehouse.warehouse import RAW_DDL

    source = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        with _pg_connect(DATABASE) as target:
            target.execute(RAW_DDL)
            for schema, table in SOURCE_TABLES:
                columns = ", ".join(_columns(source, schema, table))
                rows = source.execute(f"select {columns} from {schema}.{table}").fetchall()
                with target.cursor().copy(f"copy {schema}.{table} ({columns}) from stdin") as copy:
                    for row in rows:
                        copy.write_row(row)
    finally:
        source.close()


def _columns(con: Any, schema: str, table: str) -> list[str]:
    return [
        row[0]
        for row in con.execute(
            "select column_name from information_schema.columns"
            " where table_schema = ? and table_name = ? order by ordinal_position",
            [schema, table],
        ).fetchall()
    ]


def _dbt_build_postgres(home: Path) -> str:
    env = dict(os.environ)
    env.update(
        STLS_DBT_TARGET="postgres",
        STLS_PG_DBNAME=DATABASE,
        STLS_PG_SCHEMA="public",
        STLS_AS_OF_DATE=AS_OF,
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        **{f"STLS_PG_{key.upper()}": value for key, value in _pg_settings().items()},
    )
    process = subprocess.run(
        [
            str(Path(sys.executable).with_name("dbt")),
            "build",
            "--target",
            "postgres",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(home / "dbt_pg" / "target"),
            "--log-path",
            str(home / "dbt_pg" / "logs"),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert process.returncode == 0, "\n".join(process.stdout.splitlines()[-60:]) + process.stderr[-2000:]
    return process.stdout


def _duckdb_rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _postgres_rows(sql: str) -> list[tuple[Any, ...]]:
    with _pg_connect(DATABASE) as con:
        return con.execute(sql).fetchall()


def _mart_query(path: Path, mart: str) -> str:
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        columns = _columns(con, "marts", mart)
    finally:
        con.close()
    assert columns, f"marts.{mart} missing from the DuckDB warehouse"
    return f"select {', '.join(columns)} from marts.{mart}"


def test_every_node_builds_and_passes_on_postgres(warehouses: Warehouses) -> None:
    assert "ERROR=0" in warehouses.dbt_output
    assert "SKIP=0" in warehouses.dbt_output
    built = {
        row[0]
        for row in _postgres_rows(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        )
    }
    assert set(MARTS) <= built


@pytest.mark.parametrize("mart", MARTS)
def test_every_mart_holds_the_same_rows_on_both_targets(warehouses: Warehouses, mart: str) -> None:
    # repr keeps types apart: Decimal('1.50') == 1.5 would hide a double on one side.
    sql = _mart_query(warehouses.duckdb_path, mart)
    on_duckdb = sorted(map(repr, _duckdb_rows(warehouses.duckdb_path, sql)))
    on_postgres = sorted(map(repr, _postgres_rows(sql)))
    assert on_duckdb, f"marts.{mart} is empty: the slice does not exercise it"
    assert on_postgres == on_duckdb


def test_contracted_figures_agree(warehouses: Warehouses) -> None:
    """The figures finance reads: outturn per service line, spend by category, ledger totals,
    and how many returns stand at each status."""
    queries = {
        "outturn": "select financial_year, service_line, total_budget, outturn, variance,"
        " pension_allocation, variance_after_pension"
        " from marts.mart_service_line_budget_outturn order by 1, 2",
        "breakdown": "select financial_year, service_line, expenditure_category, amount"
        " from marts.mart_expenditure_breakdown order by 1, 2, 3",
        "ledger": "select sla_code, period, count(*), sum(amount)"
        " from marts.fct_ledger_lines group by 1, 2 order by 1, 2",
    }
    for name, sql in queries.items():
        assert _postgres_rows(sql) == _duckdb_rows(warehouses.duckdb_path, sql), name
    status = "select status, count(*) from marts.mart_return_status group by status"
    on_postgres = Counter(dict(_postgres_rows(status)))
    assert on_postgres == Counter(dict(_duckdb_rows(warehouses.duckdb_path, status)))
    # 3 SLAs x (P1-P3 ledger + April-June KPI) returns were sent and accepted, and SWA's nil P04
    assert on_postgres["ACCEPTED"] == len(SLAS) * 6 + 1
    assert on_postgres["WAIVED"] == 1
