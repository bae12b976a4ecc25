"""PostgreSQL publication against the real server on 127.0.0.1:5432 (user postgres, trust).

The tests use their own database, `stls_publish_test`, dropped afterwards. The roles are
cluster-wide and created only if absent, so the tests can run again and again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import psycopg
import pytest

from stls_warehouse.config import Paths
from stls_warehouse.publish import postgres
from stls_warehouse.publish.audit import verify_release
from stls_warehouse.publish.release import complete_releases, current_manifest, publish
from tests.postgres import SERVER, database_name, scratch_database
from tests.publish.year_fixture import copy_home

DATABASE = database_name("stls_publish_test")
URL = f"{SERVER}/{DATABASE}"


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with scratch_database(DATABASE) as url:
        yield url


@pytest.fixture(scope="module")
def two_releases(year_home: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Paths, list[Path]]:
    """A copy of the year with two releases that differ (one SLA's ledger withdrawn)."""
    home = copy_home(year_home, tmp_path_factory.mktemp("pg") / "home")
    con = duckdb.connect(str(home.warehouse))
    con.execute("delete from marts.fct_ledger_lines where sla_code = 'SWA'")
    con.close()
    publish(home)
    return home, complete_releases(home)


def as_role(role: str) -> psycopg.Connection:
    conn = psycopg.connect(URL, autocommit=True)
    conn.execute(f"set role {role}")
    return conn


def test_publishing_creates_the_roles_and_serves_the_release(
    pg_url: str, two_releases: tuple[Paths, list[Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    home, releases = two_releases
    monkeypatch.setenv("STLS_POSTGRES_URL", pg_url)
    manifest = publish(home)  # unchanged files: PostgreSQL is behind, so it gets the release
    assert postgres.published_release_id(pg_url) == manifest["release_id"] == releases[-1].name
    with psycopg.connect(pg_url) as conn:
        roles = {r for (r,) in conn.execute("select rolname from pg_roles where rolname like 'stls%'")}
        assert {"stls_writer", "stls_bi_reader", "stls_auditor"} <= roles
        for table, entry in manifest["tables"].items():
            (count,) = conn.execute(f"select count(*) from stls_published.{table}").fetchone()
            assert count == entry["rows"], table
        total = conn.execute("select sum(amount) from stls_published.fct_ledger_lines").fetchone()[0]
        owner = conn.execute(
            "select nspowner::regrole::text from pg_namespace where nspname = 'stls_published'"
        ).fetchone()
        schemas = {s for (s,) in conn.execute("select nspname from pg_namespace where nspname like 'stls%'")}
    assert owner == ("stls_writer",)
    assert schemas == {"stls_published"}  # no staging or retired schema left behind
    parquet = duckdb.execute(
        "select sum(amount) from read_parquet(?)", [str(home.parquet / "fct_ledger_lines.parquet")]
    )
    assert total == parquet.fetchone()[0]  # numeric(18,2): exact, the same pence
    postgres.ensure_roles(psycopg.connect(pg_url, autocommit=True))  # idempotent


def test_the_bi_reader_reads_published_tables_and_nothing_else(
    pg_url: str, two_releases: tuple[Paths, list[Path]]
) -> None:
    home, releases = two_releases
    postgres.publish_release(pg_url, releases[-1], verify_release(releases[-1]))
    reader = as_role("stls_bi_reader")
    assert (
        reader.execute("select count(*) from stls_published.mart_service_line_budget_outturn").fetchone()[0]
        == 12
    )
    visible = {
        t
        for (t,) in reader.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema not in ('pg_catalog', 'information_schema')"
        )
    }
    assert visible == {
        f"stls_published.{t}"
        for t in current_manifest(home)["tables"]
        if t not in postgres.AUDITOR_ONLY_TABLES  # type: ignore[index]
    } | {"stls_published.release_info"}
    forbidden = [
        "select count(*) from stls_published.submission_ledger",
        "insert into stls_published.mart_return_status (sla_code) values ('XXX')",
        "update stls_published.fct_ledger_lines set amount = 0",
        "delete from stls_published.fct_ledger_lines",
        "truncate stls_published.fct_ledger_lines",
        "create table stls_published.mine (x int)",
        "create table public.mine (x int)",
        "drop table stls_published.fct_ledger_lines",
        "create schema raw",
    ]
    for statement in forbidden:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute(statement)
    reader.close()
    auditor = as_role("stls_auditor")
    ledger = auditor.execute(
        "select count(*), count(original_name) from stls_published.submission_ledger"
    ).fetchone()
    assert ledger == (336, 336)  # every 2021-22 return; names only of accepted files
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        auditor.execute("delete from stls_published.submission_ledger")
    auditor.close()
    free_text = {
        (t, c)
        for (t, c) in psycopg.connect(pg_url).execute(
            "select table_name, column_name from information_schema.columns where table_schema = 'stls_published' "
            "and column_name in ('description', 'comment', 'problems_json')"
        )
    }
    # no free text that may be personal; the one `description` is a check's definition, written by
    # the project (mart_return_queries, as tests/dbt/test_dbt_build.py reviews it)
    assert free_text == {("mart_return_queries", "description")}


def test_a_reader_sees_one_whole_release_while_releases_swap(
    pg_url: str, two_releases: tuple[Paths, list[Path]]
) -> None:
    _, releases = two_releases
    manifests = {r.name: verify_release(r) for r in releases}
    postgres.publish_release(pg_url, releases[0], manifests[releases[0].name])
    tables = [
        "fct_ledger_lines",
        "mart_return_status",
        "mart_service_line_budget_outturn",
        "mart_expenditure_breakdown",
    ]
    counts_sql = " union all ".join(
        f"select '{t}' as t, count(*) as n from stls_published.{t}" for t in tables
    )
    consistent = (
        f"select array_agg(distinct i.release_id), bool_and(i.row_count = c.n), count(*) "
        f"from stls_published.release_info i join ({counts_sql}) c on c.t = i.table_name"
    )
    stop = threading.Event()
    seen: set[str] = set()
    errors: list[BaseException] = []

    def reader(repeatable: bool) -> None:
        conn = as_role("stls_bi_reader")
        try:
            while not stop.is_set():
                if repeatable:  # several statements in one snapshot
                    with conn.transaction():
                        conn.execute("set transaction isolation level repeatable read")
                        (release,) = conn.execute(
                            "select min(release_id) from stls_published.release_info"
                        ).fetchone()
                        for table in tables:
                            (n,) = conn.execute(f"select count(*) from stls_published.{table}").fetchone()
                            assert n == manifests[release]["tables"][table]["rows"], (release, table, n)
                else:
                    ids, all_equal, joined = conn.execute(consistent).fetchone()
                    assert len(ids) == 1 and all_equal and joined == len(tables), (ids, all_equal, joined)
                    release = ids[0]
                seen.add(release)
        except BaseException as error:
            errors.append(error)
        finally:
            conn.close()

    threads = [threading.Thread(target=reader, args=(mode,)) for mode in (False, True)]
    for thread in threads:
        thread.start()
    try:
        for release in [releases[1], releases[0], releases[1], releases[0]]:
            postgres.publish_release(pg_url, release, manifests[release.name])
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not errors, errors[0]
    assert seen == set(manifests)


def test_postgres_carries_descriptions_keys_and_utc_times(
    pg_url: str, two_releases: tuple[Paths, list[Path]]
) -> None:
    """What Power BI reads from the server: comments, keys to relate tables by, times with a zone."""
    from stls_warehouse.catalog import table_doc

    _, releases = two_releases
    manifest = verify_release(releases[-1])
    postgres.publish_release(pg_url, releases[-1], manifest)
    with psycopg.connect(pg_url) as conn:
        comments = {
            (table, column): text
            for table, column, text in conn.execute(
                "select c.relname, a.attname, d.description from pg_description d "
                "join pg_class c on c.oid = d.objoid and c.relnamespace = 'stls_published'::regnamespace "
                "left join pg_attribute a on a.attrelid = c.oid and a.attnum = d.objsubid"
            )
        }
        constraints = {
            (table, kind, definition)
            for table, kind, definition in conn.execute(
                "select conrelid::regclass::text, contype, pg_get_constraintdef(oid) from pg_constraint "
                "where connamespace = 'stls_published'::regnamespace"
            )
        }
        received = conn.execute(
            "select data_type from information_schema.columns where table_schema = 'stls_published' "
            "and table_name = 'mart_return_status' and column_name = 'received_at'"
        ).fetchone()
        settings = dict(
            conn.execute(
                "select r.rolname, array_to_string(s.setconfig, ';') from pg_db_role_setting s "
                "join pg_roles r on r.oid = s.setrole where r.rolname in ('stls_bi_reader', 'stls_auditor')"
            ).fetchall()
        )
    documented = 0
    for table in manifest["tables"]:
        doc = table_doc(table)
        assert comments[(table, None)] == doc.description, table
        for name, column in doc.columns.items():
            assert comments[(table, name)] == column.description, (table, name)
            documented += 1
    assert documented > 300
    assert ("stls_published.dim_sla", "p", "PRIMARY KEY (sla_code)") in constraints
    assert (
        "stls_published.fct_ledger_lines",
        "f",
        "FOREIGN KEY (sla_code) REFERENCES stls_published.dim_sla(sla_code)",
    ) in constraints
    assert ("stls_published.fct_ledger_lines", "u", "UNIQUE (source_file_sha256, source_row)") in constraints
    assert sum(1 for _, kind, _ in constraints if kind == "f") >= 15
    assert received == ("timestamp with time zone",)
    assert settings["stls_bi_reader"] == "search_path=stls_published, public"
