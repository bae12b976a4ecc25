"""The Great Expectations gate on incoming returns.

All of a run's newly staged, accepted returns are validated in one process, in one GX
context, with one suite run per dataset (GX start-up is paid once): the ledger lines, the
ledger returns as a whole, the KPI rows and the KPI returns as a whole. Rules that compare
a return with the SLA's past read the warehouse (read-only; this stage runs before
`load_returns` and holds the writer pool) and lay the run's own returns over it.

A blocking failure rejects its return through the same path as an intake error (the
staged record), naming the rule in plain English; warnings are recorded on the return
and never block. Every check's outcome per return is staged as rows for the results
table, and the run's Data Docs are written under `$STLS_HOME/reports/data_docs/`.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, cast

from stls_warehouse import reference
from stls_warehouse.intake.contract import FREE_TEXT_COLUMNS, LEDGER
from stls_warehouse.intake.problems import Problem, ProblemDict
from stls_warehouse.intake.stage import StagedOutcome, read_staged, rewrite_staged
from stls_warehouse.periods import KpiMonth, LedgerPeriod, parse_financial_year, parse_kpi_month
from stls_warehouse.quality.gx_runner import CheckResult, GxSession
from stls_warehouse.quality.history import History, LedgerPeriodFigures
from stls_warehouse.quality.results import rows_for_intake, rows_for_returns, stage_rows
from stls_warehouse.quality.thresholds import threshold

_ONE_DP = Decimal("0.1")
_SHARE_DP = Decimal("0.0001")
# Free-text columns of the returns never enter a validated frame: the Data Docs show
# failing values, and these may hold personal data.
_FREE_TEXT = FREE_TEXT_COLUMNS


@dataclass
class GateOutcome:
    """What the gate did: every check it ran, and how many returns it rejected or warned."""

    checks: list[CheckResult] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    warned: list[str] = field(default_factory=list)
    docs_index: Path | None = None
    seconds_validating: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "checks": len(self.checks),
            "failed": sum(not c.success for c in self.checks),
            "rejected": len(self.rejected),
            "warned": len(self.warned),
            "data_docs": str(self.docs_index) if self.docs_index else None,
        }


def gate_staged_returns(
    run_dir: Path,
    *,
    warehouse: Path | None = None,
    raw_root: Path | None = None,
    docs_dir: Path | None = None,
    run_id: str = "manual",
) -> list[CheckResult]:
    """Validate the run's staged returns; rejects blocking failures in the staged records."""
    return gate_returns(
        run_dir, warehouse=warehouse, raw_root=raw_root, docs_dir=docs_dir, run_id=run_id
    ).checks


