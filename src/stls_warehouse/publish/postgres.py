"""Publication of a release into PostgreSQL, for BI tools that want a server.

Each release is loaded into a staging schema and swapped into `stls_published` in the same
transaction, so a reader sees the whole previous release or the whole new one:

- the new tables are created and filled with `COPY ... FREEZE` in the publishing transaction
  (frozen rows are visible to every snapshot once the transaction commits, so a reader whose
  snapshot is older than the swap never finds an empty table);
- the swap takes ACCESS EXCLUSIVE locks on the old tables before renaming the schemas: a
  query running on the old release finishes first, a query arriving during the swap waits
  and then resolves its table names again, to the new release. The lock is requested with a
  short timeout and retried, so the publisher yields to readers instead of deadlocking them.

Roles (cluster-wide, created if absent, `NOLOGIN`; a DBA grants them to login roles):
`stls_writer` owns what the pipeline publishes; `stls_bi_reader` may read the published
tables; `stls_auditor` may also read the data quality results and the submission ledger.
The pipeline grants CONNECT on the database, USAGE on the published schema and SELECT on
its tables, and nothing more.
"""

from __future__ import annotations

import random
import re
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stls_warehouse.errors import StlsError
from stls_warehouse.publish.manifest import Manifest

if TYPE_CHECKING:
    from psycopg import Connection, sql

    # A connection as `connect` opens it: rows come back as tuples.
    PgConnection = Connection[tuple[Any, ...]]

SCHEMA = "stls_published"
STAGING_SCHEMA = "stls_published_next"
RETIRED_SCHEMA = "stls_published_retired"
WRITER = "stls_writer"
BI_READER = "stls_bi_reader"
AUDITOR = "stls_auditor"
ROLES = (WRITER, BI_READER, AUDITOR)
AUDITOR_ONLY_TABLES = ("mart_data_quality_results", "submission_ledger")
RELEASE_INFO = "release_info"
SWAP_LOCK_TIMEOUT = "200ms"  # below deadlock_timeout (1 s): the publisher gives way first
SWAP_DEADLINE_SECONDS = 120.0

_TYPES = {
    "VARCHAR": "text",
    "JSON": "text",
    "BOOLEAN": "boolean",
    "TINYINT": "smallint",
    "SMALLINT": "smallint",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "HUGEINT": "numeric(38, 0)",
    "UTINYINT": "smallint",
    "USMALLINT": "integer",
    "UINTEGER": "bigint",
    "UBIGINT": "numeric(20, 0)",
    "FLOAT": "real",
    "DOUBLE": "double precision",
    "DATE": "date",
    "TIME": "time",
    "TIMESTAMP": "timestamptz",  # the warehouse's times are UTC; loaded with TimeZone = UTC
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "UUID": "uuid",
}


class PostgresPublishFailed(StlsError, RuntimeError):
    """The release could not be published into PostgreSQL; the previous one is still there."""


def postgres_type(duckdb_type: str) -> str | None:
    """The PostgreSQL type for a DuckDB column, or None to publish it as text."""
    decimal = re.fullmatch(r"DECIMAL\((\d+),(\d+)\)", duckdb_type)
    if decimal:
        return f"numeric({decimal.group(1)}, {decimal.group(2)})"
    return _TYPES.get(duckdb_type)


def connect(url: str, **kwargs: Any) -> PgConnection:
    import psycopg

    return psycopg.connect(url, **kwargs)


