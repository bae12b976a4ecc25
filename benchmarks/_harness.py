"""The benchmark harness's machinery: data writers, and cases that each run in a fresh process.

`run.py` decides what to measure; this module measures it. Every case runs in a child
interpreter started for it alone (`python benchmarks/_harness.py CASE PARAMS`), so:

- its peak memory is its own: VmHWM of the child, or the largest of the processes it
  started and waited for (the intake sandbox, dbt, `airflow dags test`), whichever is
  larger (RUSAGE_CHILDREN's ru_maxrss);
- its whole-process wall time (interpreter start, imports, work, exit) is measured by the
  parent, and the time of the operation itself by the child, so start-up cost shows;
- a watchdog in the parent kills a case whose process tree passes a memory guard, so one
  runaway case cannot take the machine (and the other people on it) down.

A case prints one line `@@RESULT <json>` as the last line of its standard output.
"""

from __future__ import annotations

import cProfile
import dataclasses
import io
import json
import os
import pstats
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULT_MARK = "@@RESULT "
QUIET_ENV = {
    "GX_ANALYTICS_ENABLED": "False",
    "TQDM_DISABLE": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DO_NOT_TRACK": "1",
    "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
    "PYTHONHASHSEED": "0",
}
# The return whose lines the intake cases grow: a district SLA's October ledger.
INTAKE_SLA, INTAKE_YEAR, INTAKE_PERIOD = "SWA", "2021-22", 7
RESUBMITTED = ("SWA", 7)  # SLA and period of the resubmitted return (latest year of the data)