def gate_returns(
    run_dir: Path,
    *,
    warehouse: Path | None = None,
    raw_root: Path | None = None,
    docs_dir: Path | None = None,
    run_id: str = "manual",
    chunk_lines: int | None = None,
) -> GateOutcome:
    """Validate the run's staged returns. The ledger lines are validated in chunks of whole
    returns of about `chunk_lines` lines (default `CHUNK_LINES`), so that memory does not grow
    with the run; each chunk's results are merged into one result per rule."""
    from stls_warehouse.warehouse import now

    checked_at = now()
    records = read_staged(run_dir)
    accepted = [r for r in records if r["status"] == "ACCEPTED"]
    # The same bytes landed under two names hold the same lines: validate them once.
    first_by_sha: dict[str, StagedOutcome] = {}
    for record in accepted:
        first_by_sha.setdefault(record["sha256"], record)
    staged = list(first_by_sha.values())
    outcome = GateOutcome()
    files: dict[str, list[str]] = {}
    if staged:  # Great Expectations is imported only when there is something to validate
        from expectations import kpi_return, kpi_return_summary, ledger_return, ledger_return_summary

        ledgers = [r for r in staged if r["return_type"] == "ledger"]
        kpis = [r for r in staged if r["return_type"] == "kpi"]
        history = History.from_warehouse(warehouse)
        figures = {r["sha256"]: ledger_figures(_read_table(run_dir, r, _FIGURE_COLUMNS)) for r in ledgers}
        kpi_lines = {r["sha256"]: _read_lines(run_dir, r) for r in kpis}
        _lay_over(history, staged, figures, kpi_lines)
        with_lines = [r for r in ledgers if not r["is_nil_return"] and figures[r["sha256"]].lines]
        chunks = _chunks(with_lines, figures, chunk_lines or CHUNK_LINES)
        summaries = {
            ledger_return_summary: ledger_summary_frame(ledgers, figures, history, raw_root),
            kpi_return: kpi_rows_frame(kpis, kpi_lines, history),
            kpi_return_summary: kpi_summary_frame(kpis, kpi_lines, history),
        }
        session = GxSession(docs_dir, run_name=run_id)
        if with_lines:
            # One frame at a time: each chunk's frame is built, validated and let go.
            frames = (
                ledger_lines_frame(chunk, {r["sha256"]: _read_table(run_dir, r) for r in chunk})
                for chunk in chunks
            )
            outcome.checks.extend(
                session.run_suite_chunks(ledger_return, frames, ledger_return.INDEX_COLUMNS)
            )
            files[ledger_return.NAME] = [r["sha256"] for r in with_lines]
        for module, frame in summaries.items():
            if frame is None or frame.empty:
                continue
            outcome.checks.extend(session.run_suite(module, frame, module.INDEX_COLUMNS))
            files[module.NAME] = list(dict.fromkeys(frame["file_sha256"]))
        outcome.docs_index = session.build_docs()
        outcome.seconds_validating = session.seconds
        _apply(run_dir, accepted, outcome)
    rows = rows_for_intake(records, run_id=run_id, checked_at=checked_at)
    rows += rows_for_returns(outcome.checks, files, first_by_sha, run_id=run_id, checked_at=checked_at)
    stage_rows(run_dir, rows)
    return outcome


# --- frames ------------------------------------------------------------------------------

# Lines per chunk of the ledger-lines suite: a chunk's frame and GX's working copies of it
# stay a few hundred MB whatever the run's size (gate peak on 1M lines, GX's own 280 MB
# included: about 580 MB in chunks of 500,000, 700 MB in one chunk). Each chunk adds about
# half a second of GX overhead.
CHUNK_LINES = 500_000
# What the ledger-lines frame takes from a staged return: no free text, except the cost
# centre, whose activity rule names the cost centres it cannot read back to the school
# (returns.md, Activities); descriptions and comments never enter it.
_LINE_COLUMNS = (
    "source_row",
    *(c.name for c in LEDGER.fields if not c.personal),
)
_FIGURE_COLUMNS = ("account_code", "amount", "is_overhead_recharge")


@dataclass
class LedgerFigures:
    """One staged ledger return's lines reduced to what the return-level rules need; sums
    are exact (Arrow decimal arithmetic)."""

    lines: int
    total: Decimal
    spend: Decimal  # positive amounts
    overhead: Decimal  # amounts flagged is_overhead_recharge
    payroll_lines: int  # DIRECT_STAFFING lines with spend


def _read_table(run_dir: Path, record: StagedOutcome, columns: tuple[str, ...] = _LINE_COLUMNS) -> Any:
    """A staged return's lines as an Arrow table of `columns` (none for a missing file)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = run_dir / f"{record['sha256']}.parquet"
    if not source.exists():
        return pa.table({name: pa.array([], _ledger_schema().field(name).type) for name in columns})
    return pq.read_table(source, columns=list(columns))


def _read_lines(run_dir: Path, record: StagedOutcome) -> list[dict[str, Any]]:
    """A staged return's lines as dicts (KPI returns: a few dozen rows each)."""
    import pyarrow.parquet as pq

    source = run_dir / f"{record['sha256']}.parquet"
    if not source.exists():
        return []
    return [
        {k: v for k, v in row.items() if k not in _FREE_TEXT} for row in pq.read_table(source).to_pylist()
    ]


