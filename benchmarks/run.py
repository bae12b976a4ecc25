"""`make bench`: every stage of the pipeline timed against its floor and its peer, one table.

    .venv/bin/python benchmarks/run.py [--quick] [--only STAGE ...] [--compare OLD.json]
    .venv/bin/python benchmarks/run.py --show RESULT.json [--compare OLD.json]

Stages (in order): intake, validation, transformation, e2e, incremental, memory. Each
generates its own synthetic data at the chosen scale under a temporary folder, runs every
case in a fresh process (peak RSS per case: VmHWM, or the largest child it waited for), and
adds rows to one table: the figure, its floor (what the same work costs done by a tool
built only for it) and its peer (what users would otherwise pick), the ratio to the floor,
the budget and whether it is met. The table is printed and written, with every raw figure,
to benchmarks/results/bench_<time>.json (and latest.json) so two runs can be compared.

Benchmarks print figures; they do not fail on a busy machine. Run the full mode alone.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h

ROOT = h.ROOT
RESULTS = ROOT / "benchmarks" / "results"
STAGES = ("intake", "validation", "transformation", "e2e", "incremental", "memory")
MEMORY_BUDGET_MB = 4096


@dataclass
class Row:
    key: str  # stable across runs: what --compare matches on
    stage: str
    case: str
    scale: str
    seconds: float | None = None
    rate: float | None = None  # lines per second
    floor: tuple[str, float] | None = None
    peer: tuple[str, float] | None = None
    ratio: float | None = None
    budget: str = ""
    ok: bool | None = None
    peak_mb: float | None = None
    note: str = ""


@dataclass
class Context:
    args: argparse.Namespace
    work: Path
    log: Path
    rows: list[Row] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    homes: dict[str, dict[str, Any]] = field(default_factory=dict)  # e2e homes for incremental

    def case(self, name: str, params: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        kwargs.setdefault("guard_mb", self.args.guard_mb)
        return h.run_case(name, params, log=self.log, **kwargs)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        print(f"  {row.stage:<14} {row.case:<46} {row.scale:<20} {_num(row.seconds, 's')}", flush=True)
        return row

    def profile(self, name: str) -> str | None:
        if not self.args.profile:
            return None
        return str(self.args.results_dir / "profiles" / f"{name}.txt")


def _num(value: float | None, unit: str = "") -> str:
    if value is None:
        return ""
    if value >= 100:
        text = f"{value:,.0f}"
    elif value >= 10:
        text = f"{value:.1f}"
    elif value >= 1:
        text = f"{value:.2f}"
    else:
        text = f"{value:.3f}"
    return f"{text} {unit}".strip()


def _lines(n: int) -> str:
    return f"{n:,} lines"


# --- intake ---------------------------------------------------------------------------------


def stage_intake(ctx: Context) -> None:
    scales = ctx.args.intake_lines or ([50, 5000] if ctx.args.quick else [50, 500, 5000, 50000])
    raw: dict[str, Any] = {}
    # per format: the floor (fastest plain read), the peer and the budget as a multiple of the floor
    baselines = {
        "csv": ("duckdb_read_csv", "pandas_read_csv", 3.0),
        "xlsx": ("calamine", "pandas_read_excel", 2.0),
    }
    for lines in scales:
        folder = ctx.work / "intake" / str(lines)
        files = ctx.case("write_intake_files", {"folder": str(folder), "lines": lines})
        repeat = ctx.args.repeat or (3 if lines <= 5000 else 2)
        measured: dict[str, Any] = {}
        for extension, (floor_tool, peer_tool, _) in baselines.items():
            for tool in ("validate_return", floor_tool, peer_tool):
                slow_peer = tool == "pandas_read_excel" and lines >= 5000
                measured[f"{extension}:{tool}"] = ctx.case(
                    "intake",
                    {
                        "path": files[extension]["path"],
                        "tool": tool,
                        "repeat": 1 if slow_peer else repeat,
                        "profile": ctx.profile(f"intake_{extension}_{lines}")
                        if tool == "validate_return"
                        else None,
                    },
                )
        sandboxed = {extension: _sandboxed(files[extension]["path"]) for extension in ("csv", "xlsx")}
        for extension in ("csv", "xlsx"):
            if sandboxed[extension]:  # validate_return checks it in a child: show the core too
                measured[f"{extension}:check_return"] = ctx.case(
                    "intake", {"path": files[extension]["path"], "tool": "check_return", "repeat": repeat}
                )
        raw[str(lines)] = {"files": files, "measured": measured}
        for extension, (floor_tool, peer_tool, budget) in baselines.items():
            own = measured[f"{extension}:validate_return"]
            floor = measured[f"{extension}:{floor_tool}"]
            peer = measured[f"{extension}:{peer_tool}"]
            ratio = own["best_s"] / floor["best_s"]
            note = f"file {files[extension]['bytes'] / 1024:,.0f} KB; process wall {own['process_s']:.2f} s (imports {own['import_s']:.2f} s)"
            if sandboxed[extension]:
                note += (
                    "; over 8 MB of content, so validate_return checks it in a sandboxed child interpreter"
                )
            ctx.add(
                Row(
                    key=f"intake.{extension}.{lines}",
                    stage="intake",
                    case=f"{extension.upper()} return: validate_return",
                    scale=_lines(lines),
                    seconds=own["best_s"],
                    rate=lines / own["best_s"],
                    floor=(floor_tool.replace("_", " "), floor["best_s"]),
                    peer=(peer_tool.replace("_", " "), peer["best_s"]),
                    ratio=ratio,
                    budget=f"<= {budget:g}x floor",
                    ok=ratio <= budget,
                    peak_mb=own["peak_mb"],
                    note=note,
                )
            )
        for extension, (floor_tool, _, _) in baselines.items():
            if not sandboxed[extension]:
                continue
            core = measured[f"{extension}:check_return"]
            floor = measured[f"{extension}:{floor_tool}"]
            ctx.add(
                Row(
                    key=f"intake.{extension}_in_process.{lines}",
                    stage="intake",
                    case=f"{extension.upper()} return: check_return (no sandbox)",
                    scale=_lines(lines),
                    seconds=core["best_s"],
                    rate=lines / core["best_s"],
                    floor=(floor_tool.replace("_", " "), floor["best_s"]),
                    ratio=core["best_s"] / floor["best_s"],
                    peak_mb=core["peak_mb"],
                    note="the same checks in the calling process, for comparison",
                )
            )
    largest = str(max(scales))
    peaks = {k: v["peak_mb"] for k, v in raw[largest]["measured"].items()}
    ctx.add(
        Row(
            key="memory.intake_largest_return",
            stage="memory",
            case="intake peak RSS, largest return (CSV | XLSX)",
            scale=_lines(int(largest)),
            peak_mb=max(peaks["csv:validate_return"], peaks["xlsx:validate_return"]),
            note=f"CSV {peaks['csv:validate_return']:,.0f} MB, XLSX {peaks['xlsx:validate_return']:,.0f} MB; "
            f"calamine {peaks['xlsx:calamine']:,.0f} MB, openpyxl {peaks['xlsx:pandas_read_excel']:,.0f} MB, "
            f"duckdb {peaks['csv:duckdb_read_csv']:,.0f} MB",
        )
    )
    ctx.raw["intake"] = raw


# --- validation --------------------------------------------------------------------------------


def stage_validation(ctx: Context) -> None:
    target = ctx.args.validation_lines or (100_000 if ctx.args.quick else 1_000_000)
    gx = ctx.case("validation", {"tool": "gx", "lines": target, "profile": ctx.profile("validation_gx")})
    sql = ctx.case("validation", {"tool": "sql", "lines": target, "profile": ctx.profile("validation_sql")})
    ctx.raw["validation"] = {"gx": gx, "sql": sql}
    same = gx["failing"] == sql["failing"]
    ctx.add(
        Row(
            key="validation.one_return",
            stage="validation",
            case="GX ledger_return suite: run_suite, one return",
            scale=_lines(gx["one_return_lines"]),
            seconds=gx["one_return_s"],
            floor=("one duckdb query", sql["one_return_s"]),
            ratio=gx["one_return_s"] / sql["one_return_s"],
            peak_mb=None,
            note=f"run_suite makes an ephemeral GX context per call; in one warm session a return takes "
            f"{gx['one_return_in_session_s']:.3f} s; GX import {gx['gx_import_s']:.1f} s, context "
            f"{gx['gx_session_s']:.2f} s (paid once per gate task)",
        )
    )
    per_million = gx["big_s"] / gx["lines"] * 1e6
    floor_per_million = sql["big_s"] / sql["lines"] * 1e6
    ratio = per_million / floor_per_million
    ctx.add(
        Row(
            key="validation.per_million",
            stage="validation",
            case="GX ledger_return suite, per million lines",
            scale=f"{_lines(gx['lines'])}, {gx['returns']} returns",
            seconds=per_million,
            rate=gx["lines"] / gx["big_s"],
            floor=("one duckdb query", floor_per_million),
            ratio=ratio,
            budget="<= 5x floor",
            ok=ratio <= 5,
            peak_mb=gx["peak_mb"],
            note=f"same failures found by both: {'yes' if same else 'NO'}; the query over the pandas frame GX gets "
            f"(Arrow-backed columns) takes {sql['big_on_pandas_s'] / sql['lines'] * 1e6:.2f} s per million; "
            f"floor peak {sql['peak_mb']:,.0f} MB; building the frame {gx['frame_build_s']:.1f} s",
        )
    )


# --- transformation ---------------------------------------------------------------------------


def _fit(points: list[tuple[float, float]]) -> tuple[float, float, float]:
    """Least squares t = a + b * lines; (a, b, r squared)."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in points)
    slope = sxy / sxx if sxx else 0.0
    intercept = mean_y - slope * mean_x
    ss_tot = sum((y - mean_y) ** 2 for _, y in points)
    ss_res = sum((y - intercept - slope * x) ** 2 for x, y in points)
    return intercept, slope, (1 - ss_res / ss_tot) if ss_tot else 1.0