# --- memory ------------------------------------------------------------------------------


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> dict[str, float]:
    """This process's peak RSS and the largest peak of the children it has waited for."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    own = _status_mb("VmHWM")
    return {
        "self_peak_mb": round(own, 1),
        "children_peak_mb": round(children, 1),
        "peak_mb": round(max(own, children), 1),
    }


def _tree_rss_mb(pid: int) -> float:
    import psutil

    try:
        parent = psutil.Process(pid)
        procs = [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / (1024 * 1024)


# --- running a case in a fresh process -----------------------------------------------------


class CaseFailed(RuntimeError):
    pass


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(QUIET_ENV)
    env.pop("AIRFLOW_HOME", None)
    env.pop("STLS_WAREHOUSE_PATH", None)
    if extra:
        env.update(extra)
    return env


def run_case(
    case: str,
    params: dict[str, Any],
    *,
    log: Path,
    env: dict[str, str] | None = None,
    guard_mb: float = 12_000,
    timeout_s: float = 7200,
) -> dict[str, Any]:
    """Run `case` in a fresh interpreter; its result, with `process_s` and the tree's RSS seen.

    Raises CaseFailed when it exits non-zero, passes the memory guard or the timeout.
    """
    command = [sys.executable, str(Path(__file__).resolve()), case, json.dumps(params)]
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(log, "ab") as err:
        err.write(f"\n=== {case} {json.dumps(params)}\n".encode())
        err.flush()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, env=child_env(env), cwd=ROOT)
        watch = {"max_tree_mb": 0.0, "killed": None}

        def watchdog() -> None:
            while process.poll() is None:
                rss = _tree_rss_mb(process.pid)
                watch["max_tree_mb"] = max(watch["max_tree_mb"], rss)
                if rss > guard_mb:
                    watch["killed"] = f"memory guard: process tree passed {guard_mb:,.0f} MB"
                    _kill_tree(process.pid)
                    return
                if time.perf_counter() - started > timeout_s:
                    watch["killed"] = f"timeout after {timeout_s:.0f} s"
                    _kill_tree(process.pid)
                    return
                time.sleep(0.25)

        thread = threading.Thread(target=watchdog, daemon=True)
        thread.start()
        stdout, _ = process.communicate()
        thread.join()
    elapsed = time.perf_counter() - started
    text = stdout.decode(errors="replace")
    result_lines = [line for line in text.splitlines() if line.startswith(RESULT_MARK)]
    if watch["killed"] or process.returncode != 0 or not result_lines:
        tail = log.read_text(errors="replace").splitlines()[-25:]
        reason = watch["killed"] or f"exit {process.returncode}"
        raise CaseFailed(
            f"{case} failed ({reason}); max tree RSS seen {watch['max_tree_mb']:,.0f} MB; "
            f"log {log}:\n" + "\n".join(tail)
        )
    result: dict[str, Any] = json.loads(result_lines[-1][len(RESULT_MARK) :])
    result["process_s"] = round(elapsed, 3)
    result["max_tree_rss_seen_mb"] = round(float(watch["max_tree_mb"]), 1)
    return result


def _kill_tree(pid: int) -> None:
    import psutil

    try:
        parent = psutil.Process(pid)
        procs = [*parent.children(recursive=True), parent]
    except psutil.NoSuchProcess:
        return
    for proc in procs:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            continue


# --- timing inside a case -----------------------------------------------------------------


def best_of(action: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """(best seconds, first seconds, last outcome) over `repeat` runs."""
    times: list[float] = []
    outcome = None
    for _ in range(max(1, repeat)):
        started = time.perf_counter()
        outcome = action()
        times.append(time.perf_counter() - started)
    return min(times), times[0], outcome


def profiled(action: Callable[[], Any], target: Path | None, top: int = 30) -> Any:
    """Run `action`, writing its cProfile (top functions by own time) to `target` if given."""
    if target is None:
        return action()
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        return action()
    finally:
        profiler.disable()
        target.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.StringIO()
        stats = pstats.Stats(profiler, stream=buffer)
        stats.sort_stats("tottime").print_stats(top)
        buffer.write("\n\n--- by cumulative time ---\n")
        stats.sort_stats("cumulative").print_stats(top)
        target.write_text(buffer.getvalue(), encoding="utf-8")


# --- writing returns ------------------------------------------------------------------------


def exact_ledger(
    lines: int, sla: str = INTAKE_SLA, year: str = INTAKE_YEAR, period: int = INTAKE_PERIOD
) -> Any:
    """One synthetic ledger return with exactly `lines` lines (the generator's lines for a
    large enough multiplier, cut to length; every line stays valid)."""
    from stls_warehouse.synthetic import generate_returns

    def one(multiplier: int) -> Any:
        return generate_returns(
            years=[year], slas=[sla], periods=[period], lines_multiplier=multiplier
        ).ledgers[0]

    base = one(1)
    multiplier = max(1, -(-lines // len(base.lines)))
    ledger = one(multiplier)
    return dataclasses.replace(ledger, lines=ledger.lines[:lines])


def render_fast_xlsx(rows: Sequence[dict[str, Any]], control: bool) -> bytes:
    """A ledger workbook written with xlsxwriter's streaming mode: the same cells as the
    project's writer (openpyxl), about five times faster, for the large scales."""
    import xlsxwriter

    from stls_warehouse.intake.schema import CONTROL_SHEET, LEDGER

    buffer = io.BytesIO()
    options = {
        "constant_memory": True,
        "strings_to_numbers": False,
        "strings_to_formulas": False,
        "strings_to_urls": False,
        "in_memory": True,
    }
    book = xlsxwriter.Workbook(buffer, options)
    sheet = book.add_worksheet(LEDGER.sheet)
    date_format = book.add_format({"num_format": "yyyy-mm-dd"})
    columns = LEDGER.columns
    sheet.write_row(0, 0, columns)
    total = Decimal("0.00")
    for number, row in enumerate(rows, start=1):
        for index, name in enumerate(columns):
            value = row.get(name)
            if value is None:
                continue
            if isinstance(value, bool):
                sheet.write_boolean(number, index, value)
            elif isinstance(value, date):
                sheet.write_datetime(number, index, value, date_format)
            elif isinstance(value, int):
                sheet.write_number(number, index, value)
            elif isinstance(value, float | Decimal):
                sheet.write_number(number, index, float(value))
            else:
                sheet.write_string(number, index, str(value))
        amount = row["amount"]
        total += Decimal(repr(amount)) if isinstance(amount, float) else Decimal(amount)
    if control:
        sheet = book.add_worksheet(CONTROL_SHEET)
        sheet.write_string(0, 0, "control_total")
        sheet.write_number(0, 1, float(total.quantize(Decimal("0.01"))))
        sheet.write_string(1, 0, "line_count")
        sheet.write_number(1, 1, len(rows))
    book.close()
    return buffer.getvalue()


