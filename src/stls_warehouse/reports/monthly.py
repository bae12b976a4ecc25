"""The monthly report: where the returns stand and where the money is going, as HTML.

For a ledger period (2021-22-P07 = October 2021): every SLA's returns due so far in the year
(accepted, rejected, missing, overdue, waived, and this period's own ledger and KPI
returns), then year-to-date spend against budget and forecast per SLA and service line.
Every figure is read from the current published release.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NotRequired, TypedDict

from stls_warehouse.config import Paths
from stls_warehouse.errors import StlsError
from stls_warehouse.files import write_text_atomically
from stls_warehouse.periods import LedgerPeriod, financial_year_of, parse_financial_year
from stls_warehouse.reference import high_needs_condition, service_line_names, sla_label, slas
from stls_warehouse.reports import charts
from stls_warehouse.reports.annual import Worded
from stls_warehouse.reports.document import (
    Document,
    Figure,
    Heading,
    Paragraph,
    Table,
    cells,
    display,
    millions,
    render_html,
)
from stls_warehouse.reports.source import PublishedRelease

STATUSES = ("ACCEPTED", "REJECTED", "MISSING", "OVERDUE", "WAIVED")
# Published tables that may carry a per-SLA forecast (seed 6.11), first found wins, and the
# column names each might use; the report says so when none is published.
FORECAST_TABLES = (
    "mart_sla_value_options",
    "mart_sla_forecast",
    "mart_forecast_outturn",
    "mart_value_options",
)
BUDGET_COLUMNS = ("historic_budget", "total_budget", "budget", "sla_budget")
FORECAST_COLUMNS = (
    "forecast_outturn",
    "forecast_cost",
    "current_forecast_cost",
    "forecast",
    "forecast_total",
)


class BadPeriod(StlsError, ValueError):
    """The period asked for is not a ledger period (2021-22-P07) or a month (2021-10)."""

    exit_code = 2


def parse_period(text: str | int, financial_year: str | None = None) -> LedgerPeriod:
    """`2021-22-P07`, a KPI month `2021-10`, or `P07`/`7` with a financial year."""
    value = str(text).strip()
    match = re.fullmatch(r"(\d{4}-\d{2})-P(\d{1,2})", value)
    if match:
        start, period = parse_financial_year(match.group(1)), int(match.group(2))
    elif (
        re.fullmatch(r"\d{4}-\d{2}", value)
        and 1 <= int(value[5:]) <= 12
        and parse_financial_year(value) is None
    ):
        month = date(int(value[:4]), int(value[5:]), 1)
        start, period = parse_financial_year(financial_year_of(month)), (month.month - 4) % 12 + 1
    elif re.fullmatch(r"P?\d{1,2}", value) and financial_year:
        start, period = parse_financial_year(financial_year), int(value.lstrip("P"))
    else:
        raise BadPeriod(f"not a period: {text!r} (use 2021-22-P07)")
    if start is None or not 1 <= period <= 12:
        raise BadPeriod(f"not a period: {text!r} (use 2021-22-P07, P1..P12)")
    return LedgerPeriod(start, period)


@dataclass(frozen=True)
class MonthlyReport:
    period: LedgerPeriod
    html: str
    release_id: str


def build_monthly_report(home: Paths, period: LedgerPeriod) -> MonthlyReport:
    with PublishedRelease(home) as release:
        doc = _document(release, period)
        return MonthlyReport(period, render_html(doc), release.release_id)


class MonthlyReportFile(TypedDict):
    """A monthly report written (`report`, its `period` and `release_id`), or none and why
    (`pipeline.write_monthly_report`: `report` None and a `note`)."""

    report: str | None
    period: NotRequired[str]
    release_id: NotRequired[str]
    note: NotRequired[str]


def write_monthly_report(
    home: Paths, period_or_year: str | int, period: str | int | None = None
) -> MonthlyReportFile:
    """Write `reports/monthly/monthly_<period>.html`; accepts `2021-22-P07` or (year, month)."""
    ledger_period = (
        parse_period(period_or_year) if period is None else parse_period(period, str(period_or_year))
    )
    report = build_monthly_report(home, ledger_period)
    target = home.reports / "monthly" / f"monthly_{ledger_period.key}.html"
    write_text_atomically(target, report.html)
    return {"report": str(target), "period": ledger_period.key, "release_id": report.release_id}


def latest_period(home: Paths) -> LedgerPeriod | None:
    """The latest ledger period (P1..P12) with an accepted return in the published release."""
    with PublishedRelease(home) as release:
        row = release.rows(
            "select max(period_key) from mart_return_status where return_type = 'ledger' "
            "and status = 'ACCEPTED' and not ends_with(period_key, 'P13')"
        )[0]
    return parse_period(row[0]) if row and row[0] else None


def _month_name(period: LedgerPeriod) -> str:
    year, month = period.months()[0]
    return date(year, month, 1).strftime("%B %Y")


# Spend is High Needs money: traded work is paid for by its buyers and shown on its own.


class NoDataForPeriod(BadPeriod):
    """The published release holds nothing for the period asked for: no report is written."""


def _document(release: PublishedRelease, period: LedgerPeriod) -> Document:
    from stls_warehouse.reports.annual import published_on

    fy = period.financial_year
    (lines_so_far,) = release.rows(
        "select count(*) from fct_ledger_lines where financial_year = ? and period <= ?", [fy, period.period]
    )[0]
    ledger_keys, kpi_keys = _due_keys(period)
    (received,) = release.rows(
        "select count(*) from mart_return_status where status in ('ACCEPTED', 'REJECTED', 'WAIVED') "
        "and list_contains(?, period_key)",
        [ledger_keys + kpi_keys],
    )[0]
    if not lines_so_far and not received:
        raise NoDataForPeriod(
            f"the published release ({release.release_id}) holds no ledger line and no return received for "
            f"{fy} up to P{period.period:02d}: nothing to report for {period.key}"
        )
    as_of = release.rows("select cast(max(status_as_of) as varchar) from mart_return_status")[0][0]
    doc = Document(
        title=f"STLS monthly report: {_month_name(period)} ({fy} P{period.period:02d})",
        subtitle=(
            f"Spend and returns up to the end of {_month_name(period)}, as published on {published_on(release)}; "
            f"return status judged as at {as_of}. Read from the release current when the report was written: "
            "a past period shows the figures as that release holds them, later resubmissions included."
        ),
        footer=(
            f"STLS finance warehouse, release {release.release_id}. Every figure is read from the published "
            "tables named with each table."
        ),
    )
    if note := release.synthetic_note():
        doc.add(Paragraph(note))
    _spend(doc, release, period)
    _return_status(doc, release, period)
    return doc


def _due_keys(period: LedgerPeriod) -> tuple[list[str], list[str]]:
    ledger = [LedgerPeriod(period.start_year, p).key for p in range(1, period.period + 1)]
    kpi = [
        f"{y:04d}-{m:02d}"
        for p in range(1, period.period + 1)
        for y, m in LedgerPeriod(period.start_year, p).months()
    ]
    return ledger, kpi


def _return_status(doc: Document, release: PublishedRelease, period: LedgerPeriod) -> None:
    ledger_keys, kpi_keys = _due_keys(period)
    expected = "and is_expected" if "is_expected" in release.columns("mart_return_status") else ""
    rows = release.rows(
        "select sla_code, return_type, period_key, status from mart_return_status "
        f"where ((return_type = 'ledger' and list_contains(?, period_key)) "
        f"or (return_type = 'kpi' and list_contains(?, period_key))) {expected} order by all",
        [ledger_keys, kpi_keys],
    )
    by_sla: dict[str, dict[str, int]] = {}
    this_period: dict[tuple[str, str], str] = {}
    for sla, return_type, key, status in rows:
        by_sla.setdefault(sla, dict.fromkeys(STATUSES, 0))
        by_sla[sla][status] = by_sla[sla].get(status, 0) + 1
        if key in (ledger_keys[-1], kpi_keys[-1]):
            this_period[(sla, return_type)] = status
    doc.add(Heading("Returns received"))
    doc.add(
        Paragraph(
            f"Ledger returns P01 to P{period.period:02d} and KPI returns {kpi_keys[0]} to {kpi_keys[-1]}: "
            "Accepted returns have been received and passed every check; Rejected were received and failed "
            "a check (the school has its rejection report); Missing are not yet due; Overdue are past their "
            "due date with nothing accepted; Waived were excused by finance."
        )
    )
    kinds = ["text"] + ["count"] * len(STATUSES) + ["text", "text"]
    table_rows = [
        cells(
            [
                Worded(sla, sla_label(sla)),
                *(counts.get(s, 0) for s in STATUSES),
                _status_word(this_period.get((sla, "ledger"))),
                _status_word(this_period.get((sla, "kpi"))),
            ],
            kinds,
        )
        for sla, counts in sorted(by_sla.items(), key=lambda item: sla_label(item[0]))
    ]
    totals = [sum(c.get(s, 0) for c in by_sla.values()) for s in STATUSES]
    table_rows.append(cells(["All SLAs", *totals, None, None], kinds))
    doc.add(
        Table(
            [
                "SLA",
                *(s.title() for s in STATUSES),
                f"P{period.period:02d} ledger",
                f"{_month_name(period)} KPI",
            ],
            table_rows,
            source="mart_return_status",
            total_rows=1,
        )
    )


def _status_word(status: str | None) -> str | None:
    return status.title() if status else None


def _spend(doc: Document, release: PublishedRelease, period: LedgerPeriod) -> None:
    fy = period.financial_year
    p = f"P{period.period:02d}"
    ytd = dict(
        release.rows(
            "select sla_code, sum(amount) from fct_ledger_lines where financial_year = ? and period <= ? "
            f"and {high_needs_condition()} group by sla_code",
            [fy, period.period],
        )
    )
    forecast = _forecast_by_sla(release, period)
    by_sla: dict[str, tuple[Any, Any, Any]] = dict(forecast or {})
    names = service_line_names()
    line_of = {code: sla.service_line for code, sla in slas().items()}
    budgets = release.records(
        "select service_line, total_budget from mart_service_line_budget_outturn where financial_year = ?",
        [fy],
    )
    line_budget = {r["service_line"]: r["total_budget"] for r in budgets}
    share = Decimal(period.period) / Decimal(12)
    zero = Decimal("0.00")

    # the headline: spend to date and the forecast against the year's budget
    spent = sum(ytd.values(), zero)
    budget = sum(line_budget.values(), zero)
    parts = [
        f"{_month_name(period)} ({p}): {millions(spent)} spent so far this year against a budget of "
        f"{millions(budget)} for the year ({_pct(spent, budget)} of it, with {_pct(share * 100, Decimal(100))} "
        "of the year gone)"
    ]
    if forecast:
        projected = sum((f[1] or zero for f in forecast.values()), zero)
        planned = sum((f[0] or zero for f in forecast.values()), zero)
        gap = projected - planned
        verdict = (
            f"{millions(gap)} over budget"
            if gap > 0
            else f"{millions(-gap)} under budget"
            if gap < 0
            else "on budget"
        )
        over = sum(1 for f in forecast.values() if (f[1] or zero) > (f[0] or zero))
        parts.append(
            f"the forecast for the year is {millions(projected)} against {millions(planned)}, {verdict}; "
            f"{over} of {len(forecast)} SLAs are forecast to overspend"
        )
    doc.add(Paragraph("; ".join(parts) + ".", lead=True))

    doc.add(Heading("Spend against budget"))
    doc.add(
        Paragraph(
            f"Spend to the end of {p} against the year's budget (and a straight-line share of it to {p}), "
            "and the forecast for the year (actuals to date plus the projection of the remaining months). "
            "Variance = budget less forecast: negative = overspend."
        )
    )
    line_rows = []
    totals = [zero] * 5
    for key, name in names.items():
        if key not in line_budget:
            continue
        members = [s for s, line in line_of.items() if line == key]
        spend = sum((ytd.get(s, zero) for s in members), zero)
        year_forecast = sum((by_sla.get(s, (None, zero, None))[1] or zero for s in members), zero)
        values = [
            line_budget[key],
            (line_budget[key] * share).quantize(Decimal("0.01")),
            spend,
            year_forecast if forecast else None,
            (line_budget[key] - year_forecast) if forecast else None,
        ]
        totals = [t + (v or zero) for t, v in zip(totals, values, strict=True)]
        line_rows.append(cells([Worded(key, name), *values], ["text"] + ["money"] * 5))
    line_rows.append(
        cells(
            ["All service lines", *(t if forecast or i < 3 else None for i, t in enumerate(totals))],
            ["text"] + ["money"] * 5,
        )
    )
    doc.add(
        Table(
            [
                "Service line",
                "Budget for the year",
                f"Budget to {p} (straight line)",
                f"Spend to {p}",
                "Forecast for the year",
                "Variance (negative = overspend)",
            ],
            line_rows,
            source="mart_service_line_budget_outturn, fct_ledger_lines"
            + (f", {forecast.source}" if forecast else ""),
            caption="By service line",
            total_rows=1,
        )
    )
    slas_shown = sorted(set(ytd) | set(forecast or {}), key=sla_label)
    sla_rows = []
    sla_totals = [zero] * 4
    for sla in slas_shown:
        planned, projected, variance = by_sla.get(sla, (None, None, None))
        values = [ytd.get(sla, zero), planned, projected, variance]
        sla_totals = [t + (v or zero) for t, v in zip(sla_totals, values, strict=True)]
        sla_rows.append(cells([Worded(sla, sla_label(sla)), *values], ["text"] + ["money"] * 4))
    sla_rows.append(
        cells(
            ["All SLAs", *(t if forecast or i == 0 else None for i, t in enumerate(sla_totals))],
            ["text"] + ["money"] * 4,
        )
    )
    source = "fct_ledger_lines" + (f", {forecast.source}" if forecast else "")
    doc.add(
        Table(
            [
                "SLA",
                f"Spend to {p}",
                "Budget for the year",
                "Forecast for the year",
                "Variance (negative = overspend)",
            ],
            sla_rows,
            source=source,
            caption="By SLA",
            total_rows=1,
        )
    )
    if forecast is None:
        doc.add(
            Paragraph(
                "No per-SLA budget and forecast table is in this release (looked for "
                + ", ".join(FORECAST_TABLES)
                + "), so only spend is shown per SLA.",
                note=True,
            )
        )
    labels = [sla_label(s) for s in slas_shown]
    series: dict[str, list[Any]] = {}
    if forecast:
        series["Budget for the year"] = [forecast.get(s, (0, 0, 0))[0] or 0 for s in slas_shown]
        series["Forecast for the year"] = [forecast.get(s, (0, 0, 0))[1] or 0 for s in slas_shown]
    series[f"Spend to {p}"] = [ytd.get(s, 0) for s in slas_shown]
    doc.add(
        Figure(
            charts.bar_chart(labels, series, f"Budget, forecast and spend to {p} by SLA, {fy}"),
            f"Each SLA's budget for the year, its forecast for the year and its spend to {p}."
            if forecast
            else f"Spend to {p} by SLA.",
            source=source,
            alt=f"Bar chart by SLA, {fy}: "
            + "; ".join(
                f"{label} "
                + ", ".join(
                    f"{name.lower()} {display(values[i], 'money')}" for name, values in series.items()
                )
                for i, label in enumerate(labels)
            )
            + ".",
        )
    )


def _pct(part: Decimal, whole: Decimal) -> str:
    if not whole:
        return "\u2013"
    return f"{(part / whole * 100).quantize(Decimal('1'), rounding=ROUND_HALF_UP)}%"


class _Forecast(dict[str, tuple[Any, Any, Any]]):
    source: str = ""


def _forecast_by_sla(release: PublishedRelease, period: LedgerPeriod) -> _Forecast | None:
    """Budget and forecast per SLA from the first forecast table published, at this period."""
    for table in FORECAST_TABLES:
        if not release.has(table):
            continue
        columns = release.columns(table)
        budget = next((c for c in BUDGET_COLUMNS if c in columns), None)
        projected = next((c for c in FORECAST_COLUMNS if c in columns), None)
        if "sla_code" not in columns or budget is None or projected is None:
            continue
        # the table's own variance when it has one (budget less forecast), else the difference
        variance = '"forecast_variance"' if "forecast_variance" in columns else f'"{budget}" - "{projected}"'
        where: list[str] = ["1 = 1"]
        params: list[Any] = []
        if "financial_year" in columns:
            where.append("financial_year = ?")
            params.append(period.financial_year)
        if "period" in columns:  # a forecast made at each period: take the latest up to this one
            where.append(
                f'period = (select max(period) from "{table}" where period <= ? and {" and ".join(where)})'
            )
            params = [*params, period.period, *params]
        rows = release.rows(
            f'select sla_code, sum("{budget}"), sum("{projected}"), sum({variance}) from "{table}" '
            f"where {' and '.join(where)} group by sla_code",
            params,
        )
        result = _Forecast({sla: (b, f, v) for sla, b, f, v in rows})
        result.source = table
        return result
    return None