def stage_transformation(ctx: Context) -> None:
    quick = ctx.args.quick
    scales = ctx.args.dbt_scales or ([1, 10] if quick else [1, 10, 100])
    years = ctx.args.years or (["2021-22"] if quick else None)
    raw: dict[str, Any] = {}
    points: list[tuple[float, float]] = []
    for multiplier in scales:
        home = ctx.work / "dbt" / f"x{multiplier}"
        written = ctx.case(
            "write_landing",
            {
                "landing": str(home / "landing"),
                "years": years,
                "slas": ctx.args.slas,
                "multiplier": multiplier,
                "workers": 2 if multiplier >= 10 else 1,
            },
        )
        loaded = ctx.case("stage", {"home": str(home), "stages": ["intake", "load"], "run_id": "bench_load"})
        built = ctx.case("stage", {"home": str(home), "stages": ["build"], "profile": None})
        try:
            published: dict[str, Any] | None = ctx.case("stage", {"home": str(home), "stages": ["publish"]})
        except h.CaseFailed as failed:
            published = None
            raw.setdefault("failures", {})[f"x{multiplier}.publish"] = str(failed)
            publish_failure = failure_reason(failed)
        lines = loaded["counts"]["raw.ledger_lines"]
        raw[f"x{multiplier}"] = {"written": written, "loaded": loaded, "built": built, "published": published}
        build_s = built["timings"]["build"]
        points.append((lines, build_s))
        scale = f"x{multiplier}: {_lines(lines)}"
        ctx.add(
            Row(
                key=f"transformation.dbt_build.x{multiplier}",
                stage="transformation",
                case="dbt build, whole project (fresh warehouse)",
                scale=scale,
                seconds=build_s,
                rate=lines / build_s,
                peak_mb=built["peak_mb"],
                note=f"{written['ledger_returns'] + written['kpi_returns']} returns",
            )
        )
        ctx.add(
            Row(
                key=f"transformation.intake_load.x{multiplier}",
                stage="transformation",
                case="intake + load (no GX gate), all returns",
                scale=scale,
                seconds=loaded["timings"]["intake"] + loaded["timings"]["load"],
                rate=lines / (loaded["timings"]["intake"] + loaded["timings"]["load"]),
                peak_mb=loaded["peak_mb"],
                note=f"intake {loaded['timings']['intake']:.1f} s, load {loaded['timings']['load']:.1f} s",
            )
        )
        if published is not None:
            ctx.add(
                Row(
                    key=f"transformation.publish.x{multiplier}",
                    stage="transformation",
                    case="publish (write, audit, swap)",
                    scale=scale,
                    seconds=published["timings"]["publish"],
                    rate=lines / published["timings"]["publish"],
                    peak_mb=published["peak_mb"],
                )
            )
        else:
            ctx.add(
                Row(
                    key=f"transformation.publish.x{multiplier}",
                    stage="transformation",
                    case="publish (write, audit, swap): FAILED",
                    scale=scale,
                    note=publish_failure,
                )
            )
        if not ctx.args.keep:
            shutil.rmtree(home, ignore_errors=True)
    if len(points) >= 2:
        fixed, per_line, r2 = _fit(points)
        raw["fit"] = {"fixed_s": fixed, "per_million_lines_s": per_line * 1e6, "r2": r2, "points": points}
        ctx.add(
            Row(
                key="transformation.dbt_fixed_overhead",
                stage="transformation",
                case="dbt build: fixed overhead (fit's intercept)",
                scale=f"{len(points)} scales",
                seconds=fixed,
                note=f"t = {fixed:.1f} s + {per_line * 1e6:.1f} s per million lines (r^2 {r2:.3f})",
            )
        )
        ctx.add(
            Row(
                key="transformation.dbt_per_million",
                stage="transformation",
                case="dbt build: cost per million lines (fit's slope)",
                scale=f"{len(points)} scales",
                seconds=per_line * 1e6,
                rate=1 / per_line if per_line > 0 else None,
                note="near-linear when r^2 is close to 1",
            )
        )
    ctx.raw["transformation"] = raw


