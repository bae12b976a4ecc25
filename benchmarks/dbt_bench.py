"""dbt benchmark: `dbt build` wall time for the whole project, and the rebuild after one
resubmitted return against a full rebuild.

For each scale (the four demo years with lines_multiplier 1, and 10x the ledger lines) it
writes the synthetic returns into a temporary STLS_HOME, runs intake and the load as the
pipeline does, then times, each as a fresh `dbt` process exactly as the pipeline starts it
(stls_warehouse.transform):

  full build             the pipeline's build (transform.build) on the freshly loaded
                         warehouse: no build recorded yet, so `dbt build --fail-fast` of the
                         whole project (first run: dbt also parses it);
  pipeline rebuild       after one resubmitted ledger return (SWA 2023-24 P07, one amount
                         changed): transform.build as the pipeline runs it: the project is
                         unchanged, so only what the changed source tables feed
                         (`--select source:returns.submissions+ source:returns.ledger_lines+
                         --exclude-resource-type unit_test`); the plan is in the JSON;
  nothing new            transform.build again at once: no source row changed, no build;
  whole-project rebuild  after a second resubmission: `dbt build --fail-fast`, every node
                         (what the pipeline ran before it planned its builds); the
                         incremental period totals reload that return only;
  full rebuild           `dbt build --fail-fast --full-refresh` on the same data: every
                         table rebuilt from scratch (the comparison for the lines above);
  targeted rebuild       after a third resubmission: `dbt build --select source:returns+
                         --exclude-resource-type unit_test`: every source's descendants;
  publish                stls_warehouse.publish.release.publish of every marts table
                         (checksums and Parquet), for scale.

The rebuilds are measured --repeat times (a new resubmission each time) and the median
printed; the machine may be shared, so the samples are kept in the JSON. Prints a table and
writes benchmarks/results/dbt_bench.json.

    .venv/bin/python benchmarks/dbt_bench.py [--scales 1 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
AS_OF = "2025-06-30"
RESUBMITTED = ("SWA", "2023-24", 7)
TARGETED = ("build", "--select", "source:returns+", "--exclude-resource-type", "unit_test")


def _timed(action: Any, *args: Any) -> float:
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        action(*args)
    return time.perf_counter() - started


def _intake_and_load(run_id: str) -> None:
    from stls_warehouse import pipeline

    for batch in pipeline.route_landing():
        if batch["files"]:
            pipeline.intake_batch(batch["sla_code"], batch["files"], run_id)
    pipeline.load_returns(run_id)


def _resubmit(landing: Path, multiplier: int, change: Decimal) -> None:
    """A corrected return for the same SLA and period: one amount changed, sent as CSV."""
    from stls_warehouse.intake.writers import write_ledger
    from stls_warehouse.synthetic import generate_returns
    from stls_warehouse.synthetic.render import canonical_ledger_row

    sla, year, period = RESUBMITTED
    ledger = generate_returns(
        years=[year], slas=[sla], periods=[period], lines_multiplier=multiplier
    ).ledgers[0]
    lines = list(ledger.lines)
    lines[0] = replace(lines[0], amount=lines[0].amount + change)
    rows = [canonical_ledger_row(line) for line in lines]
    path = landing / f"{ledger.file_name('csv')}"
    write_ledger(path, rows)
    later = time.time() + 60
    os.utime(path, (later, later))


def _count(warehouse: Path, relation: str) -> int:
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return int(con.execute(f"select count(*) from {relation}").fetchone()[0])
    finally:
        con.close()


def run_scale(multiplier: int, root: Path, repeat: int) -> dict[str, Any]:
    from stls_warehouse import transform
    from stls_warehouse.config import paths
    from stls_warehouse.publish.release import publish
    from stls_warehouse.synthetic.generator import generate
    from stls_warehouse.warehouse import connect

    home = root / f"x{multiplier}"
    os.environ["STLS_HOME"] = str(home)
    os.environ["STLS_AS_OF_DATE"] = AS_OF
    os.environ.pop("STLS_WAREHOUSE_PATH", None)
    where = paths().ensure()
    figures: dict[str, Any] = {"lines_multiplier": multiplier}
    figures["generate_s"] = _timed(lambda: generate(where.landing, lines_multiplier=multiplier))
    figures["intake_and_load_s"] = _timed(_intake_and_load, "bench_initial")
    connect(where.warehouse).close()
    figures["ledger_lines"] = _count(where.warehouse, "raw.ledger_lines")

    plans: list[dict[str, str]] = []

    def pipeline_build() -> None:
        plan = transform.build(where)
        plans.append({"mode": plan.mode, "reason": plan.reason, "command": " ".join(plan.args)})

    figures["full_build_s"] = _timed(pipeline_build)
    figures["published_ledger_lines"] = _count(where.warehouse, "marts.fct_ledger_lines")
    figures["publish_s"] = _timed(publish, where)

    samples: dict[str, list[float]] = {
        "resubmission_intake_and_load_s": [],
        "rebuild_pipeline_s": [],
        "nothing_new_s": [],
        "rebuild_incremental_s": [],
        "full_rebuild_s": [],
        "rebuild_targeted_s": [],
        "republish_s": [],
    }
    for attempt in range(repeat):
        _resubmit(where.landing, multiplier, Decimal(100 + 3 * attempt))
        samples["resubmission_intake_and_load_s"].append(_timed(_intake_and_load, f"bench_a{attempt}"))
        samples["rebuild_pipeline_s"].append(_timed(pipeline_build))
        samples["nothing_new_s"].append(_timed(pipeline_build))
        _resubmit(where.landing, multiplier, Decimal(101 + 3 * attempt))
        _timed(_intake_and_load, f"bench_b{attempt}")
        samples["rebuild_incremental_s"].append(_timed(transform.run_dbt, where, "build", "--fail-fast"))
        samples["full_rebuild_s"].append(
            _timed(transform.run_dbt, where, "build", "--fail-fast", "--full-refresh")
        )
        _resubmit(where.landing, multiplier, Decimal(102 + 3 * attempt))
        _timed(_intake_and_load, f"bench_c{attempt}")
        samples["rebuild_targeted_s"].append(_timed(transform.run_dbt, where, *TARGETED))
        samples["republish_s"].append(_timed(publish, where))
    for key, values in samples.items():
        figures[key] = statistics.median(values)
    figures["samples"] = samples
    figures["plans"] = plans
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10], help="lines multipliers")
    parser.add_argument("--repeat", type=int, default=3, help="rebuilds measured per scale (median)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    results = []
    with tempfile.TemporaryDirectory(prefix="dbt_bench_") as tmp:
        for multiplier in args.scales:
            figures = run_scale(multiplier, Path(tmp), args.repeat)
            results.append(figures)
            print(json.dumps(figures), file=sys.stderr)
    rows = [
        ("ledger lines loaded", "ledger_lines", "{:,}"),
        ("write returns (generator)", "generate_s", "{:.1f} s"),
        ("intake and load, all returns", "intake_and_load_s", "{:.1f} s"),
        ("dbt build, whole project (first run)", "full_build_s", "{:.1f} s"),
        ("publish every marts table", "publish_s", "{:.1f} s"),
        ("intake and load, one resubmitted return", "resubmission_intake_and_load_s", "{:.1f} s"),
        ("pipeline build after it (planned)", "rebuild_pipeline_s", "{:.1f} s"),
        ("pipeline build, nothing new (skipped)", "nothing_new_s", "{:.1f} s"),
        ("dbt build, whole project, after one", "rebuild_incremental_s", "{:.1f} s"),
        ("dbt build --full-refresh (full rebuild)", "full_rebuild_s", "{:.1f} s"),
        ("dbt build source:returns+ after one", "rebuild_targeted_s", "{:.1f} s"),
        ("publish again after it", "republish_s", "{:.1f} s"),
    ]
    header = f"{'':44}" + "".join(f"{'x' + str(r['lines_multiplier']):>12}" for r in results)
    print(header)
    for label, key, fmt in rows:
        print(f"{label:44}" + "".join(f"{fmt.format(r[key]):>12}" for r in results))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "targeted_command": "dbt " + " ".join(TARGETED),
        "repeat": args.repeat,
        "scales": results,
    }
    (RESULTS / "dbt_bench.json").write_text(json.dumps(out, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