def _ledger_schema() -> Any:
    from stls_warehouse.intake.stage import arrow_schema

    return arrow_schema(LEDGER)


def _payroll_codes() -> list[str]:
    return sorted(
        code.account_code
        for code in reference.account_codes().values()
        if code.expenditure_category == "DIRECT_STAFFING"
    )


def ledger_figures(table: Any) -> LedgerFigures:
    """Counts and exact sums of one return's lines (an Arrow table with `_FIGURE_COLUMNS`)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    amount = table["amount"]
    spending = pc.fill_null(pc.greater(amount, 0), False)
    flagged = pc.fill_null(table["is_overhead_recharge"], False)
    payroll = pc.and_(
        pc.is_in(table["account_code"], value_set=pa.array(_payroll_codes(), pa.string())), spending
    )

    def total(mask: Any = None) -> Decimal:
        value = pc.sum(amount if mask is None else pc.filter(amount, mask)).as_py()
        return Decimal("0.00") if value is None else value

    return LedgerFigures(
        lines=table.num_rows,
        total=total(),
        spend=total(spending),
        overhead=total(flagged),
        payroll_lines=int(pc.sum(pc.fill_null(payroll, False)).as_py() or 0),
    )


def _chunks(
    records: list[StagedOutcome], figures: dict[str, LedgerFigures], limit: int
) -> list[list[StagedOutcome]]:
    """Whole returns in received order, grouped up to `limit` lines (a larger return alone)."""
    chunks: list[list[StagedOutcome]] = []
    size = 0
    for record in records:
        lines = figures[record["sha256"]].lines
        if not chunks or size + lines > limit:
            chunks.append([])
            size = 0
        chunks[-1].append(record)
        size += lines
    return chunks


def _lay_over(
    history: History,
    staged: list[StagedOutcome],
    figures: dict[str, LedgerFigures],
    kpi_lines: dict[str, list[dict[str, Any]]],
) -> None:
    """The run's returns over the warehouse's, in received order (the later file wins)."""
    for record in staged:
        if record["return_type"] == "ledger" and record["period"] is not None:
            key = (_named(record["sla_code"]), _named(record["financial_year"]), int(record["period"]))
            own = figures[record["sha256"]]
            history.add_ledger(
                key,
                LedgerPeriodFigures(own.total, own.spend, own.overhead, bool(record["is_nil_return"])),
            )
        elif record["return_type"] == "kpi" and record["kpi_month"]:
            values = {row["kpi_code"]: row["value"] for row in kpi_lines[record["sha256"]]}
            history.add_kpi(_named(record["sla_code"]), record["kpi_month"], values)


def _frame(rows: list[dict[str, Any]]) -> Any:
    import pandas as pd

    return pd.DataFrame(rows) if rows else None


def ledger_lines_frame(records: list[StagedOutcome], lines: dict[str, Any]) -> Any:
    """One row per ledger line of `records`, built from Arrow with typed columns: `amount` an
    exact decimal (pandas ArrowDtype), `amount_pence` the same in integer pence (int64, for
    the vectorised range checks; 0 where the amount is missing), dates as Arrow dates and
    the file's columns beside each line. `lines` maps a return's sha256 to an Arrow table
    of its lines (a list of line dicts is accepted too)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    budgets = reference.budgets()
    budget_keys = pa.array([f"{sla}\x1f{year}" for sla, year in budgets])
    outreach = pa.array([b.outreach_budget for b in budgets.values()], pa.decimal128(18, 2))
    tables = []
    for record in records:
        table = _as_table(lines[record["sha256"]])
        if not table.num_rows:
            continue
        count = table.num_rows
        period = _ledger_period(record)
        months = period.months() if period else ()
        line_keys = pc.binary_join_element_wise(table["sla_code"], table["financial_year"], "\x1f")
        columns = {
            "file_sha256": _constant(record["sha256"], count),
            **{name: table[name] for name in _LINE_COLUMNS},
            "file_sla_code": pa.repeat(pa.scalar(record["sla_code"], pa.string()), count),
            "file_financial_year": pa.repeat(pa.scalar(record["financial_year"], pa.string()), count),
            "file_period": pa.repeat(pa.scalar(record["period"], pa.int64()), count),
            "period_start": pa.repeat(
                pa.scalar(_month_start(*months[0]) if months else None, pa.date32()), count
            ),
            "period_end": pa.repeat(pa.scalar(period.end_date if period else None, pa.date32()), count),
            "outreach_budget": pc.take(outreach, pc.index_in(line_keys, value_set=budget_keys)),
        }
        tables.append(pa.table(columns))
    if not tables:
        return None
    whole = pa.concat_tables(tables).combine_chunks()
    del tables
    pence = pc.cast(pc.multiply(whole["amount"], pa.scalar(Decimal(100), pa.decimal128(3, 0))), pa.int64())
    whole = whole.append_column("amount_pence", pc.fill_null(pence, 0))
    # The activity rule reads every line's cost centre, an empty one as "" (GX skips nulls).
    whole = whole.append_column("cost_centre_text", pc.fill_null(whole["cost_centre"], ""))
    return _to_pandas(whole)