# --- end to end -----------------------------------------------------------------------------------


E2E_DATASETS = {
    "period": {"years": ["2021-22"], "periods": [7], "label": "one period (28 returns)"},
    "year": {"years": ["2021-22"], "periods": None, "label": "one year (2021-22)"},
    "four_years": {"years": None, "periods": None, "label": "four years (demo)"},
}


def _sandboxed(path: str) -> bool:
    """Whether validate_return checks this file in a sandboxed child (the intake's own rule)."""
    from stls_warehouse.intake.sandbox import needs_child

    return needs_child(Path(path).name, Path(path).read_bytes())


def _startup(ctx: Context) -> dict[str, Any]:
    if "startup" in ctx.raw:
        return ctx.raw["startup"]
    home = ctx.work / "startup"
    found = {
        "gx": ctx.case("startup", {"what": "gx"}),
        "dbt": ctx.case("startup", {"what": "dbt", "home": str(home / "dbt")}),
        "airflow": ctx.case("startup", {"what": "airflow", "home": str(home / "airflow")}),
    }
    ctx.raw["startup"] = found
    ctx.add(
        Row(
            key="e2e.startup.airflow",
            stage="e2e",
            case="Airflow start-up: `airflow dags list`",
            scale="fixed",
            seconds=found["airflow"]["dags_list_s"],
            peak_mb=found["airflow"]["peak_mb"],
            note=f"plus once per STLS_HOME: metadata db migrate and pool {found['airflow']['metadata_s']:.1f} s",
        )
    )
    ctx.add(
        Row(
            key="e2e.startup.dbt",
            stage="e2e",
            case="dbt start-up: `dbt parse` (fresh target)",
            scale="fixed",
            seconds=found["dbt"]["parse_s"],
            peak_mb=found["dbt"]["peak_mb"],
            note=f"`dbt --version` alone {found['dbt']['version_s']:.1f} s",
        )
    )
    gx = found["gx"]
    ctx.add(
        Row(
            key="e2e.startup.gx",
            stage="e2e",
            case="GX start-up: import + ephemeral context",
            scale="fixed",
            seconds=gx["import_s"] + gx["context_s"],
            peak_mb=gx["peak_mb"],
            note=f"import {gx['import_s']:.1f} s, context {gx['context_s']:.2f} s",
        )
    )
    return found


