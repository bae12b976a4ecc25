"""Compare two published releases table by table: the proof that a refactor changed nothing.

    .venv/bin/python scripts/compare_releases.py BEFORE/published/current AFTER/published/current

Each table's manifest checksum (the published multiset checksum) is compared. Two runs of
`make demo` differ only in when things happened (a file's `received_at`, a check's
`checked_at` and `run_id`), so a table whose checksum differs is checked again over its
Parquet file without those columns, and reported as "same apart from run times" when that
matches. Exit status 1 when any table, column list or row count differs otherwise.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb

from stls_warehouse.publish.audit import canonical_checksum

RUN_TIME_COLUMNS = ("received_at", "checked_at", "run_id")


def _without_run_times(con: duckdb.DuckDBPyConnection, parquet: Path) -> tuple[int, str]:
    columns = [row[0] for row in con.execute(f"describe select * from read_parquet('{parquet}')").fetchall()]
    dropped = [c for c in RUN_TIME_COLUMNS if c in columns]
    exclude = f" exclude ({', '.join(dropped)})" if dropped else ""
    return canonical_checksum(con, f"(select *{exclude} from read_parquet('{parquet}'))")


def compare(before: Path, after: Path) -> list[str]:
    old = json.loads((before / "manifest.json").read_text())["tables"]
    new = json.loads((after / "manifest.json").read_text())["tables"]
    problems: list[str] = []
    con = duckdb.connect()
    for name in sorted(old.keys() | new.keys()):
        if name not in old or name not in new:
            problems.append(f"{name}: only in {'after' if name in new else 'before'}")
            continue
        a, b = old[name], new[name]
        if a["columns"] != b["columns"]:
            problems.append(f"{name}: columns differ")
        elif a["checksum"] == b["checksum"]:
            print(f"{name:40} identical ({a['rows']} rows)")
        elif _without_run_times(con, before / "parquet" / f"{name}.parquet") == _without_run_times(
            con, after / "parquet" / f"{name}.parquet"
        ):
            print(f"{name:40} same apart from run times ({a['rows']} rows)")
        else:
            problems.append(f"{name}: rows differ ({a['rows']} before, {b['rows']} after)")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    problems = compare(Path(argv[0]), Path(argv[1]))
    for problem in problems:
        print(f"DIFFERENT {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