def ledger_bytes(ledger: Any, extension: str, *, fast_xlsx: bool, profile: Any = None) -> bytes:
    """The return as its SLA writes it (house style), in the chosen format."""
    from stls_warehouse.intake.writers import render_ledger
    from stls_warehouse.synthetic.profiles import sla_profiles
    from stls_warehouse.synthetic.render import ledger_rows

    profile = dataclasses.replace(profile or sla_profiles()[ledger.sla_code], ledger_format=extension)
    rows = ledger_rows(ledger, profile)
    if extension == "xlsx" and fast_xlsx:
        return render_fast_xlsx(rows, control=profile.control_sheet)
    return render_ledger(
        extension,
        rows,
        control=profile.control_sheet and extension == "xlsx",
        bom=profile.csv_bom and extension == "csv",
    )


def _write_chunk(args: tuple[str, str, str, list[int] | None, int, bool]) -> tuple[int, int, int]:
    """Write one (year, SLA)'s returns; (ledger files, ledger lines, KPI files)."""
    landing, year, sla, periods, multiplier, fast_xlsx = args
    from stls_warehouse.intake.writers import render_kpi, write_if_changed
    from stls_warehouse.synthetic import generate_returns
    from stls_warehouse.synthetic.profiles import sla_profiles
    from stls_warehouse.synthetic.render import kpi_rows

    profile = sla_profiles()[sla]
    returns = generate_returns(years=[year], slas=[sla], periods=periods, lines_multiplier=multiplier)
    lines = 0
    for ledger in returns.ledgers:
        data = ledger_bytes(ledger, profile.ledger_format, fast_xlsx=fast_xlsx, profile=profile)
        write_if_changed(Path(landing) / ledger.file_name(profile.ledger_format), data)
        lines += len(ledger.lines)
    for kpi in returns.kpis:
        data = render_kpi(profile.kpi_format, kpi_rows(kpi, profile))
        write_if_changed(Path(landing) / kpi.file_name(profile.kpi_format), data)
    return len(returns.ledgers), lines, len(returns.kpis)


def write_landing(
    landing: Path,
    *,
    years: Sequence[str] | None,
    slas: Sequence[str] | None,
    periods: Sequence[int] | None,
    multiplier: int,
    fast_xlsx: bool,
    workers: int = 1,
) -> dict[str, int]:
    """The synthetic returns, each SLA in its house style, written chunk by chunk (one year
    and SLA at a time) so that memory stays flat whatever the multiplier."""
    from stls_warehouse import reference
    from stls_warehouse.synthetic.ledger import YEARS

    landing.mkdir(parents=True, exist_ok=True)
    chunks = [
        (str(landing), year, sla, list(periods) if periods else None, multiplier, fast_xlsx)
        for year in (years or YEARS)
        for sla in (slas or sorted(reference.slas()))
    ]
    if workers > 1:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            counts = pool.map(_write_chunk, chunks, chunksize=1)
    else:
        counts = [_write_chunk(chunk) for chunk in chunks]
    return {
        "ledger_returns": sum(c[0] for c in counts),
        "ledger_lines": sum(c[1] for c in counts),
        "kpi_returns": sum(c[2] for c in counts),
    }


def resubmit(landing: Path, year: str, multiplier: int, change: Decimal) -> str:
    """A corrected return for an SLA's period: one amount changed, sent as CSV, received later."""
    from stls_warehouse.synthetic import generate_returns

    sla, period = RESUBMITTED
    ledger = generate_returns(
        years=[year], slas=[sla], periods=[period], lines_multiplier=multiplier
    ).ledgers[0]
    lines = list(ledger.lines)
    lines[0] = dataclasses.replace(lines[0], amount=lines[0].amount + change)
    ledger = dataclasses.replace(ledger, lines=tuple(lines))
    path = landing / ledger.file_name("csv")
    path.write_bytes(ledger_bytes(ledger, "csv", fast_xlsx=False))
    later = time.time() + 60
    os.utime(path, (later, later))
    return path.name


# --- cases (run in the child) -----------------------------------------------------------------