def _e2e_datasets(ctx: Context) -> list[str]:
    if ctx.args.e2e:
        return ctx.args.e2e
    return ["period"] if ctx.args.quick else ["period", "year", "four_years"]


def stage_e2e(ctx: Context) -> None:
    startup = _startup(ctx)
    raw: dict[str, Any] = {}
    for name in _e2e_datasets(ctx):
        spec = E2E_DATASETS[name]
        homes = {kind: ctx.work / "e2e" / name / kind for kind in ("airflow", "local")}
        for home in homes.values():
            ctx.case(
                "write_landing",
                {
                    "landing": str(home / "landing"),
                    "years": spec["years"],
                    "periods": spec["periods"],
                    "generator": True,
                },
            )
        returns = len(list((homes["airflow"] / "landing").iterdir()))
        run = ctx.case("stls_run", {"home": str(homes["airflow"])})
        local = ctx.case(
            "stage",
            {
                "home": str(homes["local"]),
                "stages": ["intake", "gate", "load", "build", "gate_warehouse", "publish"],
                "run_id": "bench_local",
                "profile": ctx.profile(f"e2e_{name}") if name == "period" else None,
            },
        )
        raw[name] = {"stls_run": run, "local": local, "returns": returns}
        ctx.homes[name] = {"home": homes["airflow"], "full_s": run["wall_s"], "spec": spec}
        local_total = sum(local["timings"].values())
        wall = run["wall_s"]
        inside = run["airflow"].get("in_tasks_s") or 0.0
        airflow_share = max(0.0, wall - inside) / wall  # outside every task: CLI, parsing, scheduling
        dbt_share = startup["dbt"]["parse_s"] / wall  # each dbt build starts dbt and parses the project
        gx_share = (
            startup["gx"]["import_s"] + 2 * startup["gx"]["context_s"]
        ) / wall  # two gates, one import
        stages = ", ".join(f"{k} {v:.1f}" for k, v in local["timings"].items())
        tasks = ", ".join(f"{k} {v:.1f}" for k, v in (run["airflow"].get("tasks") or {}).items())
        is_period = name == "period"
        ctx.add(
            Row(
                key=f"e2e.stls_run.{name}",
                stage="e2e",
                case="`stls run` (Airflow dags test)",
                scale=f"{spec['label']}",
                seconds=wall,
                rate=(local["counts"].get("raw.ledger_lines") or 0) / wall,
                floor=("same stages w/o Airflow", local["process_s"]),
                ratio=wall / local["process_s"],
                budget="< 60 s" if is_period else "",
                ok=(wall < 60) if is_period else None,
                peak_mb=run["peak_mb"],
                note=f"{returns} returns; share of the wall outside Airflow tasks {airflow_share:.0%}, in dbt "
                f"start-up {dbt_share:.0%}, in GX start-up {gx_share:.0%}; Airflow tasks (s): {tasks}; "
                f"without Airflow (s): {stages} (sum {local_total:.1f}, process {local['process_s']:.1f})",
            )
        )
    ctx.raw["e2e"] = raw