def _constant(text: str, count: int) -> Any:
    """`count` times `text`, dictionary-encoded (a pandas Categorical): one copy of the text."""
    import pyarrow as pa

    return pa.DictionaryArray.from_arrays(pa.repeat(pa.scalar(0, pa.int32()), count), pa.array([text]))


def _as_table(lines: Any) -> Any:
    import pyarrow as pa

    if isinstance(lines, pa.Table):
        return lines.select(list(_LINE_COLUMNS))
    schema = pa.schema([_ledger_schema().field(name) for name in _LINE_COLUMNS])
    return pa.Table.from_pylist([{k: row.get(k) for k in _LINE_COLUMNS} for row in lines], schema=schema)


def _to_pandas(table: Any) -> Any:
    """Decimals and dates stay Arrow-backed in pandas (exact; compared without Python objects)."""
    import pandas as pd
    import pyarrow as pa

    def mapped(kind: Any) -> Any:
        if pa.types.is_decimal(kind) or pa.types.is_date(kind):
            return pd.ArrowDtype(kind)
        return None

    return table.to_pandas(types_mapper=mapped, self_destruct=True, split_blocks=True)


def ledger_summary_frame(
    records: list[StagedOutcome],
    figures: dict[str, LedgerFigures],
    history: History,
    raw_root: Path | None,
) -> Any:
    rows = []
    for record in records:
        sla, year = _named(record["sla_code"]), _named(record["financial_year"])
        period = cast(int, record["period"])  # an accepted ledger names its period
        own = figures[record["sha256"]]
        control = _control_sheet(record, raw_root)
        high, low = _history_band(history, sla, year, period, record["is_nil_return"])
        rows.append(
            {
                "file_sha256": record["sha256"],
                "sla_code": sla,
                "financial_year": year,
                "period": period,
                "is_nil_return": bool(record["is_nil_return"]),
                # What will be loaded: the staged lines (a nil line counts, its amount is 0).
                "line_count": own.lines + int(bool(record["is_nil_return"])),
                "amount_total": own.total,
                "control_line_count": control.line_count,
                "control_line_count_row": control.line_count_row,
                "control_total": control.total,
                "control_total_row": control.total_row,
                "payroll_lines": own.payroll_lines,
                "has_staff": _has_staff(history, sla, year, period),
                "overhead_share_ytd": _overhead_share_ytd(history, sla, year, period, own),
                "history_high": high,
                "history_low": low,
            }
        )
    frame = _frame(rows)
    if frame is not None:
        for column in ("control_line_count", "control_line_count_row", "control_total_row"):
            frame[column] = frame[column].astype("Int64")
    return frame