def case_write_intake_files(p: dict[str, Any]) -> dict[str, Any]:
    folder = Path(p["folder"])
    folder.mkdir(parents=True, exist_ok=True)
    ledger = exact_ledger(p["lines"])
    out: dict[str, Any] = {"lines": len(ledger.lines)}
    for extension in ("csv", "xlsx"):
        started = time.perf_counter()
        data = ledger_bytes(ledger, extension, fast_xlsx=p.get("fast_xlsx", False))
        path = folder / ledger.file_name(extension)
        path.write_bytes(data)
        out[extension] = {
            "path": str(path),
            "bytes": len(data),
            "write_s": round(time.perf_counter() - started, 3),
        }
    return out


def case_intake(p: dict[str, Any]) -> dict[str, Any]:
    """One reader over one file: the project's intake, its floor, or its peer."""
    path = Path(p["path"])
    tool, repeat = p["tool"], p.get("repeat", 3)
    started = time.perf_counter()
    if tool in ("validate_return", "check_return"):
        from stls_warehouse.intake.validate import check_return, validate_return

        check = validate_return if tool == "validate_return" else check_return
        data = path.read_bytes()

        def action() -> Any:
            result = check(path.name, data)
            if not result.accepted:
                raise RuntimeError(f"{path.name} rejected: {[e.code for e in result.errors][:5]}")
            return len(result.ledger_lines)

    elif tool == "duckdb_read_csv":
        import duckdb

        def action() -> Any:
            con = duckdb.connect()
            try:
                rows = con.execute(f"select * from read_csv('{path}', all_varchar = true)").fetchall()
            finally:
                con.close()
            return len(rows)

    elif tool == "pandas_read_csv":
        import pandas as pd

        def action() -> Any:
            return len(pd.read_csv(path, dtype=str, keep_default_na=False))

    elif tool == "calamine":
        import python_calamine

        def action() -> Any:
            return (
                len(
                    python_calamine.CalamineWorkbook.from_path(str(path))
                    .get_sheet_by_name("Ledger")
                    .to_python()
                )
                - 1
            )

    elif tool == "pandas_read_excel":
        import pandas as pd

        def action() -> Any:
            return len(pd.read_excel(path, sheet_name="Ledger", engine="openpyxl"))

    else:
        raise ValueError(tool)
    imported = time.perf_counter() - started
    best, first, rows = best_of(action, repeat)
    if p.get("profile"):
        profiled(action, Path(p["profile"]))
    return {"tool": tool, "best_s": best, "first_s": first, "import_s": imported, "rows": rows, **peak_mb()}


def _validation_frame(lines_target: int, one_return: bool) -> tuple[Any, int, int]:
    """The return gate's ledger-lines frame (quality.return_gates.ledger_lines_frame) for
    synthetic returns of 2021-22: (frame, lines, returns)."""
    import hashlib

    from stls_warehouse.quality.return_gates import ledger_lines_frame
    from stls_warehouse.synthetic import generate_returns

    if one_return:
        returns = generate_returns(years=[INTAKE_YEAR], slas=[INTAKE_SLA], periods=[INTAKE_PERIOD]).ledgers
    else:
        base = sum(len(r.lines) for r in generate_returns(years=[INTAKE_YEAR]).ledgers)
        multiplier = max(1, round(lines_target / base))
        returns = generate_returns(years=[INTAKE_YEAR], lines_multiplier=multiplier).ledgers
    records, lines = [], {}
    for ledger in returns:
        sha = hashlib.sha256(f"{ledger.sla_code}{ledger.period_key}".encode()).hexdigest()
        records.append(
            {
                "sha256": sha,
                "return_type": "ledger",
                "sla_code": ledger.sla_code,
                "financial_year": ledger.financial_year,
                "period": ledger.period,
                "is_nil_return": False,
            }
        )
        lines[sha] = [
            {
                "source_row": number,
                "sla_code": line.sla_code,
                "financial_year": line.financial_year,
                "period": line.period,
                "line_ref": line.line_ref,
                "posting_date": line.posting_date,
                "account_code": line.account_code,
                "fund_strand": line.fund_strand,
                "amount": line.amount,
                "is_overhead_recharge": line.is_overhead_recharge,
            }
            for number, line in enumerate(ledger.lines, start=2)
        ]
    frame = ledger_lines_frame(records, lines)
    return frame, len(frame), len(records)


