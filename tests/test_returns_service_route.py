"""The route between the returns service and the pipeline, end to end.

The service's two writes, as it makes them: uploads with `landing.deliver` and decisions
with `decisions.record`; the pipeline as `stls run --without-airflow` runs it; and the one
read the service makes, the published Parquet of the current release. What a school relies
on: a warning on its return is published as an open query; its explanation, sign-off and
a waiver come back published with who and when; running again changes nothing; a new
version is not covered by the old version's sign-off or explanations.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from stls_warehouse import decisions
from stls_warehouse.config import Paths
from stls_warehouse.decisions import Decision
from stls_warehouse.intake.landing import deliver
from stls_warehouse.publish.exports import sheet_names
from tests.factories import csv_bytes, ledger_rows

pytestmark = pytest.mark.slow
STLS = str(Path(sys.executable).with_name("stls"))
AS_OF = "2021-12-31"
P05, P06 = "2021-22-P05", "2021-22-P06"


def _nil_return(line_ref: str = "L0001") -> bytes:
    rows = ledger_rows("SWA", "2021-22", 5)[:1]
    rows[0].update(account_code="NIL", amount="0", line_ref=line_ref)
    return csv_bytes(rows)


def _upload(home: Paths, name: str, data: bytes) -> None:
    deliver(home.landing, name, data, upload_id=uuid.uuid4().hex)


def _stls_run(home: Paths) -> str:
    env = dict(os.environ, STLS_HOME=str(home.home), STLS_AS_OF_DATE=AS_OF)
    env.pop("STLS_POSTGRES_URL", None)
    done = subprocess.run(
        [STLS, "run", "--without-airflow"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-5000:]
    return done.stdout


def _published(home: Paths, table: str, where: str = "true") -> list[dict[str, Any]]:
    """As the service reads it: the current release resolved once, its Parquet file."""
    release = (home.published / "current").resolve()
    cursor = duckdb.connect().execute(
        f"select * from read_parquet(?) where {where}", [str(release / "parquet" / f"{table}.parquet")]
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _status(home: Paths, return_type: str, period_key: str) -> dict[str, Any]:
    (row,) = _published(
        home,
        "mart_return_status",
        f"sla_code = 'SWA' and return_type = '{return_type}' and period_key = '{period_key}'",
    )
    return row


def _decide(home: Paths, kind: str, return_type: str, period_key: str, **fields: Any) -> Decision:
    decision = Decision(
        kind=kind,  # type: ignore[arg-type]
        sla_code="SWA",
        return_type=return_type,
        period_key=period_key,
        actor=fields.pop("actor", "sbm.swa@example.org"),
        actor_role=fields.pop("actor_role", "school_approver"),
        **fields,
    )
    decisions.record(home.decisions, decision)
    return decision


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Paths:
    home = Paths(tmp_path_factory.mktemp("returns_service_home")).ensure()
    _upload(home, "LEDGER_SWA_2021-22_P05.csv", _nil_return())  # a nil month with staff: payroll warning
    _upload(home, "LEDGER_SWA_2021-22_P06.csv", csv_bytes(ledger_rows("SWA", "2021-22", 6)))
    _stls_run(home)
    return home


def test_a_warning_is_published_as_an_open_query_on_the_current_version(home: Paths) -> None:
    (query,) = _published(home, "mart_return_queries", f"period_key = '{P05}'")
    status = _status(home, "ledger", P05)
    assert query["file_sha256"] == status["current_file_sha256"]
    assert query["rule"] == "payroll_every_month" and query["return_type"] == "ledger"
    assert query["description"].startswith("A month of an SLA with staff in post has no payroll lines")
    assert query["observed"] and query["query_status"] == "OPEN"
    assert query["explanation"] is query["explained_by"] is query["explained_at"] is None
    assert status["open_queries"] == 1 and status["signed_off_by"] is None
    assert _status(home, "ledger", P06)["open_queries"] == 0


def test_decisions_come_back_published_and_a_second_run_changes_nothing(home: Paths) -> None:
    (query,) = _published(home, "mart_return_queries", f"period_key = '{P05}'")
    p06 = _status(home, "ledger", P06)["current_file_sha256"]
    explained = _decide(
        home,
        "explanation",
        "ledger",
        P05,
        text="The school was closed for the summer; no salaries ran.",
        file_sha256=query["file_sha256"],
        rule=query["rule"],
    )
    signed = _decide(
        home,
        "sign_off",
        "ledger",
        P06,
        text="I declare this return a true record.",
        file_sha256=p06,
        actor="head.swa@example.org",
    )
    waived = _decide(
        home,
        "waiver_granted",
        "kpi",
        "2021-08",
        text="Service closed in August",
        actor="finance@kent.example",
        actor_role="county_finance",
    )
    _decide(
        home,
        "waiver_granted",
        "kpi",
        "2021-09",
        text="Closed",
        actor="finance@kent.example",
        decided_at=datetime(2021, 10, 1, 9, tzinfo=UTC),
    )
    _decide(
        home,
        "waiver_revoked",
        "kpi",
        "2021-09",
        text="Granted in error",
        actor="finance@kent.example",
        decided_at=datetime(2021, 10, 2, 9, tzinfo=UTC),
    )
    broken = home.decisions / "2021-10-02" / f"{'f' * 32}.json"
    broken.write_text("{not json", encoding="utf-8")

    log = _stls_run(home)
    assert f"decision file skipped: 2021-10-02/{broken.name}" in log
    # Only decisions arrived: the planned build rebuilds what they feed, not the whole project.
    assert "dbt build plan: targeted" in log and "source portal.decisions 0 -> 5 rows" in log

    (answered,) = _published(home, "mart_return_queries", f"period_key = '{P05}'")
    assert answered["query_status"] == "ANSWERED"
    assert answered["explanation"] == "The school was closed for the summer; no salaries ran."
    assert answered["explained_by"] == "sbm.swa@example.org"
    assert answered["explained_at"] == _naive_utc(explained.decided_at)
    assert _status(home, "ledger", P05)["open_queries"] == 0

    status = _status(home, "ledger", P06)
    assert (status["signed_off_by"], status["signed_off_at"], status["signed_off_file_sha256"]) == (
        "head.swa@example.org",
        _naive_utc(signed.decided_at),
        p06,
    )
    august = _status(home, "kpi", "2021-08")
    assert august["status"] == "WAIVED" and august["is_waived"]
    assert (august["waiver_reason"], august["waived_by"], august["waived_at"]) == (
        "Service closed in August",
        "finance@kent.example",
        _naive_utc(waived.decided_at),
    )
    september = _status(home, "kpi", "2021-09")  # granted, then revoked
    assert september["status"] == "OVERDUE" and not september["is_waived"]
    assert september["waiver_reason"] is None

    # The returns service's own reader sees the same (the boundary both sides code against).
    from stls_portal.published import Release

    reader = Release.current(home.home)
    (seen,) = reader.queries("SWA", "ledger", P05)
    assert (seen["explanation"], seen["query_status"]) == (answered["explanation"], "ANSWERED")
    seen_status = reader.return_status("SWA")
    assert seen_status[("ledger", P06)]["signed_off_by"] == "head.swa@example.org"
    assert seen_status[("kpi", "2021-08")]["waiver_reason"] == "Service closed in August"

    release = (home.published / "current").resolve()
    again = _stls_run(home)
    assert "dbt build plan: skip" in again
    assert (home.published / "current").resolve() == release, "an unchanged warehouse was republished"
    con = duckdb.connect(str(home.warehouse), read_only=True)
    try:
        assert con.execute("select count(*) from raw.portal_decisions").fetchone() == (5,)
    finally:
        con.close()


def test_every_format_of_the_release_carries_the_queries(home: Paths) -> None:
    release = (home.published / "current").resolve()
    csv = (release / "csv" / "mart_return_queries.csv").read_text(encoding="utf-8")
    assert csv.splitlines()[0].startswith(
        "sla_code,return_type,period_key,file_sha256,rule,description,observed,explanation,"
        "explained_by,explained_at,query_status"
    )
    assert "payroll_every_month" in csv
    con = duckdb.connect(str(release / "stls.duckdb"), read_only=True)
    try:
        assert con.execute("select count(*) from mart_return_queries").fetchone() == (1,)
        columns = {r[0] for r in con.execute("describe mart_return_status").fetchall()}
    finally:
        con.close()
    assert {
        "signed_off_by",
        "signed_off_at",
        "signed_off_file_sha256",
        "waiver_reason",
        "waived_by",
        "waived_at",
        "open_queries",
    } <= columns
    from openpyxl import load_workbook

    book = load_workbook(release / "stls_finance.xlsx", read_only=True)
    sheet = book[sheet_names(["mart_return_queries"])["mart_return_queries"]]
    header, first = list(sheet.iter_rows(min_row=1, max_row=2, values_only=True))
    # the workbook shows each column's human header from the catalogue (issue 16)
    from stls_warehouse.catalog import table_doc

    doc = table_doc("mart_return_queries")
    names = ("sla_code", "return_type", "period_key", "file_sha256", "rule")
    assert header[:5] == tuple(doc.column(name).label for name in names)
    assert first[4] == "payroll_every_month"


def test_a_new_version_is_neither_signed_off_nor_explained_by_the_old_one(home: Paths) -> None:
    _upload(home, "LEDGER_SWA_2021-22_P05.csv", _nil_return(line_ref="NIL-1"))  # v2, the same warning
    changed = ledger_rows("SWA", "2021-22", 6)
    changed[0]["amount"] = "2001.25"
    _upload(home, "LEDGER_SWA_2021-22_P06.csv", csv_bytes(changed))
    _stls_run(home)

    p05 = _status(home, "ledger", P05)
    (query,) = _published(home, "mart_return_queries", f"period_key = '{P05}'")
    assert p05["current_version"] == 2 and query["file_sha256"] == p05["current_file_sha256"]
    assert query["query_status"] == "OPEN" and query["explanation"] is None
    assert p05["open_queries"] == 1
    p06 = _status(home, "ledger", P06)
    assert p06["current_version"] == 2
    assert p06["signed_off_by"] is p06["signed_off_at"] is p06["signed_off_file_sha256"] is None


def test_postgresql_publication_carries_the_queries_and_the_new_columns(home: Paths) -> None:
    import psycopg

    from stls_warehouse.publish import postgres
    from stls_warehouse.publish.release import current_manifest

    server = "postgresql://postgres@127.0.0.1:5432"
    database = "stls_returns_service_test" + os.environ.get("STLS_TEST_PG_SUFFIX", "")
    try:
        admin = psycopg.connect(f"{server}/postgres", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        pytest.skip(f"no PostgreSQL server on 127.0.0.1:5432: {error}")
    admin.execute(f"drop database if exists {database} with (force)")
    admin.execute(f"create database {database}")
    try:
        release = (home.published / "current").resolve()
        postgres.publish_release(f"{server}/{database}", release, current_manifest(home) or {})
        with psycopg.connect(f"{server}/{database}") as con:
            queries = con.execute(
                "select rule, query_status, explanation from stls_published.mart_return_queries"
            ).fetchall()
            waived = con.execute(
                "select waiver_reason, waived_by, open_queries from stls_published.mart_return_status "
                "where sla_code = 'SWA' and return_type = 'kpi' and period_key = '2021-08'"
            ).fetchall()
        assert [q[0] for q in queries] == ["payroll_every_month"]
        assert waived == [("Service closed in August", "finance@kent.example", 0)]
    finally:
        admin.execute(f"drop database if exists {database} with (force)")
        admin.close()
