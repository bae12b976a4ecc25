"""How long the Great Expectations gate on returns takes: per run of one period's 28 returns
(14 ledger + 14 KPI) and per return, validated together in one process.

    .venv/bin/python benchmarks/gx_bench.py [--repeat 5] [--periods 7] [--year]

Prints: the one-off cost of importing Great Expectations (paid once per gate task, never
by DAG parsing or `stls validate`), the gate's wall time per run (frames, four suites in
one GX context, outcomes written to the staged records and the results rows), the share
of it spent inside GX (context, validation, Data Docs), and the time per return. `--year`
also runs the whole 2021-22 year (336 returns) as one batch, to show how it scales.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TQDM_DISABLE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def stage(root: Path, periods: list[int]) -> tuple[Path, Path, int]:
    from stls_warehouse.intake.raw_zone import RawZone
    from stls_warehouse.intake.stage import stage_files
    from stls_warehouse.synthetic import generate

    files = generate(root / "landing", years=["2021-22"], periods=periods)
    run_dir = root / "staged"
    stage_files([str(f) for f in files], run_dir, RawZone(root / "raw"))
    return run_dir, root / "raw", len(files)


def measure(
    template: Path, raw: Path, scratch: Path, repeat: int, docs: bool
) -> tuple[list[float], list[float]]:
    from stls_warehouse.quality.return_gates import gate_returns

    walls, inside = [], []
    for attempt in range(repeat):
        run_dir = scratch / f"run{attempt}"
        shutil.copytree(template, run_dir)
        started = time.perf_counter()
        outcome = gate_returns(
            run_dir,
            warehouse=None,
            raw_root=raw,
            docs_dir=scratch / f"docs{attempt}" if docs else None,
            run_id=f"bench{attempt}",
        )
        walls.append(time.perf_counter() - started)
        inside.append(outcome.seconds_validating)
        assert not outcome.rejected, outcome.rejected
    return walls, inside


def report(label: str, count: int, walls: list[float], inside: list[float]) -> None:
    wall, gx = statistics.median(walls), statistics.median(inside)
    print(
        f"{label}: {count} returns, median of {len(walls)} runs: {wall:.2f} s per run "
        f"({gx:.2f} s inside GX), {1000 * wall / count:.0f} ms per return "
        f"(min {min(walls):.2f} s, max {max(walls):.2f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--periods", default="7", help="ledger periods of 2021-22, e.g. 7 or 1,2,3")
    parser.add_argument("--year", action="store_true", help="also time the whole year as one batch")
    args = parser.parse_args()

    started = time.perf_counter()
    import great_expectations  # noqa: F401

    print(f"import great_expectations: {time.perf_counter() - started:.2f} s (once per gate task)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        periods = [int(p) for p in args.periods.split(",")]
        template, raw, count = stage(root / "period", periods)
        measure(template, raw, root / "warm", 1, docs=False)  # first use: suites, regexes, caches
        report("gate, no Data Docs", count, *measure(template, raw, root / "plain", args.repeat, docs=False))
        report("gate with Data Docs", count, *measure(template, raw, root / "docs", args.repeat, docs=True))
        if args.year:
            template, raw, count = stage(root / "year", list(range(1, 13)))
            report("whole year, with Data Docs", count, *measure(template, raw, root / "yr", 2, docs=True))


if __name__ == "__main__":
    main()
