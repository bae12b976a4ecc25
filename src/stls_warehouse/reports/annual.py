"""The annual financial review for the Schools Funding Forum, as HTML and PDF.

Produced only for a complete year (every expected return accepted or waived: see
`quality/completeness.py`). Sections: the seed's budget-versus-outturn table, the expenditure
breakdown, then one section per finance or KPI table the release publishes (overhead
standardisation, core and outreach, pension allocation, formula allocation, inflation
options, KPIs, value for money, district and area structures). A section whose table is not
in the release is left out and the report says so. Every figure is read from the release.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypedDict

from stls_warehouse.catalog import kind_for_unit, table_doc
from stls_warehouse.config import Paths
from stls_warehouse.files import atomic_path, write_text_atomically
from stls_warehouse.quality.completeness import require_year_complete, year_completeness
from stls_warehouse.reference import category_names, service_line_names, sla_label
from stls_warehouse.reports import charts
from stls_warehouse.reports.document import (
    Cell,
    Document,
    Figure,
    Heading,
    Paragraph,
    Table,
    cells,
    display,
    millions,
    render_html,
    render_pdf,
)
from stls_warehouse.reports.source import PublishedRelease

# (DISTRICT, District STLS), ...: the service lines in words, from their seed (ref_service_lines)
LINES = tuple(service_line_names().items())
# Variance is budget - outturn: the sign is printed with it wherever it is shown, so that an
# underspend is never read as an overspend (KCC's monitoring reports an overspend as positive).
VARIANCE_LABEL = "Variance (negative = overspend)"
TRADED_LABEL = "Traded work, net (not in outturn)"
MAX_TABLE_ROWS = 40
# Columns the sections compute themselves (not a published column): their kind and header.
COMPUTED = {"green": ("count", "Green"), "amber": ("count", "Amber"), "red": ("count", "Red")}
# Code columns shown as words: the SLA register's names, the service lines' and categories'.
WORDED = {"sla_code": "SLA", "service_line": "Service line", "expenditure_category": "Category"}
# Rule and strand codes with no name in a seed: spelled out (PERCENT_OF_DIRECT_STAFFING ->
# Percent of direct staffing); the exact code stays the cell's value.
SPELLED_OUT = ("overhead_rule", "basis_method", "fund_strand")


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
    hidden: tuple[str, ...] = ()  # columns the query needs (a unit, a flag) but the table does not show


SECTIONS = (
    Section(
        "mart_sla_value_options",
        "SLA value: historic budget against forecast cost",
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
        "Overhead standardisation",
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
        "Core and outreach",
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
        "Formula allocation against historic allocation",
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
        "Inflation options over the SLA term",
        "The value of all SLAs in each financial year of the term, for fixed cash and each indexation option.",
        "select option_name, financial_year, sum(financial_year_value) as financial_year_value, "
        "sum(difference_from_fixed_cash) as difference_from_fixed_cash, "
        "max(months_in_term) as months_in_term from {t} "
        "group by all order by option_name, financial_year",
        chart="line",
        values=("financial_year_value",),
        series="option_name",
        hidden=("months_in_term",),
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
        label="kpi_name",
        values=("green", "amber", "red"),
        money_chart=False,
        chart="rag",
        hidden=("kpi_code", "unit"),
    ),
    Section(
        "mart_value_for_money",
        "Value for money",
        "Total High Needs cost per referral, per child in intensive support and per training attendee, "
        "against the median of the district SLAs.",
        "select sla_code, cost, referrals, cost_per_referral, county_median_cost_per_referral, "
        "cost_per_child_supported, cost_per_training_attendee from {t} where financial_year = $fy "
        "order by sla_code",
        values=("cost_per_referral",),
        reference="county_median_cost_per_referral",
    ),
    Section(
        "mart_structure_comparison",
        "District and area structures",
        "The finance measures rolled up to the 12 districts and to the 4 areas, side by side, with how "
        "many of the unit's SLAs each value covers.",
        "select geography_level, geography_name, measure_name, unit, value from {t} "
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
            f"For the Schools Funding Forum. Figures as published on {published_on(release)}. "
            f"{status.explain()}. Money to the nearest pound."
        ),
        footer=(
            f"STLS finance warehouse, release {release.release_id}. Every figure is read from the "
            "published tables named with each table."
        ),
    )
    doc.add(Paragraph(headline(release, financial_year), lead=True))
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


def published_on(release: PublishedRelease) -> str:
    """`4 December 2026 at 16:53 UTC`: when the release the figures come from was published."""
    from datetime import datetime

    stamp = datetime.fromisoformat(str(release.manifest["published_at"]))
    return f"{stamp.day} {stamp:%B %Y} at {stamp:%H:%M} UTC"


def headline(release: PublishedRelease, fy: str) -> str:
    """What matters in one paragraph: spend against budget with pension, and which lines overspent."""
    rows = release.records(
        "select * from mart_service_line_budget_outturn where financial_year = ? order by service_line", [fy]
    )
    if not rows:
        return f"{fy}: the published tables hold no budget or outturn for this year."
    budget = sum((r["total_budget"] + r["pension_allocation"] for r in rows), Decimal(0))
    outturn = sum((r["outturn"] for r in rows), Decimal(0))
    gap = outturn - budget
    share = (abs(gap) / budget * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP) if budget else None
    over = [service_line_names().get(r["service_line"], r["service_line"]) for r in rows if r["variance"] < 0]
    if gap > 0:
        verdict = f"{millions(gap)} ({share}%) over budget"
    elif gap < 0:
        verdict = f"{millions(-gap)} ({share}%) under budget"
    else:
        verdict = "exactly on budget"
    if len(over) == len(rows):
        lines = f"all {_count_word(len(rows))} service lines overspent"
    elif over:
        lines = f"{_join(over)} overspent; the other service lines did not"
    else:
        lines = "no service line overspent"
    text = (
        f"{fy}: the service spent {millions(outturn)} against a budget of {millions(budget)} including "
        f"pension funding: {verdict}; {lines}."
    )
    traded = sum((r.get("traded_net") or Decimal(0) for r in rows), Decimal(0))
    if traded:
        text += f" Traded services, paid for by their buyers, netted {millions(traded)} beside this."
    return text


def _count_word(n: int) -> str:
    return {2: "two", 3: "three", 4: "four"}.get(n, str(n))


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


class AnnualReportFiles(TypedDict):
    html: str
    pdf: str
    release_id: str
    financial_year: str


def write_annual_report(home: Paths, financial_year: str) -> AnnualReportFiles:
    """Write `reports/annual/annual_review_<year>.html` and `.pdf` for a complete year."""
    with PublishedRelease(home) as release:
        doc = build_annual_document(release, financial_year)
        release_id = release.release_id
    folder = home.reports / "annual"
    folder.mkdir(parents=True, exist_ok=True)
    html_target = folder / f"annual_review_{financial_year}.html"
    pdf_target = folder / f"annual_review_{financial_year}.pdf"
    html = render_html(doc)
    with atomic_path(pdf_target) as tmp_pdf:
        render_pdf(doc, tmp_pdf)
    write_text_atomically(html_target, html)
    return {
        "html": str(html_target),
        "pdf": str(pdf_target),
        "release_id": release_id,
        "financial_year": financial_year,
    }


# --- fixed sections ---------------------------------------------------------------------


def _budget_outturn(doc: Document, release: PublishedRelease, fy: str) -> None:
    rows = release.records("select * from mart_service_line_budget_outturn where financial_year = ?", [fy])
    names = service_line_names()
    by_line = {r["service_line"]: r for r in rows}
    keys = [k for k in names if k in by_line]

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
            [
                "Variance (negative = overspend)",
                *(by_line[k]["variance"] for k in keys),
                total("variance_after_pension"),
            ],
            kinds,
        ),
    ]
    traded = "traded_net" in (rows[0] if rows else {})
    if traded:
        table.append(
            cells([TRADED_LABEL, *(by_line[k]["traded_net"] for k in keys), total("traded_net")], kinds)
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
                if traded
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
                f"Pension funding not allocated: {display(unallocated, 'money')}. The year it is shared by "
                "(its basis year) has no ledger returns in the warehouse, so it is not shared between the "
                "service lines (the data quality results carry the warning); the variance after pension "
                "does not include it.",
                note=True,
            )
        )
    header = [fy, *(names[k] for k in keys), "Total"]
    doc.add(Table(header, table, source="mart_service_line_budget_outturn", total_rows=3 if traded else 2))
    doc.add(
        Table(
            header,
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
    labels = [names[k] for k in keys]
    with_pension = [by_line[k]["total_budget"] + by_line[k]["pension_allocation"] for k in keys]
    outturns = [by_line[k]["outturn"] for k in keys]
    doc.add(
        Figure(
            charts.bar_chart(
                labels,
                {"Budget including pension": with_pension, "Outturn": outturns},
                f"Budget and outturn by service line, {fy}",
            ),
            "Budget (with the line's pension allocation) against outturn per service line.",
            source="mart_service_line_budget_outturn",
            alt=f"Bar chart of budget including pension against outturn, {fy}: "
            + "; ".join(
                f"{label} budget {display(b, 'money')}, outturn {display(o, 'money')}"
                for label, b, o in zip(labels, with_pension, outturns, strict=True)
            )
            + ".",
        )
    )


def _expenditure(doc: Document, release: PublishedRelease, fy: str) -> None:
    rows = release.records(
        "select service_line, expenditure_category, amount, share_pct from mart_expenditure_breakdown "
        "where financial_year = ? order by service_line, expenditure_category",
        [fy],
    )
    lines, categories_in_words = service_line_names(), category_names()
    order = list(categories_in_words)
    rows.sort(
        key=lambda r: (
            list(lines).index(r["service_line"]) if r["service_line"] in lines else 99,
            order.index(r["expenditure_category"]) if r["expenditure_category"] in order else 99,
        )
    )
    doc.add(Heading("Expenditure breakdown"))
    doc.add(
        Paragraph(
            "Spend per service line by expenditure category (income excluded), with each category's share."
        )
    )
    kinds = ["text", "text", "money", "percentage"]
    doc.add(
        Table(
            ["Service line", "Category", "Amount", "Share of the line's spend"],
            [
                cells(
                    [
                        Worded(r["service_line"], lines.get(r["service_line"], r["service_line"])),
                        Worded(
                            r["expenditure_category"],
                            categories_in_words.get(r["expenditure_category"], r["expenditure_category"]),
                        ),
                        r["amount"],
                        r["share_pct"],
                    ],
                    kinds,
                )
                for r in rows
            ],
            source="mart_expenditure_breakdown",
        )
    )
    categories = [c for c in order if any(r["expenditure_category"] == c for r in rows)]
    present = [k for k in lines if any(r["service_line"] == k for r in rows)]
    amounts = {(r["service_line"], r["expenditure_category"]): r["amount"] for r in rows}
    doc.add(
        Figure(
            charts.bar_chart(
                [categories_in_words[c] for c in categories],
                {lines[line]: [amounts.get((line, c), 0) for c in categories] for line in present},
                f"Expenditure by category, {fy}",
            ),
            "Spend by expenditure category and service line.",
            source="mart_expenditure_breakdown",
            alt=f"Bar chart of spend by expenditure category for each service line, {fy}: "
            + "; ".join(
                f"{lines[line]}: "
                + ", ".join(
                    f"{categories_in_words[c]} {display(amounts.get((line, c)), 'money')}" for c in categories
                )
                for line in present
            )
            + ".",
        )
    )


class Worded(str):
    """A code shown as words (`Ashford STLS (ASH)`) whose exact value stays the code."""

    code: str

    def __new__(cls, code: str, words: str) -> Worded:
        made = super().__new__(cls, words)
        made.code = code
        return made


# --- optional sections -----------------------------------------------------------------


def _word(column: str, value: Any) -> Any:
    if value is not None and column in SPELLED_OUT:
        return Worded(value, str(value).replace("_", " ").capitalize())
    if value is None or column not in WORDED:
        return value
    if column == "sla_code":
        return Worded(value, sla_label(value))
    if column == "service_line":
        return Worded(value, service_line_names().get(value, value))
    return Worded(value, category_names().get(value, value))


def _column_kind(table: str, column: str) -> str:
    if column in COMPUTED:
        return COMPUTED[column][0]
    doc = table_doc(table).column(column)
    return doc.kind


def _header(table: str, column: str) -> str:
    if column in COMPUTED:
        return COMPUTED[column][1]
    if column in WORDED:
        return WORDED[column]
    return table_doc(table).column(column).label


def _row_cells(table: str, columns: list[str], row: dict[str, Any]) -> list[Cell]:
    out = []
    for column in columns:
        kind = _column_kind(table, column)
        if kind == "by_unit":
            kind = kind_for_unit(row.get("unit"))
        out.append(Cell(_word(column, row[column]), kind))
    return out


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
    columns = [c for c in rows[0] if c not in section.hidden][:10]
    body = [_row_cells(section.table, columns, r) for r in rows[:MAX_TABLE_ROWS]]
    kinds = [_column_kind(section.table, c) for c in columns]
    total_rows = 0
    if section.totals and len(rows) <= MAX_TABLE_ROWS and "money" in kinds:
        total = [
            sum((r[c] or Decimal(0) for r in rows), Decimal("0.00")) if k == "money" else None
            for c, k in zip(columns, kinds, strict=True)
        ]
        total[0] = "Total"
        body.append(cells(total, ["text", *(k if k == "money" else "text" for k in kinds[1:])]))
        total_rows = 1
    doc.add(
        Table([_header(section.table, c) for c in columns], body, source=section.table, total_rows=total_rows)
    )
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
    unit_of = {r["measure_name"]: r.get("unit") for r in rows}
    kinds = ["text"] + [kind_for_unit(unit_of[m]) for m in measures]
    body = [cells([unit, *(values.get((unit, m)) for m in measures)], kinds) for unit in units]
    level = str(group).lower()
    doc.add(Table([str(group).title(), *measures], body, source=section.table, caption=f"By {level}"))
    charted = [m for m in measures if kind_for_unit(unit_of[m]) == "money"][:2]
    if not charted:
        return
    png = charts.bar_chart(
        [str(u) for u in units],
        {m: [values.get((u, m)) or 0 for u in units] for m in charted},
        f"{' and '.join(charted)} by {level}, {fy}",
    )
    doc.add(
        Figure(
            png,
            f"{' and '.join(charted)} by {level}.",
            section.table,
            alt=f"Bar chart of {' and '.join(charted).lower()} for each {level}, {fy}: "
            + "; ".join(
                f"{u} " + ", ".join(display(values.get((u, m)), "money") for m in charted) for u in units
            )
            + ".",
        )
    )


def _chart(section: Section, rows: list[dict[str, Any]], fy: str) -> Figure | None:
    values = [v for v in section.values if v in rows[0]]
    if section.chart == "none" or not values:
        return None
    if section.chart == "rag":
        names = [str(r[section.label]) for r in rows]
        counts = {name.title(): [int(r[name] or 0) for r in rows] for name in ("red", "amber", "green")}
        png = charts.rag_chart(names, counts, f"KPIs: SLAs red, amber and green, year to date, {fy}")
        alt = (
            f"Bar chart of how many SLAs are red, amber and green on each KPI, year to date, {fy}: "
            + "; ".join(
                f"{r[section.label]}: {r['red']} red, {r['amber']} amber, {r['green']} green" for r in rows
            )
        )
        return Figure(
            png,
            "SLAs red, amber and green on each KPI (R, A, G and the count on each bar).",
            section.table,
            alt=alt + ".",
        )
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
        months = {str(r[section.x]): r.get("months_in_term") for r in rows}
        part_years = {x: f"part year: {m} months" for x, m in months.items() if m is not None and m < 12}
        label = _header(section.table, values[0])
        title = f"{label} by financial year, each option"
        png = charts.line_chart(xs, series, title, money=section.money_chart, part_years=part_years)
        caption = f"{label} by financial year for each option."
        if part_years:
            caption += (
                " Shaded years are part years of the term ("
                + ", ".join(f"{x}: {m}" for x, m in part_years.items())
                + "), so their values are lower."
            )
        alt = f"Line chart of {label.lower()} by financial year for each option: " + "; ".join(
            f"{name} " + ", ".join(f"{x} {display(v, 'money')}" for x, v in zip(xs, vals, strict=True))
            for name, vals in series.items()
        )
        return Figure(png, caption, section.table, alt=alt + ".")
    labels = list(dict.fromkeys(str(_word(section.label, r[section.label])) for r in rows))
    bars: dict[str, list[Any]] = {}
    for value in values:
        sums = dict.fromkeys(labels, Decimal(0))
        for r in rows:
            sums[str(_word(section.label, r[section.label]))] += r[value] or 0
        bars[_header(section.table, value)] = [sums[label] for label in labels]
    reference = None
    if section.reference and rows[0].get(section.reference) is not None:
        reference = (_header(section.table, section.reference), rows[0][section.reference])
    png = charts.bar_chart(
        labels, bars, f"{section.title}, {fy}", money=section.money_chart, reference=reference
    )
    what = " and ".join(bars).lower()
    alt = f"Bar chart of {what} for each {_header(section.table, section.label).lower()}, {fy}: " + "; ".join(
        f"{label} " + ", ".join(display(bars[b][i], "money") for b in bars) for i, label in enumerate(labels)
    )
    if reference is not None:
        alt += f"; dashed line: {reference[0].lower()} {display(reference[1], 'money')}"
    return Figure(
        png,
        f"{', '.join(bars)} by {_header(section.table, section.label).lower()}.",
        section.table,
        alt=alt + ".",
    )