def stage_incremental(ctx: Context) -> None:
    name = ctx.args.incremental or ("period" if ctx.args.quick else "four_years")
    spec = E2E_DATASETS[name]
    known = ctx.homes.get(name)
    if known is None:  # e2e did not run this dataset: build it from empty first
        home = ctx.work / "incremental" / name
        ctx.case(
            "write_landing",
            {
                "landing": str(home / "landing"),
                "years": spec["years"],
                "periods": spec["periods"],
                "generator": True,
            },
        )
        full = ctx.case("stls_run", {"home": str(home)})
        known = {"home": home, "full_s": full["wall_s"], "spec": spec}
    home = Path(known["home"])
    year = (spec["years"] or ["2024-25"])[-1]
    ctx.case("resubmit", {"landing": str(home / "landing"), "year": year, "change": "100.00"})
    incremental = ctx.case("stls_run", {"home": str(home)})
    stages = ["intake", "gate", "load", "build", "gate_warehouse", "publish"]
    ctx.case("resubmit", {"landing": str(home / "landing"), "year": year, "change": "250.00"})
    inner = ctx.case("stage", {"home": str(home), "stages": stages, "run_id": "bench_inc"})
    ctx.case("resubmit", {"landing": str(home / "landing"), "year": year, "change": "400.00"})
    whole = ctx.case(
        "stage",
        {
            "home": str(home),
            "stages": [s if s != "build" else "build_full" for s in stages],
            "run_id": "bench_t",
        },
    )
    rebuild = ctx.case("stage", {"home": str(home), "stages": ["full_refresh"]})
    local_full = ctx.raw.get("e2e", {}).get(name, {}).get("local")
    ctx.raw["incremental"] = {
        "dataset": name,
        "incremental": incremental,
        "inner": inner,
        "whole_project_build": whole,
        "rebuild": rebuild,
        "full_s": known["full_s"],
        "local_full": local_full,
    }
    ratio = incremental["wall_s"] / known["full_s"]
    ctx.add(
        Row(
            key=f"incremental.stls_run.{name}",
            stage="incremental",
            case="republish after one resubmitted return",
            scale=spec["label"],
            seconds=incremental["wall_s"],
            floor=("full rebuild (stls run)", known["full_s"]),
            ratio=ratio,
            budget="< 0.25x full",
            ok=ratio < 0.25,
            peak_mb=incremental["peak_mb"],
            note="both `stls run` through Airflow; the full rebuild is the same data from an empty STLS_HOME; "
            "Airflow tasks (s): "
            + ", ".join(f"{k} {v:.1f}" for k, v in (incremental["airflow"].get("tasks") or {}).items()),
        )
    )

    def timings(result: dict[str, Any]) -> str:
        return ", ".join(f"{k} {v:.1f}" for k, v in result["timings"].items())

    full_stages = sum(local_full["timings"].values()) if local_full else None
    for key, label, result in (
        ("stages", "the same without Airflow (the pipeline's planned dbt build)", inner),
        ("whole_project", "the same with a dbt build of the whole project", whole),
    ):
        seconds = sum(result["timings"].values())
        ctx.add(
            Row(
                key=f"incremental.{key}.{name}",
                stage="incremental",
                case=label,
                scale=spec["label"],
                seconds=seconds,
                floor=("full rebuild w/o Airflow", full_stages) if full_stages else None,
                ratio=seconds / full_stages if full_stages else None,
                budget="< 0.25x full" if full_stages else "",
                ok=(seconds / full_stages < 0.25) if full_stages else None,
                peak_mb=result["peak_mb"],
                note=f"{timings(result)}; {_build_decision(result)}dbt build --full-refresh of the same "
                f"warehouse {rebuild['timings']['full_refresh']:.1f} s",
            )
        )