def ensure_roles(conn: PgConnection) -> None:
    """Create the three roles if absent and give them what they need on this database."""
    import psycopg
    from psycopg import sql

    for role in ROLES:
        if conn.execute("select 1 from pg_roles where rolname = %s", [role]).fetchone():
            continue
        try:
            with conn.transaction():
                conn.execute(sql.SQL("create role {} nologin").format(sql.Identifier(role)))
        except (psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
            pass  # another publisher created it at the same moment
    _set_search_paths(conn)
    database = sql.Identifier(_scalar(conn, "select current_database()"))
    wanted = ((WRITER, "CONNECT"), (WRITER, "CREATE"), (BI_READER, "CONNECT"), (AUDITOR, "CONNECT"))
    for role, privilege in wanted:
        held = _scalar(conn, "select has_database_privilege(%s, current_database(), %s)", [role, privilege])
        if not held:
            conn.execute(
                sql.SQL("grant {} on database {} to {}").format(
                    sql.SQL(privilege), database, sql.Identifier(role)
                )
            )


def published_release_id(url: str) -> str | None:
    """The release PostgreSQL serves now, or None when nothing is published there."""
    with connect(url, autocommit=True) as conn:
        found = _scalar(conn, "select to_regclass(%s)", [f"{SCHEMA}.{RELEASE_INFO}"])
        if found is None:
            return None
        row = conn.execute(f"select min(release_id) from {SCHEMA}.{RELEASE_INFO}").fetchone()
        return None if row is None else row[0]


def _scalar(conn: PgConnection, query: str, params: list[str] | None = None) -> Any:
    """The one value of a query that returns one row (a function call, no `from`)."""
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


def publish_release(url: str, release_dir: Path, manifest: Manifest) -> None:
    """Load a release's tables into a staging schema and swap it in, in one transaction."""
    import psycopg

    try:
        with connect(url, autocommit=True) as conn:
            ensure_roles(conn)
            if not _scalar(conn, "select pg_has_role(current_user, %s, 'MEMBER')", [WRITER]):
                raise PostgresPublishFailed(
                    f"the login in STLS_POSTGRES_URL must be a member of {WRITER} (GRANT {WRITER} TO <login>)"
                )
        with connect(url, autocommit=False) as conn:
            conn.execute("select pg_advisory_xact_lock(hashtext(%s))", [SCHEMA])
            conn.execute(f"set local role {WRITER}")
            conn.execute(f"drop schema if exists {STAGING_SCHEMA} cascade")
            conn.execute(f"create schema {STAGING_SCHEMA}")
            conn.execute("set local timezone = 'UTC'")
            for table, entry in manifest["tables"].items():
                full = release_dir / "auditor" / f"{table}.parquet"  # auditor-only tables, unredacted
                source = full if table in AUDITOR_ONLY_TABLES and full.is_file() else None
                _load_table(
                    conn, source or release_dir / "parquet" / f"{table}.parquet", table, entry["columns"]
                )
            _load_release_info(conn, manifest)
            _describe_and_relate(
                conn, {t: [c[0] for c in e["columns"]] for t, e in manifest["tables"].items()}
            )
            _grant(conn, list(manifest["tables"]))
            _swap(conn)
            conn.commit()
    except psycopg.Error as error:
        raise PostgresPublishFailed(
            f"publishing release {manifest['release_id']} to PostgreSQL failed: {error}"
        ) from error


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _load_table(conn: PgConnection, parquet: Path, table: str, columns: list[list[str]]) -> None:
    from stls_warehouse.publish.exports import connect_quietly

    definitions, selects = [], []
    for name, dtype in columns:
        pg_type = postgres_type(dtype)
        definitions.append(f"{_ident(name)} {pg_type or 'text'}")
        if pg_type in (None, "text"):  # PostgreSQL text cannot hold NUL, whatever slipped through
            selects.append(f"replace(cast({_ident(name)} as varchar), chr(0), '\ufffd') as {_ident(name)}")
        else:
            selects.append(_ident(name))
    conn.execute(f"create table {STAGING_SCHEMA}.{_ident(table)} ({', '.join(definitions)})")
    text_columns = [_ident(n) for n, t in columns if postgres_type(t) in (None, "text", "uuid")]
    with tempfile.TemporaryDirectory() as scratch:
        csv_path = Path(scratch) / "table.csv"
        options = "format csv, header false, nullstr '\\N'"
        if text_columns:
            options += f", force_quote ({', '.join(text_columns)})"
        path_literal = "'" + str(parquet).replace("'", "''") + "'"
        with connect_quietly() as local:
            local.execute(
                f"copy (select {', '.join(selects)} from read_parquet({path_literal})) to "
                f"'{csv_path}' ({options})"
            )
        column_list = ", ".join(_ident(n) for n, _ in columns)
        with (
            conn.cursor() as cursor,
            cursor.copy(
                f"copy {STAGING_SCHEMA}.{_ident(table)} ({column_list}) from stdin "
                "with (format csv, null '\\N', freeze true)"
            ) as copy,
            csv_path.open("rb") as handle,
        ):
            while block := handle.read(1 << 20):
                copy.write(block)


def _describe_and_relate(conn: PgConnection, tables: dict[str, list[str]]) -> None:
    """COMMENT ON every table and column (as dbt's persist_docs would), then the keys.

    Primary keys (the dimensions'), unique constraints on natural keys (a mart's
    `unique_combination_of_columns`) and foreign keys to the dimensions, from the catalogue:
    Power BI and other tools read them to relate the tables without being told.
    """
    from psycopg import sql

    from stls_warehouse.catalog import table_doc

    def qualified(table: str) -> sql.Identifier:
        return sql.Identifier(STAGING_SCHEMA, table)

    for table, columns in tables.items():
        doc = table_doc(table)
        if doc.description:
            conn.execute(
                sql.SQL("comment on table {} is {}").format(qualified(table), sql.Literal(doc.description))
            )
        for name in columns:
            column = doc.columns.get(name)
            if column is not None and column.description:
                conn.execute(
                    sql.SQL("comment on column {}.{} is {}").format(
                        qualified(table), sql.Identifier(name), sql.Literal(column.description)
                    )
                )
    for table, columns in tables.items():
        doc = table_doc(table)
        if doc.primary_key and set(doc.primary_key) <= set(columns):
            conn.execute(
                sql.SQL("alter table {} add primary key ({})").format(
                    qualified(table), sql.SQL(", ").join(map(sql.Identifier, doc.primary_key))
                )
            )
        for key in doc.unique_keys:
            if set(key) <= set(columns):
                conn.execute(
                    sql.SQL("alter table {} add unique ({})").format(
                        qualified(table), sql.SQL(", ").join(map(sql.Identifier, key))
                    )
                )
    for table, columns in tables.items():
        for name, target, target_column in table_doc(table).foreign_keys():
            if name in columns and target_column in tables.get(target, []):
                conn.execute(
                    sql.SQL("alter table {} add foreign key ({}) references {} ({})").format(
                        qualified(table),
                        sql.Identifier(name),
                        qualified(target),
                        sql.Identifier(target_column),
                    )
                )


def _load_release_info(conn: PgConnection, manifest: Manifest) -> None:
    conn.execute(
        f"create table {STAGING_SCHEMA}.{RELEASE_INFO} (release_id text not null, published_at timestamptz "
        "not null, code_version text not null, table_name text not null, row_count bigint not null)"
    )
    with (
        conn.cursor() as cursor,
        cursor.copy(f"copy {STAGING_SCHEMA}.{RELEASE_INFO} from stdin with (freeze true)") as copy,
    ):
        for table, entry in manifest["tables"].items():
            copy.write_row(
                (
                    manifest["release_id"],
                    manifest["published_at"],
                    manifest["code_version"],
                    table,
                    entry["rows"],
                )
            )


def _set_search_paths(conn: PgConnection) -> None:
    """The readers' roles find the published tables unqualified (Power BI, Excel, psql).

    A role's settings apply to sessions that log in as it: a DBA gives each BI login the
    same with `ALTER ROLE <login> SET search_path = stls_published, public` (README).
    """
    wanted = f"search_path={SCHEMA}, public"
    for role in (BI_READER, AUDITOR):
        held = conn.execute(
            "select 1 from pg_db_role_setting s join pg_roles r on r.oid = s.setrole "
            "where r.rolname = %s and s.setdatabase = 0 and %s = any(s.setconfig)",
            [role, wanted],
        ).fetchone()
        if not held:  # set once, as the roles are created once: a publisher needs no CREATEROLE after
            conn.execute(f"alter role {role} set search_path = {SCHEMA}, public")


def _grant(conn: PgConnection, tables: list[str]) -> None:
    conn.execute(f"grant usage on schema {STAGING_SCHEMA} to {BI_READER}, {AUDITOR}")
    for table in [*tables, RELEASE_INFO]:
        readers = AUDITOR if table in AUDITOR_ONLY_TABLES else f"{BI_READER}, {AUDITOR}"
        conn.execute(f"grant select on {STAGING_SCHEMA}.{_ident(table)} to {readers}")


def _swap(conn: PgConnection) -> None:
    """Rename staging to `stls_published` once no reader holds the old tables."""
    import psycopg

    conn.execute(f"set local lock_timeout = '{SWAP_LOCK_TIMEOUT}'")
    deadline = time.monotonic() + SWAP_DEADLINE_SECONDS
    while True:
        conn.execute("savepoint stls_swap")
        try:
            old = [
                f"{_ident(s)}.{_ident(t)}"
                for s, t in conn.execute(
                    "select schemaname, tablename from pg_tables where schemaname in (%s, %s) "
                    "order by schemaname, tablename",
                    [SCHEMA, RETIRED_SCHEMA],
                ).fetchall()
            ]
            if old:
                conn.execute(f"lock table {', '.join(old)} in access exclusive mode")
            conn.execute(f"drop schema if exists {RETIRED_SCHEMA} cascade")
            if conn.execute("select 1 from pg_namespace where nspname = %s", [SCHEMA]).fetchone():
                conn.execute(f"alter schema {SCHEMA} rename to {RETIRED_SCHEMA}")
            conn.execute(f"alter schema {STAGING_SCHEMA} rename to {SCHEMA}")
            conn.execute(f"drop schema if exists {RETIRED_SCHEMA} cascade")
            conn.execute("release savepoint stls_swap")
            return
        except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected):
            conn.execute("rollback to savepoint stls_swap")
            if time.monotonic() > deadline:
                raise
            time.sleep(random.uniform(0.02, 0.2))
