"""What has been loaded and published, read from the published release (never the warehouse).

`published/current` is resolved once per request, so every table a page reads comes from the
same release even if the pipeline publishes a new one meanwhile. Tables are read with DuckDB
in memory, filtered to one SLA.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RETURN_STATUS = "mart_return_status"
RETURN_QUERIES = "mart_return_queries"

# The columns the returns service reads (the boundary agreed with the warehouse side). A
# release written before a column existed reads it as empty.
STATUS_COLUMNS = (
    "sla_code",
    "return_type",
    "period_key",
    "status",
    "versions_received",
    "current_file_sha256",
    "received_at",
    "due_date",
    "signed_off_by",
    "signed_off_at",
    "signed_off_file_sha256",
    "waiver_reason",
    "waived_by",
    "waived_at",
    "open_queries",
)
QUERY_COLUMNS = (
    "sla_code",
    "return_type",
    "period_key",
    "file_sha256",
    "rule",
    "description",
    "observed",
    "explanation",
    "explained_by",
    "explained_at",
    "query_status",
)


def _as_utc(value: Any) -> Any:
    """Published times are UTC; a table written without a time zone on them still means UTC,
    so that a page shows them in UK time (Django's TIME_ZONE) and never an hour off in summer."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


@dataclass(frozen=True)
class Release:
    """One published release (or none yet: `folder` is None)."""

    folder: Path | None

    @classmethod
    def current(cls, home: Path) -> Release:
        from stls_warehouse.config import Paths
        from stls_warehouse.publish.release import current_release_dir

        return cls(current_release_dir(Paths(home)))

    @property
    def release_id(self) -> str | None:
        return str(self.manifest().get("release_id")) if self.folder else None

    @property
    def published_at(self) -> datetime | None:
        value = self.manifest().get("published_at")
        return datetime.fromisoformat(str(value)) if value else None

    def manifest(self) -> Mapping[str, Any]:
        from stls_warehouse.publish.release import release_manifest

        return (release_manifest(self.folder) or {}) if self.folder else {}

    def table_path(self, table: str) -> Path | None:
        if self.folder is None:
            return None
        path = self.folder / "parquet" / f"{table}.parquet"
        return path if path.exists() else None

    def rows(self, table: str, columns: tuple[str, ...], **equal: str) -> list[dict[str, Any]]:
        """The rows of `table` whose columns equal the given values; missing columns read None."""
        path = self.table_path(table)
        if path is None:
            return []
        import duckdb

        with duckdb.connect() as con:
            present = {
                row[0] for row in con.execute("select name from parquet_schema(?)", [str(path)]).fetchall()
            }
            selected = ", ".join(f'"{c}"' if c in present else f'null as "{c}"' for c in columns)
            where = " and ".join(f'"{c}" = ?' for c in equal if c in present) or "true"
            params = [str(path), *(v for c, v in equal.items() if c in present)]
            cursor = con.execute(f"select {selected} from read_parquet(?) where {where}", params)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, map(_as_utc, row), strict=True)) for row in cursor.fetchall()]

    def return_status(self, sla_code: str) -> dict[tuple[str, str], dict[str, Any]]:
        """mart_return_status of one SLA, by (return_type, period_key)."""
        rows = self.rows(RETURN_STATUS, STATUS_COLUMNS, sla_code=sla_code)
        return {(r["return_type"], r["period_key"]): r for r in rows}

    def queries(self, sla_code: str, return_type: str, period_key: str) -> list[dict[str, Any]]:
        rows = self.rows(
            RETURN_QUERIES, QUERY_COLUMNS, sla_code=sla_code, return_type=return_type, period_key=period_key
        )
        return sorted(rows, key=lambda r: (r["rule"] or "", r["observed"] or ""))

    def accepted_sha256s(self) -> set[str]:
        """Every file the published submission ledger records as accepted."""
        path = self.table_path("submission_ledger")
        if path is None:
            return set()
        import duckdb

        with duckdb.connect() as con:
            present = {
                row[0] for row in con.execute("select name from parquet_schema(?)", [str(path)]).fetchall()
            }
            column = "file_sha256" if "file_sha256" in present else "sha256"
            cursor = con.execute(
                f"select distinct \"{column}\" from read_parquet(?) where upper(status) = 'ACCEPTED'",
                [str(path)],
            )
            return {row[0] for row in cursor.fetchall()}