def _build_decision(result: dict[str, Any]) -> str:
    build = (result.get("details") or {}).get("build") or {}
    return f"dbt build {build['dbt_build']} ({build.get('dbt_build_reason', '')}); " if build else ""


# --- memory: many lines through intake, build and publish ----------------------------------------


def stage_memory(ctx: Context) -> None:
    from stls_warehouse.synthetic import generate_returns

    target = ctx.args.big_lines or (100_000 if ctx.args.quick else 10_000_000)
    years = ctx.args.years
    base = sum(len(r.lines) for r in generate_returns(years=years, slas=ctx.args.slas).ledgers)
    multiplier = max(1, round(target / base))
    home = ctx.work / "memory"
    written = ctx.case(
        "write_landing",
        {
            "landing": str(home / "landing"),
            "years": years,
            "slas": ctx.args.slas,
            "multiplier": multiplier,
            "workers": 2,
        },
    )
    lines = written["ledger_lines"]
    label = f"{lines / 1e6:.1f}M lines" if lines >= 1e6 else _lines(lines)
    raw: dict[str, Any] = {"written": written, "multiplier": multiplier, "stages": {}}
    peaks: dict[str, float] = {}
    for stage in ("intake", "gate", "load", "build", "gate_warehouse", "publish"):
        try:
            result = ctx.case(
                "stage",
                {
                    "home": str(home),
                    "stages": [stage],
                    "run_id": "bench_big",
                    "profile": ctx.profile(f"memory_{stage}"),
                },
                guard_mb=ctx.args.guard_mb,
            )
        except h.CaseFailed as failed:
            reason = failure_reason(failed)
            raw["stages"][stage] = {"failed": str(failed)}
            ctx.add(
                Row(
                    key=f"memory.big.{stage}",
                    stage="memory",
                    case=f"{stage}: FAILED",
                    scale=label,
                    budget=f"< {MEMORY_BUDGET_MB:,} MB",
                    ok=False,
                    note=reason,
                )
            )
            peaks[stage] = float("inf")
            if stage in ("intake", "load", "build"):
                break  # nothing downstream can run
            continue
        raw["stages"][stage] = result
        seconds = result["timings"][stage]
        peaks[stage] = result["peak_mb"]
        ctx.add(
            Row(
                key=f"memory.big.{stage}",
                stage="memory",
                case=f"{stage}: peak RSS",
                scale=label,
                seconds=seconds,
                rate=lines / seconds,
                budget=f"< {MEMORY_BUDGET_MB:,} MB",
                ok=result["peak_mb"] < MEMORY_BUDGET_MB,
                peak_mb=result["peak_mb"],
                note=f"own {result['self_peak_mb']:,.0f} MB, largest child {result['children_peak_mb']:,.0f} MB",
            )
        )
    worst = max(peaks, key=lambda k: peaks[k])
    core = [s for s in ("intake", "load", "build", "publish") if s in peaks]
    core_peak = max(peaks[s] for s in core) if core else float("inf")
    ctx.add(
        Row(
            key="memory.big.intake_build_publish",
            stage="memory",
            case="intake, load, build, publish: highest peak",
            scale=label,
            budget=f"< {MEMORY_BUDGET_MB:,} MB",
            ok=core_peak < MEMORY_BUDGET_MB,
            peak_mb=core_peak if core_peak != float("inf") else None,
            note=f"highest of every stage including the GX gates: {worst} "
            f"({'failed' if peaks[worst] == float('inf') else f'{peaks[worst]:,.0f} MB'})",
        )
    )
    raw["peaks"] = {k: (None if v == float("inf") else v) for k, v in peaks.items()}
    ctx.raw["memory"] = raw
    if not ctx.args.keep:
        shutil.rmtree(home, ignore_errors=True)


