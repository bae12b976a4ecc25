"""Write-audit-publish for the Parquet release.

A release is built in its own folder under `published/releases/`, then made current by one
atomic symlink swap of `published/parquet`, so a reader sees the whole previous release or
the whole new one, never half. A release whose tables have the same canonical checksums
as the current one is not published again: re-running publication changes nothing.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stls_warehouse.config import Paths

# The fixed tables of spec/marts.md; every other table dbt builds in `marts` is published too.
CONTRACT_TABLES = (
    "fct_ledger_lines",
    "mart_service_line_budget_outturn",
    "mart_expenditure_breakdown",
    "mart_return_status",
)
KEEP_RELEASES = 5


def published_tables(con: Any) -> tuple[str, ...]:
    """Every table in the warehouse's `marts` schema; the contract's four must be there."""
    names = tuple(
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'marts' and table_type = 'BASE TABLE' order by table_name"
        ).fetchall()
    )
    missing = sorted(set(CONTRACT_TABLES) - set(names))
    if missing:
        raise RuntimeError(f"cannot publish: the warehouse has no marts.{', marts.'.join(missing)}")
    return names


def canonical_checksum(con: Any, relation: str) -> tuple[int, str]:
    """Row count and an order-independent checksum of a table's rows."""
    count, digest = con.execute(
        f"select count(*), coalesce(md5(string_agg(r, chr(10) order by r)), '') "
        f"from (select cast(t as varchar) as r from {relation} as t)"
    ).fetchone()
    return int(count), str(digest)


def current_manifest(paths: Paths) -> dict[str, Any] | None:
    manifest = paths.parquet / "manifest.json"
    if not manifest.exists():
        return None
    return json.loads(manifest.read_text(encoding="utf-8"))


def publish(paths: Paths) -> dict[str, Any]:
    """Export the marts as a new release and swap it in; returns the release manifest."""
    import duckdb

    con = duckdb.connect(str(paths.warehouse), read_only=True)
    try:
        tables = published_tables(con)
        checksums = {t: canonical_checksum(con, f"marts.{t}") for t in tables}
        current = current_manifest(paths)
        if current and {t: tuple(v) for t, v in current["tables"].items()} == checksums:
            return current
        release_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        release_dir = paths.published / "releases" / release_id
        staging = release_dir.with_name(f".{release_id}.tmp")
        (staging / "parquet").mkdir(parents=True)
        for table in tables:
            target = staging / "parquet" / f"{table}.parquet"
            con.execute(f"copy (select * from marts.{table} order by all) to '{target}' (format parquet)")
        submissions = con.execute(
            "select original_name, file_sha256 from raw.submissions where status = 'ACCEPTED' "
            "order by original_name, file_sha256"
        ).fetchall()
    finally:
        con.close()
    manifest = {
        "release_id": release_id,
        "published_at": datetime.now(UTC).isoformat(),
        "tables": {t: list(v) for t, v in checksums.items()},
        "returns": [{"file": name, "sha256": sha} for name, sha in submissions],
    }
    (staging / "parquet" / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    os.replace(staging, release_dir)
    _swap_link(paths.parquet, Path("releases") / release_id / "parquet")
    _prune(paths.published / "releases", keep=KEEP_RELEASES)
    return manifest


def _swap_link(link: Path, target: Path) -> None:
    if link.exists() and not link.is_symlink():
        shutil.rmtree(link)  # a plain folder left by an older layout
    tmp = link.with_name(f".{link.name}.swap")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(target)
    os.replace(tmp, link)


def _prune(releases: Path, keep: int) -> None:
    done = sorted(p for p in releases.iterdir() if p.is_dir() and not p.name.startswith("."))
    for old in done[:-keep]:
        shutil.rmtree(old)
