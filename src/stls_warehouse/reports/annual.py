"""The annual financial review for the Schools Funding Forum, as HTML and PDF.

Produced only for a complete year (every expected return accepted or waived: see
`quality/completeness.py`). Sections: the seed's budget-versus-outturn table, the expenditure
breakdown, then one section per finance or KPI table the release publishes (overhead
standardisation, core and outreach, pension allocation, formula allocation, inflation
options, KPIs, value for money, district and area structures). A section whose table is not
in the release is left out and the report says so. Every figure is read from the release.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from stls_warehouse.config import Paths
from stls_warehouse.quality.completeness import require_year_complete, year_completeness
from stls_warehouse.reports import charts
from stls_warehouse.reports.document import (
    Document,
    Figure,
    Heading,
    Paragraph,
    Table,
    cells,
    render_html,
    render_pdf,
)
from stls_warehouse.reports.source import PublishedRelease

LINES = (("DISTRICT", "District STLS"), ("PD", "PD STLS"), ("SENSORY", "Sensory STLS"))
# Variance is budget - outturn: the sign is printed with it wherever it is shown, so that an
# underspend is never read as an overspend (KCC's monitoring reports an overspend as positive).
VARIANCE_LABEL = "Variance (negative = overspend)"
TRADED_LABEL = "Traded work, net (not in outturn)"
MAX_TABLE_ROWS = 40
_NOT_MONEY_HINTS = (
    "pct",
    "percent",
    "share",
    "rate",
    "index",
    "ratio",
    "fte",
    "score",
    "weight",
    "referrals",
)


@dataclass(frozen=True)
class Section:
    """One optional section: its table, the question it answers, what to show and chart.

    `query` selects the rows to show from `{t}` (the published table) with `$fy` for the year.
    If the table's columns differ from what the query expects, the section shows the table's
    rows for the year as they are and says so.
    """

    table: str
    title: str
    purpose: str
    query: str
    chart: str = "bar"  # bar | line | none
    label: str = "sla_code"  # bar chart: one group per value of this column
    values: tuple[str, ...] = ()  # the columns charted
    x: str = "financial_year"  # line chart: the horizontal axis
    series: str | None = None  # line chart: one line per value of this column
    split: str | None = None  # one table and chart per value of this column
    totals: bool = False  # a total row for the money columns
    reference: str | None = None  # a column whose value is drawn as a reference line
    money_chart: bool = True


SECTIONS = (
    Section(
        "mart_sla_value_options",
        "SLA value: historic budget against forecast cost (6.11)",
        "Per SLA, the historic budget against the forecast outturn at the last period of the year "
        "(actuals to date plus the projection of the remaining months).",
        "select sla_code, district, historic_budget, ytd_actual, forecast_outturn, forecast_variance, "
        "pension_allocation, forecast_variance_after_pension from {t} where financial_year = $fy "
        "and period = (select max(period) from {t} where financial_year = $fy) order by sla_code",
        values=("historic_budget", "forecast_outturn"),
        totals=True,
    ),
    Section(
        "mart_overhead_standardisation",
        "Overhead standardisation (6.15)",
        "Overhead charged by each SLA holder against the standard overhead under the configured rule: "
        "which way each differs, and flagged only where the rule says it is a problem (charging more "
        "than the standard by more than its tolerance).",
        "select sla_code, district, overhead_rule, direct_staffing, overhead_charged, overhead_standard, "
        "overhead_difference, overhead_difference_pct, overhead_direction, is_flagged from {t} "
        "where financial_year = $fy order by sla_code",
        values=("overhead_charged", "overhead_standard"),
        totals=True,
    ),
    Section(
        "mart_core_outreach_separation",
        "Core and outreach (6.12)",
        "Budget, spend and variance per SLA for the budgeted strands, with outreach money spent on core "
        "activity (and core money on outreach) made visible. Spend whose activity could not be read "
        "from its cost centre is shown as unclassified: where there is any, the crossings are only what "
        "could be seen. Variance is budget - spend (negative = overspend).",
        "select sla_code, fund_strand, budget, spend, variance, outreach_spent_on_core, core_spent_on_outreach, "
        "spend_on_unspecified_activity from {t} where financial_year = $fy and is_budgeted "
        "order by sla_code, fund_strand",
        values=("budget", "spend", "outreach_spent_on_core"),
        totals=True,
    ),
    Section(
        "mart_pension_allocation",
        "Pension funding allocation",
        "The pension funding shared between SLAs on the configured basis, to the penny, summing exactly.",
        "select sla_code, district, basis_method, basis_amount, basis_share_pct, pension_allocation from {t} "
        "where financial_year = $fy order by sla_code",
        values=("pension_allocation",),
        totals=True,
    ),
    Section(
        "mart_formula_allocation",
        "Formula allocation against historic allocation (6.13)",
        "Per district under the default scenario, in the first formula year from this year on: need index, "
        "formula target, historic allocation and the damped allocation with its floor and cap.",
        "select financial_year, district, area, need_index, historic_allocation, target_allocation, "
        "damped_allocation, change_from_historic_amount, is_floor_applied, is_cap_applied from {t} "
        "where is_default_scenario and financial_year = "
        "(select min(financial_year) from {t} where financial_year >= $fy) order by district",
        label="district",
        values=("historic_allocation", "target_allocation", "damped_allocation"),
        totals=True,
    ),
    Section(
        "mart_inflation_scenarios",
        "Inflation options over the SLA term (6.14)",
        "The value of all SLAs in each financial year of the term, for fixed cash and each indexation option.",
        "select option_name, financial_year, sum(financial_year_value) as financial_year_value, "
        "sum(difference_from_fixed_cash) as difference_from_fixed_cash from {t} "
        "group by all order by option_name, financial_year",
        chart="line",
        values=("financial_year_value",),
        series="option_name",
    ),
    Section(
        "mart_kpi_monthly",
        "Key performance indicators",
        "How many SLAs are green, amber or red on each KPI, year to date at the last month of the year.",
        "select kpi_code, kpi_name, unit, max(target) as target, "
        "count(*) filter (where ytd_rag = 'GREEN') as green, count(*) filter (where ytd_rag = 'AMBER') as amber, "
        "count(*) filter (where ytd_rag = 'RED') as red from {t} where financial_year = $fy "
        "and kpi_month = (select max(kpi_month) from {t} where financial_year = $fy) "
        "and ytd_rag is not null group by all order by kpi_code",
        label="kpi_code",
        values=("green", "amber", "red"),
        money_chart=False,
    ),
    Section(
        "mart_value_for_money",
        "Value for money",
        "Total High Needs cost per referral, per child in intensive support and per training attendee, against the median of the district SLAs.",
        "select sla_code, cost, referrals, cost_per_referral, county_median_cost_per_referral, "
        "cost_per_child_supported, cost_per_training_attendee from {t} where financial_year = $fy order by sla_code",
        values=("cost_per_referral",),
        reference="county_median_cost_per_referral",
    ),
    Section(
        "mart_structure_comparison",
        "District and area structures (4.1 A)",
        "The finance measures rolled up to the 12 districts and to the 4 areas, side by side, with how "
        "many of the unit's SLAs each value covers.",
        "select geography_level, geography_name, measure_name, value, slas_reporting, slas_included from {t} "
        "where financial_year = $fy and measure_group = 'FINANCE' order by geography_level desc, "
        "geography_name, measure_code",
        label="geography_name",
        split="geography_level",
    ),
)


def build_annual_document(release: PublishedRelease, financial_year: str) -> Document:
    status = year_completeness(release.con, financial_year)
    require_year_complete(status)
    doc = Document(
        title=f"STLS annual financial review {financial_year}",
        subtitle=(
            f"For the Schools Funding Forum. {status.explain()}. Published release {release.release_id}; "
            "money to the nearest pound."
        ),
        footer=f"STLS finance warehouse - release {release.release_id} - every figure is read from the published tables",
    )
    if note := release.synthetic_note():
        doc.add(Paragraph(note))
    _budget_outturn(doc, release, financial_year)
    _expenditure(doc, release, financial_year)
    missing = []
    for section in SECTIONS:
        if release.has(section.table):
            _optional_section(doc, release, section, financial_year)
        else:
            missing.append(section)
    if missing:
        doc.add(Heading("Sections not in this review"))
        doc.add(
            Paragraph(
                "These tables are not in the published release, so their sections are left out: "
                + "; ".join(f"{s.title} ({s.table})" for s in missing)
                + "."
            )
        )
    return doc


def write_annual_report(home: Paths, financial_year: str) -> dict[str, Any]:
    """Write `reports/annual/annual_review_<year>.html` and `.pdf` for a complete year."""
    with PublishedRelease(home) as release:
        doc = build_annual_document(release, financial_year)
        release_id = release.release_id
    folder = home.reports / "annual"
    folder.mkdir(parents=True, exist_ok=True)
    html_target = folder / f"annual_review_{financial_year}.html"
    pdf_target = folder / f"annual_review_{financial_year}.pdf"
    tmp_html = html_target.with_name(f".{html_target.name}.tmp")
    tmp_pdf = pdf_target.with_name(f".{pdf_target.name}.tmp")
    tmp_html.write_text(render_html(doc), encoding="utf-8")
    render_pdf(doc, tmp_pdf)
    os.replace(tmp_html, html_target)
    os.replace(tmp_pdf, pdf_target)
    return {
        "html": str(html_target),
        "pdf": str(pdf_target),
        "release_id": release_id,
        "financial_year": financial_year,
    }


# --- fixed sections ---------------------------------------------------------------------


def _budget_outturn(doc: Document, release: PublishedRelease, fy: str) -> None:
    rows = release.records(
        "select * from mart_service_line_budget_outturn where financial_year = ?",
        [fy],
    )
    by_line = {r["service_line"]: r for r in rows}
    keys = [k for k, _ in LINES if k in by_line]

    def total(column: str) -> Decimal:
        return sum((by_line[k][column] for k in keys), Decimal("0.00"))

    kinds = ["text"] + ["money"] * (len(keys) + 1)
    pension = total("pension_allocation")
    blank = [None] * len(keys)
    table = [
        cells(["Core funding", *(by_line[k]["core_budget"] for k in keys), total("core_budget")], kinds),
        cells(
            ["Outreach funding", *(by_line[k]["outreach_budget"] for k in keys), total("outreach_budget")],
            kinds,
        ),
        cells(["Pension funding", *blank, pension], kinds),
        cells(
            ["Total budget", *(by_line[k]["total_budget"] for k in keys), total("total_budget") + pension],
            kinds,
        ),
        cells(["Outturn (High Needs)", *(by_line[k]["outturn"] for k in keys), total("outturn")], kinds),
        cells(
            [VARIANCE_LABEL, *(by_line[k]["variance"] for k in keys), total("variance_after_pension")],
            kinds,
        ),
    ]
    has_traded = all("traded_net" in by_line[k] for k in keys)
    if has_traded:
        table.append(
            cells(
                [TRADED_LABEL, *(by_line[k]["traded_net"] for k in keys), total("traded_net")],
                kinds,
            )
        )
    doc.add(Heading("Budget against outturn"))
    doc.add(
        Paragraph(
            "The Forum's table: core and outreach budget per service line, the pension funding, the outturn "
            "(the accepted ledger lines of the year on the High Needs funded strands: core, outreach and "
            "pension) and the variance (budget less outturn: negative = overspend, positive = underspend; "
            "per service line before pension funding, in total after it)."
            + (
                " Traded work (chargeable bespoke training) is paid for by its buyers: its net amount is "
                "shown on its own line, costs positive and income negative, and is not in the outturn."
                if has_traded
                else ""
            )
        )
    )
    unallocated = next(
        (
            by_line[k].get("year_pension_unallocated")
            for k in keys
            if by_line[k].get("is_pension_allocated") is False
        ),
        None,
    )
    if unallocated is not None:
        doc.add(
            Paragraph(
                f"Pension funding not allocated: £{unallocated:,.0f}. The year it is shared by (its basis "
                "year) has no ledger returns in the warehouse, so it is not shared between the service "
                "lines (the data quality results carry the warning); the variance after pension does not "
                "include it.",
                note=True,
            )
        )
    doc.add(
        Table(
            ["", *(dict(LINES)[k] for k in keys), "Total"],
            table,
            source="mart_service_line_budget_outturn",
            total_rows=4 if has_traded else 3,
        )
    )
    doc.add(
        Table(
            ["", *(dict(LINES)[k] for k in keys), "Total"],
            [
                cells(
                    ["Pension funding allocated", *(by_line[k]["pension_allocation"] for k in keys), pension],
                    kinds,
                ),
                cells(
                    [
                        "Variance before pension (negative = overspend)",
                        *(by_line[k]["variance"] for k in keys),
                        total("variance"),
                    ],
                    kinds,
                ),
                cells(
                    [
                        "Variance after pension (negative = overspend)",
                        *(by_line[k]["variance_after_pension"] for k in keys),
                        total("variance_after_pension"),
                    ],
                    kinds,
                ),
            ],
            source="mart_service_line_budget_outturn",
            caption="The pension funding shared between the service lines",
        )
    )
    labels = [dict(LINES)[k] for k in keys]
    doc.add(
        Figure(
            charts.bar_chart(
                labels,
                {
                    "Budget incl. pension": [
                        by_line[k]["total_budget"] + by_line[k]["pension_allocation"] for k in keys
                    ],
                    "Outturn (High Needs)": [by_line[k]["outturn"] for k in keys],
                },
                f"Budget and outturn by service line, {fy}",
            ),
            "Budget (with the line's pension allocation) against outturn per service line.",
            source="mart_service_line_budget_outturn",
        )
    )


def _expenditure(doc: Document, release: PublishedRelease, fy: str) -> None:
    rows = release.records(
        "select service_line, expenditure_category, amount, share_pct from mart_expenditure_breakdown "
        "where financial_year = ? order by service_line, expenditure_category",
        [fy],
    )
    doc.add(Heading("Expenditure breakdown"))
    doc.add(
        Paragraph(
            "Spend per service line by expenditure category (income excluded), with each category's share."
        )
    )
    kinds = ["text", "text", "money", "percent"]
    doc.add(
        Table(
            ["Service line", "Category", "Amount", "Share of line"],
            [
                cells([r["service_line"], r["expenditure_category"], r["amount"], r["share_pct"]], kinds)
                for r in rows
            ],
            source="mart_expenditure_breakdown",
        )
    )
    categories = sorted({r["expenditure_category"] for r in rows})
    lines = [k for k, _ in LINES if any(r["service_line"] == k for r in rows)]
    amounts = {(r["service_line"], r["expenditure_category"]): r["amount"] for r in rows}
    doc.add(
        Figure(
            charts.bar_chart(
                [c.replace("_", " ").title() for c in categories],
                {dict(LINES)[line]: [amounts.get((line, c), 0) for c in categories] for line in lines},
                f"Expenditure by category, {fy}",
            ),
            "Spend by expenditure category and service line.",
            source="mart_expenditure_breakdown",
        )
    )


# --- optional sections -----------------------------------------------------------------


def _kind(name: str, values: list[Any]) -> str:
    sample = next((v for v in values if v is not None), None)
    if isinstance(sample, bool) or sample is None or isinstance(sample, str):
        return "text"
    if isinstance(sample, int):
        return "count"
    if isinstance(sample, Decimal):
        if sample.as_tuple().exponent == -2 and not any(h in name for h in _NOT_MONEY_HINTS):
            return "money"
        return "number"
    return "text"


def _section_rows(release: PublishedRelease, section: Section, fy: str) -> tuple[list[dict[str, Any]], str]:
    import duckdb

    try:
        query = section.query.format(t=f'"{section.table}"')
        return release.records(query, {"fy": fy} if "$fy" in query else None), ""
    except duckdb.Error as error:  # the table's columns are not the ones this section expects
        columns = release.columns(section.table)
        where = "where financial_year = $fy" if "financial_year" in columns else ""
        rows = release.records(f'select * from "{section.table}" {where}', {"fy": fy} if where else {})
        return (
            rows,
            f"Shown as published: the section's layout did not fit this table ({str(error).splitlines()[0]}).",
        )


def _optional_section(doc: Document, release: PublishedRelease, section: Section, fy: str) -> None:
    rows, note = _section_rows(release, section, fy)
    doc.add(Heading(section.title))
    doc.add(Paragraph(section.purpose))
    if note:
        doc.add(Paragraph(note, note=True))
    if not rows:
        doc.add(Paragraph(f"{section.table} has no rows for {fy}.", note=True))
        return
    if section.split and section.split in rows[0] and not note:
        groups: dict[Any, list[dict[str, Any]]] = {}
        for row in rows:
            groups.setdefault(row[section.split], []).append(row)
        for group, members in groups.items():
            _pivot_group(doc, section, group, members, fy)
        return
    columns = list(rows[0])[:10]
    kinds = [_kind(c, [r[c] for r in rows]) for c in columns]
    body = [cells([r[c] for c in columns], kinds) for r in rows[:MAX_TABLE_ROWS]]
    total_rows = 0
    if section.totals and len(rows) <= MAX_TABLE_ROWS and "money" in kinds:
        total = [
            sum((r[c] or Decimal(0) for r in rows), Decimal("0.00")) if k == "money" else None
            for c, k in zip(columns, kinds, strict=True)
        ]
        total[0] = "Total"
        body.append(cells(total, ["text", *kinds[1:]]))
        total_rows = 1
    doc.add(Table([c.replace("_", " ") for c in columns], body, source=section.table, total_rows=total_rows))
    if len(rows) > MAX_TABLE_ROWS:
        doc.add(
            Paragraph(
                f"The first {MAX_TABLE_ROWS} of {len(rows)} rows; every row is in the published {section.table}.",
                note=True,
            )
        )
    if not note:
        figure = _chart(section, rows, fy)
        if figure is not None:
            doc.add(figure)


def _pivot_group(doc: Document, section: Section, group: Any, rows: list[dict[str, Any]], fy: str) -> None:
    """Long rows (unit, measure, value) as one table per structure: a row per unit, a column per measure."""
    measures = list(dict.fromkeys(r["measure_name"] for r in rows))[:8]
    units = list(dict.fromkeys(r[section.label] for r in rows))
    values = {(r[section.label], r["measure_name"]): r["value"] for r in rows}
    kinds = ["text"] + [
        _kind(m.lower().replace(" ", "_"), [values.get((u, m)) for u in units]) for m in measures
    ]
    body = [cells([unit, *(values.get((unit, m)) for m in measures)], kinds) for unit in units]
    doc.add(
        Table([str(group).title(), *measures], body, source=section.table, caption=f"By {str(group).lower()}")
    )
    charted = measures[:2]
    png = charts.bar_chart(
        [str(u) for u in units],
        {m: [values.get((u, m)) or 0 for u in units] for m in charted},
        f"{', '.join(charted)} by {str(group).lower()}, {fy}",
    )
    doc.add(Figure(png, f"{', '.join(charted)} by {str(group).lower()}.", section.table))


def _chart(section: Section, rows: list[dict[str, Any]], fy: str) -> Figure | None:
    values = [v for v in section.values if v in rows[0]]
    if section.chart == "none" or not values:
        return None
    if section.chart == "line":
        xs = sorted({str(r[section.x]) for r in rows})
        names = sorted({str(r[section.series]) for r in rows}) if section.series else [values[0]]
        series: dict[str, list[Any]] = {}
        for name in names:
            totals = dict.fromkeys(xs, Decimal(0))
            for r in rows:
                if section.series is None or str(r[section.series]) == name:
                    totals[str(r[section.x])] += r[values[0]] or 0
            series[name] = [totals[x] for x in xs]
        title = f"{values[0].replace('_', ' ')} by {section.x.replace('_', ' ')}"
        png = charts.line_chart(xs, series, title, money=section.money_chart)
        return Figure(png, f"{title}.", section.table)
    labels = list(dict.fromkeys(str(r[section.label]) for r in rows))
    bars: dict[str, list[Any]] = {}
    for value in values:
        sums = dict.fromkeys(labels, Decimal(0))
        for r in rows:
            sums[str(r[section.label])] += r[value] or 0
        bars[value.replace("_", " ")] = [sums[label] for label in labels]
    reference = None
    if section.reference and rows[0].get(section.reference) is not None:
        reference = (section.reference.replace("_", " "), rows[0][section.reference])
    png = charts.bar_chart(
        labels, bars, f"{section.title}, {fy}", money=section.money_chart, reference=reference
    )
    return Figure(png, f"{', '.join(bars)} by {section.label.replace('_', ' ')}.", section.table)