def kpi_rows_frame(
    records: list[StagedOutcome], lines: dict[str, list[dict[str, Any]]], history: History
) -> Any:
    from stls_warehouse.intake.validate import percent_value

    units = {code: d.unit for code, d in reference.kpi_definitions().items()}
    rows = []
    for record in records:
        previous = history.kpi.get(
            (_named(record["sla_code"]), _previous_month(record["kpi_month"]) or ""), {}
        )
        compare = _months_comparable(record["kpi_month"])
        for row in lines[record["sha256"]]:
            numerator, denominator = row["numerator"], row["denominator"]
            rows.append(
                {
                    "file_sha256": record["sha256"],
                    **row,
                    "unit": units.get(row["kpi_code"]),
                    "expected_percent": (
                        percent_value(numerator, denominator)
                        if numerator is not None and denominator is not None
                        else None
                    ),
                    "month_change_factor": (
                        _change_factor(row["value"], previous.get(row["kpi_code"])) if compare else None
                    ),
                }
            )
    frame = _frame(rows)
    if frame is not None:
        frame["month_change_factor"] = frame["month_change_factor"].astype("float64")
    return frame


def kpi_summary_frame(
    records: list[StagedOutcome], lines: dict[str, list[dict[str, Any]]], history: History
) -> Any:
    required = {code for code, d in reference.kpi_definitions().items() if d.required}
    counts = ("iss_new", "iss_open", "iss_closed", "trn_sess", "trn_att", "dropin_sess", "dropin_att")
    rows = []
    for record in records:
        by_code = {row["kpi_code"]: row for row in lines[record["sha256"]]}
        value = {code: row["value"] for code, row in by_code.items()}
        source_row = {code: row["source_row"] for code, row in by_code.items()}
        figures = {name: value.get(name.upper()) for name in counts}
        previous = history.kpi.get(
            (_named(record["sla_code"]), _previous_month(record["kpi_month"]) or ""), {}
        )
        previous_open = previous.get("ISS_OPEN")
        expected_open = None
        if None not in (previous_open, figures["iss_new"], figures["iss_closed"]):
            expected_open = int(previous_open) + int(figures["iss_new"]) - int(figures["iss_closed"])  # type: ignore[arg-type]
        rows.append(
            {
                "file_sha256": record["sha256"],
                "sla_code": record["sla_code"],
                "kpi_month": record["kpi_month"],
                "required_missing": len(required - set(by_code)),
                **{name: int(v) if v is not None else 0 for name, v in figures.items()},
                "trn_eval": value.get("TRN_EVAL"),
                "expected_iss_open": expected_open,
                "trn_att_per_sess": _per_session(figures["trn_att"], figures["trn_sess"]),
                "dropin_att_per_sess": _per_session(figures["dropin_att"], figures["dropin_sess"]),
                "iss_open_row": source_row.get("ISS_OPEN"),
                "trn_att_row": source_row.get("TRN_ATT"),
                "trn_eval_row": source_row.get("TRN_EVAL"),
                "dropin_att_row": source_row.get("DROPIN_ATT"),
            }
        )
    frame = _frame(rows)
    if frame is not None:
        for column in ("expected_iss_open", "iss_open_row", "trn_att_row", "trn_eval_row", "dropin_att_row"):
            frame[column] = frame[column].astype("Int64")
        for column in ("trn_att_per_sess", "dropin_att_per_sess"):
            frame[column] = frame[column].astype("float64")
    return frame


# --- the figures the rules compare ----------------------------------------------------------


@dataclass
class ControlSheet:
    total: Decimal | None = None
    total_row: int | None = None
    line_count: int | None = None
    line_count_row: int | None = None


