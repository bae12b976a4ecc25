"""The submission record: the warehouse's raw tables, kept beside the raw zone, batch by batch.

The raw zone holds every file received; the submission ledger (raw.submissions and the lines
of accepted returns) lives in the warehouse. A warehouse moved away after a corrupt-file
error, or recreated empty, must never make the receipts say "received" while nothing is
loaded (issue 13, case 3). So every load's rows are also written, after the ledger commits,
to `raw/record/<received_at>/` as Parquet (one file per raw table), and:

- the run restores, before anything reads the warehouse, every batch the warehouse lacks
  (`restore_missing`), whether the warehouse is missing, empty or an older copy;
- `stls rebuild` builds a new warehouse from the record alone (`rebuild`).

Batches are append-only and keyed by their `received_at`, like the ledger itself. A batch is
written by rename, so a half-written one is never read; one that a crash kept from being
written is written by the next load (`write_missing`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

from stls_warehouse.files import atomic_directory

log = logging.getLogger(__name__)

RECORD = "record"
# raw table -> which of its rows belong to the batch received at `?`
_BATCH_ROWS = {
    "submissions": "received_at = ?",
    "ledger_lines": "file_sha256 in (select file_sha256 from raw.submissions "
    "where received_at = ? and status = 'ACCEPTED')",
    "kpi_values": "file_sha256 in (select file_sha256 from raw.submissions "
    "where received_at = ? and status = 'ACCEPTED')",
    "submission_changes": "recorded_at = ?",
}


def record_root(raw_root: Path) -> Path:
    return raw_root / RECORD


def batch_name(received_at: datetime) -> str:
    return received_at.strftime("%Y%m%dT%H%M%S%f")


def batches(raw_root: Path) -> list[Path]:
    root = record_root(raw_root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def write_missing(con: duckdb.DuckDBPyConnection, raw_root: Path) -> int:
    """Write every batch of the warehouse's ledger that the record lacks; returns how many."""
    have = {p.name for p in batches(raw_root)}
    written = 0
    for (received_at,) in con.execute(
        "select distinct received_at from raw.submissions order by 1"
    ).fetchall():
        if batch_name(received_at) not in have:
            _write_batch(con, raw_root, received_at)
            written += 1
    return written


def _write_batch(con: duckdb.DuckDBPyConnection, raw_root: Path, received_at: datetime) -> None:
    from stls_warehouse.sql import sql_string

    with atomic_directory(record_root(raw_root) / batch_name(received_at)) as staging:
        for table, where in _BATCH_ROWS.items():
            target = sql_string(str(staging / f"{table}.parquet"))
            con.execute(
                f"copy (select * from raw.{table} where {where}) to {target} (format parquet)", [received_at]
            )
        for path in staging.iterdir():
            path.chmod(0o440)


@dataclass
class Restored:
    batches: list[str] = field(default_factory=list)
    submissions: int = 0
    ledger_lines: int = 0
    kpi_values: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "batches": len(self.batches),
            "submissions": self.submissions,
            "ledger_lines": self.ledger_lines,
            "kpi_values": self.kpi_values,
        }


def restore_missing(warehouse: Path, raw_root: Path) -> Restored:
    """Load into the warehouse every recorded batch it lacks (all of them when it is new)."""
    from stls_warehouse.sql import sql_string
    from stls_warehouse.warehouse import connect

    restored = Restored()
    recorded = batches(raw_root)
    if not recorded:
        return restored
    con = connect(warehouse)
    try:
        have = {
            batch_name(r[0])
            for r in con.execute("select distinct received_at from raw.submissions").fetchall()
        }
        missing = [b for b in recorded if b.name not in have]
        if not missing:
            return restored
        con.begin()
        for batch in missing:
            for table in _BATCH_ROWS:
                source = sql_string(str(batch / f"{table}.parquet"))
                inserted = con.execute(
                    f"insert into raw.{table} by name select * from read_parquet({source})"
                ).fetchone()
                count = inserted[0] if inserted else 0
                if hasattr(restored, table):
                    setattr(restored, table, getattr(restored, table) + count)
            restored.batches.append(batch.name)
        con.commit()
        con.execute("checkpoint")
    except BaseException:
        con.rollback()
        raise
    finally:
        con.close()
    log.warning(
        "the warehouse lacked %d batch(es) of the submission record (%d submissions, %d ledger lines, "
        "%d KPI values): reloaded from %s",
        len(restored.batches),
        restored.submissions,
        restored.ledger_lines,
        restored.kpi_values,
        record_root(raw_root),
    )
    return restored


def rebuild(warehouse: Path, raw_root: Path) -> tuple[Restored, Path | None]:
    """A new warehouse from the submission record; the old file, if any, is kept beside it.

    Returns what was loaded and where the old warehouse was moved (None when there was none).
    """
    fresh = warehouse.with_name(f".{warehouse.name}.rebuild")
    for leftover in (fresh, fresh.with_name(fresh.name + ".wal")):
        leftover.unlink(missing_ok=True)
    restored = restore_missing(fresh, raw_root)
    kept: Path | None = None
    if warehouse.exists():
        kept = warehouse.with_name(
            f"{warehouse.name}.before-rebuild-{datetime.now().strftime('%Y%m%dT%H%M%S')}"
        )
        os.replace(warehouse, kept)
        wal = warehouse.with_name(warehouse.name + ".wal")
        if wal.exists():
            os.replace(wal, kept.with_name(kept.name + ".wal"))
    if fresh.exists():
        os.replace(fresh, warehouse)
    else:
        from stls_warehouse.warehouse import connect

        connect(warehouse).close()
    return restored, kept


def unrecorded_receipts(raw_root: Path) -> int:
    """Files the raw zone has receipts for that no recorded batch holds (received before the
    record was kept): a rebuild cannot restore them and says so."""
    import duckdb

    from stls_warehouse.sql import sql_string

    receipts = raw_root / "receipts"
    shas = {p.stem for p in receipts.rglob("*.json")} if receipts.is_dir() else set()
    if not shas:
        return 0
    recorded: set[str] = set()
    for batch in batches(raw_root):
        rows = duckdb.execute(
            f"select distinct file_sha256 from read_parquet({sql_string(str(batch / 'submissions.parquet'))})"
        ).fetchall()
        recorded.update(r[0] for r in rows)
    return len(shas - recorded)