def failure_reason(failed: h.CaseFailed) -> str:
    """The case's first line (how it ended, the memory seen) and the exception that ended it."""
    lines = str(failed).splitlines()
    exception = next(
        (
            line.strip()
            for line in reversed(lines)
            if re.match(r"^\w[\w.]*(Error|Exception|Failed)\b", line.strip())
        ),
        "",
    )
    return lines[0].split("; log ")[0] + (f": {exception}" if exception else "")


RUNNERS = {
    "intake": stage_intake,
    "validation": stage_validation,
    "transformation": stage_transformation,
    "e2e": stage_e2e,
    "incremental": stage_incremental,
    "memory": stage_memory,
}


# --- the table ----------------------------------------------------------------------------------------


COLUMNS = (
    ("stage", 12, "<"),
    ("case", 46, "<"),
    ("scale", 26, "<"),
    ("seconds", 9, ">"),
    ("lines/s", 11, ">"),
    ("floor (s)", 30, ">"),
    ("peer (s)", 24, ">"),
    ("x floor", 8, ">"),
    ("budget", 16, ">"),
    ("met", 4, ">"),
    ("peak MB", 9, ">"),
)


def _cells(row: dict[str, Any], before: dict[str, Any] | None) -> list[str]:
    def pair(value: Any) -> str:
        return f"{value[0]} {_num(value[1])}" if value else ""

    cells = [
        row["stage"],
        row["case"],
        row["scale"],
        _num(row["seconds"]),
        f"{row['rate']:,.0f}" if row.get("rate") else "",
        pair(row.get("floor")),
        pair(row.get("peer")),
        f"{row['ratio']:.2f}x" if row.get("ratio") is not None else "",
        row.get("budget") or "",
        {True: "yes", False: "NO", None: ""}[row.get("ok")],
        f"{row['peak_mb']:,.0f}" if row.get("peak_mb") else "",
    ]
    if before is not None:
        old = before.get("seconds")
        new = row.get("seconds")
        cells.append(_num(old) if old is not None else "")
        cells.append(f"{(new - old) / old:+.0%}" if old and new is not None else "")
    return cells


def render_table(rows: list[dict[str, Any]], compare: dict[str, dict[str, Any]] | None = None) -> str:
    columns = list(COLUMNS)
    if compare is not None:
        columns += [("before (s)", 11, ">"), ("change", 7, ">")]
    lines = ["  ".join(f"{name:{align}{width}}" for name, width, align in columns)]
    lines.append("  ".join("-" * width for _, width, _ in columns))
    for row in rows:
        before = compare.get(row["key"], {}) if compare is not None else None
        cells = _cells(row, before)
        lines.append(
            "  ".join(
                f"{cell:{align}{width}}" for cell, (_, width, align) in zip(cells, columns, strict=True)
            )
        )
        if row.get("note"):
            lines.append(f"{'':14}  ^ {row['note']}")
    return "\n".join(lines)