def _control_sheet(record: StagedOutcome, raw_root: Path | None) -> ControlSheet:
    """The Control sheet's figures, read again from the stored file (XLSX only)."""
    if raw_root is None or not record["file"].lower().endswith(".xlsx"):
        return ControlSheet()
    from stls_warehouse.intake.contract import CONTROL_SHEET
    from stls_warehouse.intake.problems import CellValueError, Code
    from stls_warehouse.intake.raw_zone import RawZone
    from stls_warehouse.intake.reader import open_xlsx
    from stls_warehouse.intake.values import parse_money, parse_whole_number

    source = RawZone(raw_root).object_path(record["sha256"])
    if not source.exists():
        return ControlSheet()
    book = open_xlsx(source.read_bytes(), {CONTROL_SHEET.lower()})
    grids = [g for name, g in book.sheets.items() if name.strip(" \t\u00a0").lower() == CONTROL_SHEET.lower()]
    if not grids:
        return ControlSheet()
    control = ControlSheet()
    for number, cells in sorted(grids[0].rows.items()):
        label, given = cells.get(0), cells.get(1)
        if label is None or label.kind != "text" or given is None:
            continue
        name = label.text.strip(" \t\u00a0").lower()
        try:
            if name == "control_total" and control.total_row is None:
                control.total, control.total_row = parse_money(given), number
            elif name == "line_count" and control.line_count_row is None:
                control.line_count = parse_whole_number(given, Code.CONTROL_TOTAL_MISMATCH)
                control.line_count_row = number
        except CellValueError:
            continue  # intake has already rejected a Control value it cannot read
    return control


def _named(value: str | None) -> str:
    """A field that every accepted return's staged outcome holds (its name was read): the
    type checker's view only, unchanged at run time."""
    return cast(str, value)


def _ledger_period(record: StagedOutcome) -> LedgerPeriod | None:
    start = parse_financial_year(record["financial_year"] or "")
    if start is None or record["period"] is None:
        return None
    return LedgerPeriod(start, int(record["period"]))


def _month_start(year: int, month: int) -> Any:
    from datetime import date

    return date(year, month, 1)


def _periods_before(year: str, period: int, count: int) -> Iterator[tuple[str, int]]:
    """The `count` regular periods (P1..P12) before this one, most recent first."""
    start = parse_financial_year(year)
    if start is None:
        return
    current = LedgerPeriod(start, min(period, 13))
    if current.period == 13:
        current = LedgerPeriod(start + 1, 1)  # P13 follows P12
    for _ in range(count):
        if current.period == 1:
            current = LedgerPeriod(current.start_year - 1, 12)
        else:
            current = LedgerPeriod(current.start_year, current.period - 1)
        yield current.financial_year, current.period


def _history_band(
    history: History, sla: str, year: str, period: int, is_nil: bool
) -> tuple[Decimal | None, Decimal | None]:
    """(high, low): the SLA's median monthly total times and divided by the ratio."""
    if is_nil or period > 12:  # a nil return or a P13 adjustment is not a month's spending
        return None, None
    span = int(threshold("amount_outside_history", "history_periods"))
    needed = int(threshold("amount_outside_history", "min_history_returns"))
    ratio = threshold("amount_outside_history", "max_ratio")
    totals = [
        figures.total
        for key in _periods_before(year, period, span)
        if (figures := history.ledger.get((sla, *key))) is not None and not figures.is_nil
    ]
    if len(totals) < needed:
        return None, None
    median = Decimal(statistics.median(totals))
    if median <= 0:
        return None, None
    return (median * ratio).quantize(Decimal("0.01")), (median / ratio).quantize(Decimal("0.01"))


def _overhead_share_ytd(
    history: History, sla: str, year: str, period: int, own: LedgerFigures
) -> Decimal | None:
    """Overhead recharges over spend, from P1 of the year through this return."""
    overhead, spend = own.overhead, own.spend
    for earlier in range(1, period):
        figures = history.ledger.get((sla, year, earlier))
        if figures is not None:
            overhead += figures.overhead
            spend += figures.spend
    if spend <= 0:
        return None
    return (overhead / spend).quantize(_SHARE_DP, rounding=ROUND_HALF_UP)


