"""Canonical checksums of the published tables: what "re-running changes nothing" is tested on.

Each table's rows are checksummed as a multiset, whatever their order, in one streaming pass
(`audit.canonical_checksum`), over every column except those that record *when* or *in which
run* something happened (`received_at`, `run_id`, `checked_at`): a back-fill run month by
month legitimately differs from one run over all the files there and nowhere else. For the
same reason the data quality results are compared on their per-return rows (one per check
per file, as distinct rows); the per-run checks of the built warehouse repeat once per run.
"""

from __future__ import annotations

from typing import Any

from stls_warehouse.config import Paths

RUN_RECORD_COLUMNS = ("received_at", "run_id", "checked_at")
RUN_LOGS = {"mart_data_quality_results": "file_sha256 is not null"}


def published_checksums(home: Paths) -> dict[str, tuple[int, str]]:
    """(row count, checksum) per published table, read from the current Parquet release."""
    import duckdb

    from stls_warehouse.publish.audit import canonical_checksum

    con = duckdb.connect()
    try:
        result = {}
        for path in sorted(home.parquet.glob("*.parquet")):
            relation = _without_run_records(con, f"read_parquet('{path}')", RUN_LOGS.get(path.stem))
            result[path.stem] = canonical_checksum(con, relation)
        return result
    finally:
        con.close()


def _without_run_records(con: Any, source: str, per_return: str | None) -> str:
    columns = [row[0] for row in con.execute(f"describe select * from {source}").fetchall()]
    dropped = [c for c in RUN_RECORD_COLUMNS if c in columns]
    selected = f"* exclude ({', '.join(dropped)})" if dropped else "*"
    if per_return is None:
        return f"(select {selected} from {source})"
    return f"(select distinct {selected} from {source} where {per_return})"