# The ledger_return suite's checks as one DuckDB query: (rule, failing condition). The
# failing rows' (file_sha256, source_row) are listed, as GX's COMPLETE result lists them.
SQL_CHECKS: tuple[tuple[str, str], ...] = (
    ("amount_present", "amount is null"),
    ("amount_in_contract_range", "amount is not null and (amount < -10000000 or amount > 10000000)"),
    ("account_code_known", "account_code is not null and account_code not in (select code from accounts)"),
    ("fund_strand_known", "fund_strand is not null and fund_strand not in (select code from strands)"),
    ("overhead_flag_present", "is_overhead_recharge is null"),
    ("line_ref_unique", "ref_count > 1"),
    ("sla_code_matches_file_name", "sla_code is distinct from file_sla_code"),
    ("financial_year_matches_file_name", "financial_year is distinct from file_financial_year"),
    ("period_matches_file_name", "period is distinct from file_period"),
    ("posting_date_not_before_period", "posting_date < period_start"),
    ("posting_date_not_after_period", "period_end < posting_date"),
    ("outreach_without_budget", "outreach_budget = 0 and fund_strand = 'OUTREACH'"),
    ("amount_plausible", "amount is not null and (amount < -250000 or amount > 250000)"),
)


def sql_floor_query() -> str:
    parts = []
    for rule, condition in SQL_CHECKS:
        parts.append(f"count(*) filter (where {condition}) as {rule}")
        parts.append(f"list(struct_pack(file_sha256, source_row)) filter (where {condition}) as {rule}__rows")
    return (
        "with lines as (select *, count(*) over (partition by file_sha256, line_ref) as ref_count "
        "from frame) select count(*) as element_count, " + ", ".join(parts) + " from lines"
    )


def case_validation(p: dict[str, Any]) -> dict[str, Any]:
    """The ledger_return suite by Great Expectations, or its checks as one DuckDB query."""
    started = time.perf_counter()
    small, small_lines, _ = _validation_frame(0, one_return=True)
    frame, lines, returns = _validation_frame(p["lines"], one_return=False)
    built = time.perf_counter() - started
    out: dict[str, Any] = {
        "tool": p["tool"],
        "lines": lines,
        "returns": returns,
        "one_return_lines": small_lines,
    }
    out["frame_build_s"] = round(built, 3)
    profile = Path(p["profile"]) if p.get("profile") else None
    if p["tool"] == "gx":
        import_started = time.perf_counter()
        import great_expectations  # noqa: F401

        from expectations import ledger_return
        from stls_warehouse.quality.gx_runner import GxSession, run_suite

        out["gx_import_s"] = round(time.perf_counter() - import_started, 3)
        # run_suite as the brief names it: a session (ephemeral context) of its own per call.
        one, _, checks = best_of(lambda: run_suite(ledger_return, small, ledger_return.INDEX_COLUMNS), 3)
        out["one_return_s"] = one  # includes the ephemeral context's creation
        session_started = time.perf_counter()
        session = GxSession()
        out["gx_session_s"] = round(time.perf_counter() - session_started, 3)
        session.run_suite(ledger_return, small, ledger_return.INDEX_COLUMNS)  # warm
        out["one_return_in_session_s"], _, _ = best_of(
            lambda: session.run_suite(ledger_return, small, ledger_return.INDEX_COLUMNS), 3
        )
        started = time.perf_counter()
        checks = profiled(
            lambda: session.run_suite(ledger_return, frame, ledger_return.INDEX_COLUMNS), profile
        )
        out["big_s"] = time.perf_counter() - started
        out["failing"] = {c.rule: c.unexpected_count for c in checks}
    else:
        import duckdb
        import pyarrow as pa

        from stls_warehouse import reference

        def query(data: Any) -> Any:
            con = duckdb.connect()
            try:
                con.register("frame", data)
                con.execute(
                    "create temp table accounts as select unnest(?) as code",
                    [[c.account_code for c in reference.account_codes().values()]],
                )
                con.execute(
                    "create temp table strands as select unnest(?) as code", [list(reference.fund_strands())]
                )
                return con.execute(sql_floor_query()).fetchone()
            finally:
                con.close()

        started = time.perf_counter()
        small_arrow = pa.Table.from_pandas(small, preserve_index=False)
        arrow = pa.Table.from_pandas(frame, preserve_index=False)
        out["to_arrow_s"] = round(time.perf_counter() - started, 3)
        out["one_return_s"], _, _ = best_of(lambda: query(small_arrow), 3)
        best, _, row = best_of(lambda: profiled(lambda: query(arrow), profile), 1 if profile else 3)
        out["big_s"] = best
        out["failing"] = {rule: row[1 + 2 * i] for i, (rule, _) in enumerate(SQL_CHECKS)}
        out["element_count"] = row[0]
        # The floor also over the frame GX gets (pandas, Python objects): what one query costs
        # when DuckDB has to read Python Decimal and date objects.
        out["big_on_pandas_s"], _, _ = best_of(lambda: query(frame), 1)
    return out | peak_mb()