def _has_staff(history: History, sla: str, year: str, period: int) -> bool:
    """Staff in post that month by the SLA's KPI return; without one, a budget means staff."""
    start = parse_financial_year(year)
    if start is not None and period <= 12:
        month = KpiMonth(*LedgerPeriod(start, period).months()[0])
        fte = history.kpi.get((sla, month.key), {}).get("STAFF_FTE")
        if fte is not None:
            return fte > 0
    budget = reference.budgets().get((sla, year))
    return budget is None or budget.total > 0


def _previous_month(key: str | None) -> str | None:
    month = parse_kpi_month(key or "")
    return month.previous().key if month is not None else None


def _months_comparable(key: str | None) -> bool:
    """A change into or out of the summer break is expected, so it is not compared."""
    quiet = int(threshold("kpi_month_on_month_jump", "quiet_month"))
    month = parse_kpi_month(key or "")
    if month is None:
        return False
    previous = month.month - 1 or 12
    return quiet not in (month.month, previous)


def _change_factor(value: Decimal | None, previous: Decimal | None) -> float | None:
    if value is None or previous is None:
        return None
    smoothing = threshold("kpi_month_on_month_jump", "smoothing")
    high, low = max(value, previous) + smoothing, min(value, previous) + smoothing
    if low <= 0:
        return None
    return float((high / low).quantize(Decimal("0.001")))


def _per_session(attendees: Decimal | None, sessions: Decimal | None) -> float | None:
    if attendees is None or sessions is None or sessions <= 0:
        return None
    return float((Decimal(attendees) / Decimal(sessions)).quantize(_ONE_DP))


# --- outcomes on the staged records --------------------------------------------------------


def _apply(run_dir: Path, accepted: list[StagedOutcome], outcome: GateOutcome) -> None:
    """Each failure onto every staged record of the failing bytes: errors reject, warnings
    are noted."""
    by_sha: dict[str, list[StagedOutcome]] = {}
    for record in accepted:
        by_sha.setdefault(record["sha256"], []).append(record)
    changed: dict[int, StagedOutcome] = {}
    for check in outcome.checks:
        if not check.success and not check.failing_rows:
            # Every return rule is row-level; a failure no row explains must not pass unseen.
            raise RuntimeError(f"{check.suite}.{check.rule} failed without naming a row: {check.observed}")
        for failing in check.failing_rows:
            for record in by_sha.get(str(failing.get("file_sha256")), []):
                problem = _problem(check, record, failing)
                if check.blocking:
                    record["errors"].append(problem)
                    record["status"] = "REJECTED"
                else:
                    record["warnings"].append(problem)
                changed[id(record)] = record
    for record in changed.values():
        if record["status"] == "REJECTED":
            outcome.rejected.append(record["file"])
        elif record["warnings"]:
            outcome.warned.append(record["file"])
        rewrite_staged(run_dir, record)


def _problem(check: CheckResult, record: StagedOutcome, failing: dict[str, Any]) -> ProblemDict:
    """The failure as the school reads it: the rule's words, where, what was found."""
    row_column = check.meta.get("row_column") or "source_row"
    row = failing.get(row_column)
    column = check.meta.get("report_column") or check.column
    sheet = check.meta.get("sheet") if record["file"].lower().endswith(".xlsx") else None
    if sheet is None and row is not None:
        sheet = _sheet(record)
    value_column = check.meta.get("value_column") or check.column
    expected_column = check.meta.get("expected_column") or check.column_b
    found = failing.get(value_column) if value_column else None
    expected = check.expected
    if expected_column is not None and expected_column in failing:
        expected = _text(failing[expected_column])
    return Problem(
        code=check.code,
        message=check.description,
        sheet=sheet,
        row=int(row) if row is not None else None,
        column=column,
        value=_text(found),
        expected=expected,
        rule=check.rule,
    ).as_dict()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _sheet(record: StagedOutcome) -> str | None:
    if not record["file"].lower().endswith(".xlsx"):
        return None
    return "Ledger" if record["return_type"] == "ledger" else "KPI"
