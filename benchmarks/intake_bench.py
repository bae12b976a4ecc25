"""Intake benchmark: validation time and peak memory of a 5,000-line ledger return.

Compares `validate_return` (the full contract check, CSV and XLSX) with a bare
`pandas.read_excel` (openpyxl engine) and DuckDB's `read_csv` of the same data, and measures
the peak memory of rejecting zip bombs. Each measurement runs in a fresh interpreter so its
peak RSS is its own. Prints a table and writes benchmarks/results/intake_bench.json.

    .venv/bin/python benchmarks/intake_bench.py [--lines 5000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
LEDGER = "LEDGER_SWA_2021-22_P07"

CASES: dict[str, str] = {
    "validate_csv": "stls validate_return, CSV",
    "validate_xlsx": "stls validate_return, XLSX",
    "pandas_read_excel": "pandas.read_excel (openpyxl), XLSX",
    "duckdb_read_csv": "duckdb read_csv, CSV",
    "bomb_declared": "zip bomb declaring 1 GiB: rejected",
    "bomb_lying": "zip bomb inflating to 1 GiB, declaring 1 MiB: rejected",
}


def _status_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process. VmHWM belongs to the process image, so
    unlike ru_maxrss it does not carry over the parent's peak across fork and exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _write_inputs(folder: Path, lines: int) -> dict[str, Path]:
    sys.path.insert(0, str(ROOT))
    from stls_warehouse.intake.writers import render_ledger
    from tests.factories import ledger_rows
    from tests.intake.hostile import zip_bomb

    rows = ledger_rows(n=lines)
    for number, row in enumerate(rows):
        row["line_ref"] = f"SWA-{number:06d}"
        row["description"] = f"Line {number}: supply teaching, week {number % 52}"
        row["amount"] = Decimal(row["amount"]) / 10
    typed = [dict(row, period=7) for row in rows]
    paths = {
        "csv": folder / f"{LEDGER}.csv",
        "xlsx": folder / f"{LEDGER}.xlsx",
        "bomb_declared": folder / "bomb_declared.xlsx",
        "bomb_lying": folder / "bomb_lying.xlsx",
    }
    paths["csv"].write_bytes(render_ledger("csv", rows))
    paths["xlsx"].write_bytes(render_ledger("xlsx", typed, control=True))
    small = render_ledger("xlsx", typed[:3])
    paths["bomb_declared"].write_bytes(zip_bomb(small, 1 << 30, honest=True))
    paths["bomb_lying"].write_bytes(zip_bomb(small, 1 << 30, honest=False))
    return paths


def _measure(case: str, path: Path, repeat: int) -> dict[str, Any]:
    """Runs inside the fresh interpreter: import, read the file, time the operation."""
    if case.startswith(("validate", "bomb")):
        from stls_warehouse.intake.validate import check_return, validate_return

        data = path.read_bytes()
        name = path.name if case.startswith("validate") else f"{LEDGER}.xlsx"
        # The lying bomb declares little, so validate_return would check it in this process
        # anyway; check_return makes that explicit.
        check = check_return if case == "bomb_lying" else validate_return

        def run() -> Any:
            result = check(name, data)
            return result.status, [p.code for p in result.errors][:1], len(result.ledger_lines)

    elif case == "pandas_read_excel":
        import pandas as pd

        def run() -> Any:
            frame = pd.read_excel(path, sheet_name="Ledger", engine="openpyxl", dtype=str)
            return len(frame)

    else:
        import duckdb

        def run() -> Any:
            return len(duckdb.sql(f"select * from read_csv('{path}', all_varchar = true)").fetchall())

    baseline = _status_mb("VmRSS")
    times, outcome = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        outcome = run()
        times.append(time.perf_counter() - started)
    return {
        "case": case,
        "seconds_best": round(min(times), 4),
        "seconds_first": round(times[0], 4),
        "rss_before_mb": round(baseline, 1),
        "peak_rss_mb": round(_status_mb("VmHWM"), 1),
        "outcome": outcome,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", choices=list(CASES), help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(_measure(args.one, Path(args.path), args.repeat)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        inputs = _write_inputs(Path(tmp), args.lines)
        sources = {
            "validate_csv": inputs["csv"],
            "validate_xlsx": inputs["xlsx"],
            "pandas_read_excel": inputs["xlsx"],
            "duckdb_read_csv": inputs["csv"],
            "bomb_declared": inputs["bomb_declared"],
            "bomb_lying": inputs["bomb_lying"],
        }
        sizes = {key: path.stat().st_size for key, path in inputs.items()}
        results = []
        for case, path in sources.items():
            done = subprocess.run(
                [sys.executable, __file__, "--one", case, "--path", str(path), "--repeat", str(args.repeat)],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            )
            results.append(
                json.loads(done.stdout.strip().splitlines()[-1]) | {"file_bytes": path.stat().st_size}
            )
    print(
        f"Intake benchmark: {args.lines}-line ledger return, best of {args.repeat}, each case in a fresh process"
    )
    print(f"{'case':<58}{'file KB':>9}{'seconds':>9}{'RSS before MB':>15}{'peak RSS MB':>13}")
    for row in results:
        print(
            f"{CASES[row['case']]:<58}{row['file_bytes'] / 1024:>9.0f}{row['seconds_best']:>9.3f}"
            f"{row['rss_before_mb']:>15.1f}{row['peak_rss_mb']:>13.1f}"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = {
        "benchmark": "intake",
        "run_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "lines": args.lines,
        "repeat": args.repeat,
        "file_sizes": sizes,
        "results": results,
    }
    target = RESULTS / "intake_bench.json"
    target.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"written {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