def _home_paths(home: str) -> Any:
    os.environ["STLS_HOME"] = home
    from stls_warehouse.config import Paths

    return Paths(Path(home)).ensure()


def case_write_landing(p: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    if p.get("generator"):  # the project's own generator (openpyxl workbooks)
        from stls_warehouse.synthetic import generate

        files = generate(
            Path(p["landing"]),
            years=p.get("years"),
            slas=p.get("slas"),
            periods=p.get("periods"),
            lines_multiplier=p.get("multiplier", 1),
        )
        counts: dict[str, int] = {"files": len(files)}
    else:
        counts = write_landing(
            Path(p["landing"]),
            years=p.get("years"),
            slas=p.get("slas"),
            periods=p.get("periods"),
            multiplier=p.get("multiplier", 1),
            fast_xlsx=True,
            workers=p.get("workers", 1),
        )
    return counts | {"write_s": round(time.perf_counter() - started, 3)} | peak_mb()


def case_stage(p: dict[str, Any]) -> dict[str, Any]:
    """Some of the pipeline's stages, in this process, as `stls run --without-airflow` runs them."""
    home = _home_paths(p["home"])
    from stls_warehouse import pipeline

    run_id = p.get("run_id", "bench")
    timings: dict[str, float] = {}
    details: dict[str, Any] = {}
    profile = Path(p["profile"]) if p.get("profile") else None

    def timed(name: str, action: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        value = profiled(action, profile.with_name(f"{profile.stem}_{name}.txt") if profile else None)
        timings[name] = round(time.perf_counter() - started, 3)
        return value

    for stage in p["stages"]:
        if stage == "intake":

            def intake() -> list[dict[str, Any]]:
                return [
                    pipeline.intake_batch(b["sla_code"], b["files"], run_id)
                    for b in pipeline.route_landing()
                    if b["files"]
                ]

            outcomes = timed("intake", intake)
            totals: dict[str, int] = {}
            for batch in outcomes:
                for status, count in batch["outcomes"].items():
                    totals[status] = totals.get(status, 0) + count
            details["intake"] = totals
        elif stage == "gate":
            details["gate"] = timed("gate", lambda: pipeline.gate_returns(run_id))
        elif stage == "load":
            details["load"] = {
                k: v
                for k, v in timed("load", lambda: pipeline.load_returns(run_id)).items()
                if isinstance(v, int)
            }
        elif stage == "build":
            details["build"] = {
                k: v for k, v in timed("build", pipeline.build_warehouse).items() if k.startswith("dbt_build")
            }
        elif stage == "build_full":
            # The whole project, as the pipeline built it on every run before builds were planned.
            timed("build_full", lambda: pipeline.build_warehouse(full=True))
        elif stage == "full_refresh":
            from stls_warehouse import transform

            timed("full_refresh", lambda: transform.run_dbt(home, "build", "--fail-fast", "--full-refresh"))
        elif stage == "gate_warehouse":
            timed("gate_warehouse", lambda: pipeline.gate_warehouse(run_id))
        elif stage == "publish":
            details["publish"] = timed("publish", pipeline.publish_release)["release_id"]
        else:
            raise ValueError(stage)
    counts = {}
    if home.warehouse.exists():
        import duckdb

        con = duckdb.connect(str(home.warehouse), read_only=True)
        try:
            for relation in ("raw.ledger_lines", "raw.submissions"):
                try:
                    counts[relation] = con.execute(f"select count(*) from {relation}").fetchone()[0]
                except duckdb.Error:
                    counts[relation] = None
        finally:
            con.close()
    return {"timings": timings, "details": details, "counts": counts} | peak_mb()


def case_stls_run(p: dict[str, Any]) -> dict[str, Any]:
    """`stls run` (the DAG through `airflow dags test`) as a user runs it, timed from outside."""
    home = _home_paths(p["home"])
    from stls_warehouse import airflow_local

    started = time.perf_counter()
    airflow_local.ensure_metadata(home)  # once per STLS_HOME: a deployment has its metadata
    metadata_s = time.perf_counter() - started
    command = [str(Path(sys.executable).with_name("stls")), "run", *p.get("args", [])]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=dict(os.environ))
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise RuntimeError(f"stls run exited {done.returncode}")
    airflow = _task_seconds(home.home / "airflow" / "airflow.db")
    return {"wall_s": wall, "metadata_s": metadata_s, "airflow": airflow} | peak_mb()


def _task_seconds(airflow_db: Path) -> dict[str, Any]:
    """The latest DAG run's time inside each task (mapped tasks summed), from Airflow's metadata."""
    import sqlite3

    if not airflow_db.exists():
        return {}
    con = sqlite3.connect(str(airflow_db))
    try:
        run = con.execute(
            "select run_id, (julianday(end_date) - julianday(start_date)) * 86400 from dag_run "
            "order by start_date desc limit 1"
        ).fetchone()
        if run is None:
            return {}
        tasks: dict[str, float] = {}
        for task_id, seconds in con.execute(
            "select task_id, coalesce(duration, 0) from task_instance where run_id = ?", (run[0],)
        ):
            tasks[task_id] = round(tasks.get(task_id, 0.0) + float(seconds), 3)
    finally:
        con.close()
    return {
        "dag_run_s": round(float(run[1] or 0), 3),
        "tasks": tasks,
        "in_tasks_s": round(sum(tasks.values()), 3),
    }


def case_startup(p: dict[str, Any]) -> dict[str, Any]:
    """The fixed costs a run pays before any data moves."""
    what = p["what"]
    if what == "gx":
        started = time.perf_counter()
        import great_expectations  # noqa: F401

        imported = time.perf_counter() - started
        from stls_warehouse.quality.gx_runner import GxSession

        started = time.perf_counter()
        GxSession()
        return {"import_s": imported, "context_s": time.perf_counter() - started} | peak_mb()
    if what == "dbt":
        home = _home_paths(p["home"])
        from stls_warehouse import transform

        started = time.perf_counter()
        subprocess.run(
            [str(Path(sys.executable).with_name("dbt")), "--version"], capture_output=True, check=True
        )
        version = time.perf_counter() - started
        started = time.perf_counter()
        transform.run_dbt(home, "parse", "--no-partial-parse")
        return {"version_s": version, "parse_s": time.perf_counter() - started} | peak_mb()
    if what == "airflow":
        home = _home_paths(p["home"])
        from stls_warehouse import airflow_local

        started = time.perf_counter()
        env = airflow_local.ensure_metadata(home)
        metadata = time.perf_counter() - started
        started = time.perf_counter()
        subprocess.run(
            [str(Path(sys.executable).with_name("airflow")), "dags", "list", "-o", "plain"],
            env=env,
            capture_output=True,
            check=True,
        )
        return {"metadata_s": metadata, "dags_list_s": time.perf_counter() - started} | peak_mb()
    raise ValueError(what)


def case_resubmit(p: dict[str, Any]) -> dict[str, Any]:
    name = resubmit(Path(p["landing"]), p["year"], p.get("multiplier", 1), Decimal(p.get("change", "100.00")))
    return {"file": name}


CASES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "write_intake_files": case_write_intake_files,
    "intake": case_intake,
    "validation": case_validation,
    "write_landing": case_write_landing,
    "stage": case_stage,
    "stls_run": case_stls_run,
    "startup": case_startup,
    "resubmit": case_resubmit,
}


def _jsonable(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, Decimal | date):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    return value


def main(argv: list[str]) -> int:
    case, params = argv[0], json.loads(argv[1])
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    sys.path.insert(0, str(ROOT))
    result = CASES[case](params)
    sys.stdout.write("\n" + RESULT_MARK + json.dumps(_jsonable(result)) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