def _machine() -> dict[str, Any]:
    memory = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "memory_gb": memory,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": os.getloadavg(),
    }


def _code_version() -> str:
    done = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "unknown"


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _by_key(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["key"]: row for row in report["rows"]}


def _print_report(report: dict[str, Any], compare: dict[str, Any] | None) -> None:
    print()
    print(
        f"STLS benchmarks, {report['mode']} mode, {report['run_at']}, {report['machine']['cpus']} CPUs, "
        f"code {report['code_version']}" + (f"; compared with {compare['run_at']}" if compare else "")
    )
    print(render_table(report["rows"], _by_key(compare) if compare else None))
    budget = [r for r in report["rows"] if r.get("ok") is not None]
    met = sum(1 for r in budget if r["ok"])
    print(f"\nbudget: {met} of {len(budget)} met")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small scales: a few minutes")
    parser.add_argument("--only", nargs="+", choices=STAGES, help="run only these stages")
    parser.add_argument("--compare", type=Path, help="an earlier result JSON to print beside this run")
    parser.add_argument("--show", type=Path, help="print a saved result JSON instead of running")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument("--intake-lines", type=int, nargs="+", help="lines per return for intake")
    parser.add_argument("--validation-lines", type=int, help="lines in the large GX frame")
    parser.add_argument("--dbt-scales", type=int, nargs="+", help="lines multipliers for dbt build")
    parser.add_argument("--years", nargs="+", help="financial years for transformation and memory")
    parser.add_argument("--slas", nargs="+", help="SLA codes for transformation and memory")
    parser.add_argument("--e2e", nargs="+", choices=list(E2E_DATASETS), help="end-to-end datasets")
    parser.add_argument("--incremental", choices=list(E2E_DATASETS), help="dataset for the incremental run")
    parser.add_argument("--big-lines", type=int, help="ledger lines of the memory run (10,000,000 in full)")
    parser.add_argument("--repeat", type=int, help="repeats of each intake case (best is kept)")
    parser.add_argument(
        "--guard-mb", type=float, default=12_000, help="kill a case whose processes pass this"
    )
    parser.add_argument("--profile", action="store_true", help="write cProfile tops under results/profiles/")
    parser.add_argument("--keep", action="store_true", help="keep the generated data (printed path)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    compare = _load(args.compare) if args.compare else None
    if args.show:
        _print_report(_load(args.show), compare)
        return 0
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stages = [s for s in STAGES if not args.only or s in args.only]
    started = time.perf_counter()
    run_at = datetime.now(UTC)
    work = Path(tempfile.mkdtemp(prefix="stls_bench_"))
    stamp = run_at.strftime("%Y%m%dT%H%M%SZ")
    ctx = Context(args=args, work=work, log=args.results_dir / f"bench_{stamp}.log")
    print(
        f"benchmarks: {', '.join(stages)} ({'quick' if args.quick else 'full'}); data in {work}; log {ctx.log}"
    )
    errors: dict[str, str] = {}
    try:
        for stage in stages:
            print(f"[{stage}]", flush=True)
            try:
                RUNNERS[stage](ctx)
            except h.CaseFailed as failed:
                errors[stage] = str(failed)
                print(f"  {stage} failed: {failed}", file=sys.stderr)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    report = {
        "benchmark": "stls",
        "run_at": run_at.isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "stages": stages,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": _machine(),
        "code_version": _code_version(),
        "arguments": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "rows": [asdict(row) for row in ctx.rows],
        "errors": errors,
        "raw": ctx.raw,
    }
    target = args.results_dir / f"bench_{stamp}.json"
    text = json.dumps(report, indent=1, default=str) + "\n"
    target.write_text(text, encoding="utf-8")
    (args.results_dir / "latest.json").write_text(text, encoding="utf-8")
    _print_report(report, compare)
    print(f"\nwritten {target} (and latest.json) in {report['seconds']:.0f} s")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
