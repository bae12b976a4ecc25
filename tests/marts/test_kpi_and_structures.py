"""KPIs and the 12-versus-4 structure roll-ups against plain-Python recomputation from the
generated returns: percentages from summed numerators and denominators, never averaged."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from stls_warehouse import reference
from stls_warehouse.periods import parse_kpi_month
from stls_warehouse.synthetic import KpiRow, SyntheticReturns
from tests.marts.harness import query
from tests.marts.recompute import half_up

pytestmark = pytest.mark.slow


def _month_index(month: str) -> int:
    return int(month[:4]) * 12 + int(month[5:])


def _financial_year(month: str) -> str:
    parsed = parse_kpi_month(month)
    assert parsed is not None
    return parsed.financial_year


def _rows(generated: SyntheticReturns) -> dict[tuple[str, str], dict[str, KpiRow]]:
    table: dict[tuple[str, str], dict[str, KpiRow]] = defaultdict(dict)
    for row in generated.kpi_rows():
        table[(row.sla_code, row.month)][row.kpi_code] = row
    return table


def test_kpi_grid_covers_every_sla_month_and_kpi(forum_home: Path) -> None:
    kpis = len(reference.kpi_definitions())  # 17 of the contract and the optional VISITS, LINK_COVER
    assert kpis == 19
    assert query(forum_home, "select count(*) from marts.mart_kpi_monthly") == [(14 * 48 * kpis,)]


def test_first_contact_ytd_and_rolling_twelve_months_from_counts(
    forum_home: Path, generated: SyntheticReturns
) -> None:
    table = _rows(generated)
    months = sorted({month for _, month in table})
    expected = {}
    for sla in reference.slas():
        for month in months:
            ytd = [
                table[(sla, m)]["FC_IN_TARGET"]
                for m in months
                if _financial_year(m) == _financial_year(month) and m <= month
            ]
            r12 = [
                table[(sla, m)]["FC_IN_TARGET"]
                for m in months
                if 0 <= _month_index(month) - _month_index(m) <= 11
            ]

            def pct(rows: list[KpiRow]) -> Decimal | None:
                num = sum(r.numerator or 0 for r in rows)
                den = sum(r.denominator or 0 for r in rows)
                return half_up(Fraction(100 * num, den), 1) if den else None

            value = table[(sla, month)]["FC_IN_TARGET"].value
            rag = None if value is None else "GREEN" if value >= 90 else "AMBER" if value >= 75 else "RED"
            expected[(sla, month)] = (value, rag, pct(ytd), pct(r12))
    rows = query(
        forum_home,
        "select sla_code, kpi_month, month_value, month_rag, ytd_value, r12_value "
        "from marts.mart_kpi_monthly where kpi_code = 'FC_IN_TARGET'",
    )
    assert {(s, m): (v, rag, y, r) for s, m, v, rag, y, r in rows} == expected


def test_training_evaluation_is_weighted_by_attendees(forum_home: Path, generated: SyntheticReturns) -> None:
    table = _rows(generated)
    totals: dict[tuple[str, str], list[Fraction]] = defaultdict(lambda: [Fraction(0), Fraction(0)])
    for (sla, month), kpis in table.items():
        score, attendees = kpis["TRN_EVAL"].value, kpis["TRN_ATT"].value
        if score is not None and attendees is not None:
            totals[(sla, _financial_year(month))][0] += Fraction(score) * Fraction(attendees)
            totals[(sla, _financial_year(month))][1] += Fraction(attendees)
    rows = query(
        forum_home,
        "select sla_code, financial_year, ytd_value from marts.mart_kpi_monthly "
        "where kpi_code = 'TRN_EVAL' and kpi_month like '%-03'",
    )
    assert len(rows) == 14 * 4
    for sla, year, value in rows:
        weighted, weight = totals[(sla, year)]
        assert value == half_up(weighted / weight, 2), (sla, year)


def test_areas_recompute_percentages_and_sum_money(forum_home: Path, generated: SyntheticReturns) -> None:
    slas = reference.slas()
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for row in generated.kpi_rows():
        sla = slas[row.sla_code]
        if row.kpi_code == "FC_IN_TARGET" and sla.service_line == "DISTRICT":
            key = (sla.area, _financial_year(row.month))
            counts[key][0] += row.numerator or 0
            counts[key][1] += row.denominator or 0
    outturn: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for line in generated.ledger_lines():
        sla = slas[line.sla_code]
        if sla.service_line == "DISTRICT" and line.fund_strand != "TRADED":
            outturn[(sla.area, line.financial_year)] += line.amount
    rows = query(
        forum_home,
        "select geography_name, financial_year, measure_code, value, slas_included, slas_reporting "
        "from marts.mart_structure_comparison where geography_level = 'AREA' "
        "and measure_code in ('FC_IN_TARGET', 'OUTTURN')",
    )
    assert len(rows) == 4 * 4 * 2
    for area, year, measure, value, slas_included, slas_reporting in rows:
        assert slas_included == slas_reporting == 3, area
        if measure == "OUTTURN":
            assert value == outturn[(area, year)]
        else:
            num, den = counts[(area, year)]
            assert value == half_up(Fraction(100 * num, den), 1), (area, year)


def test_districts_and_areas_side_by_side_for_every_measure(forum_home: Path) -> None:
    """Both structures carry the same measures, and every summed measure of an area is its
    districts' total: the two options of consultation question 4.1 A compare like with like."""
    rows = query(
        forum_home,
        "select geography_level, count(distinct geography_code), count(distinct measure_code) "
        "from marts.mart_structure_comparison group by 1 order by 1",
    )
    assert [(level, places) for level, places, _ in rows] == [("AREA", 4), ("DISTRICT", 12)]
    assert rows[0][2] == rows[1][2] >= 15 + 3 + 17 + 2
    mismatched = query(
        forum_home,
        "select a.financial_year, a.measure_code, a.geography_code from "
        "marts.mart_structure_comparison a join ("
        "  select area, financial_year, measure_code, sum(numerator) as numerator, "
        "  sum(denominator) as denominator from marts.mart_structure_comparison "
        "  where geography_level = 'DISTRICT' group by all) d "
        "on a.geography_code = d.area and a.financial_year = d.financial_year "
        "and a.measure_code = d.measure_code "
        "where a.geography_level = 'AREA' and (a.numerator is distinct from d.numerator "
        "or a.denominator is distinct from d.denominator)",
    )
    assert mismatched == []


def test_days_to_first_contact_over_a_year_is_weighted_by_first_contacts(
    forum_home: Path, generated: SyntheticReturns
) -> None:
    """The year-to-date value of the monthly median is sum(median x first contacts) / sum(first
    contacts), first contacts being FC_IN_TARGET's denominator; and it is named so."""
    table = _rows(generated)
    totals: dict[tuple[str, str], list[Fraction]] = defaultdict(lambda: [Fraction(0), Fraction(0)])
    for (sla, month), kpis in table.items():
        days, contacts = kpis["FC_DAYS_MED"].value, kpis["FC_IN_TARGET"].denominator
        if days is not None and contacts is not None:
            totals[(sla, _financial_year(month))][0] += Fraction(days) * contacts
            totals[(sla, _financial_year(month))][1] += contacts
    rows = query(
        forum_home,
        "select sla_code, financial_year, ytd_value, period_value_name from marts.mart_kpi_monthly "
        "where kpi_code = 'FC_DAYS_MED' and kpi_month like '%-03'",
    )
    assert len(rows) == 14 * 4
    for sla, year, value, name in rows:
        weighted, weight = totals[(sla, year)]
        assert value == half_up(weighted / weight, 2), (sla, year)
        assert "weighted by first contacts" in name and "not a median" in name


def test_drop_in_clinics_are_not_rated_in_august(forum_home: Path, generated: SyntheticReturns) -> None:
    """Term-time only: no target in the summer holiday month, so no August RED; the year to
    date is compared with 2 a month over the other months reported."""
    rows = query(
        forum_home,
        "select sla_code, kpi_month, month_value, month_rag, ytd_value, ytd_rag from marts.mart_kpi_monthly "
        "where kpi_code = 'DROPIN_SESS'",
    )
    table = _rows(generated)
    august = [r for r in rows if r[1].endswith("-08")]
    assert len(august) == 14 * 4 and all(rag is None for _, _, _, rag, _, _ in august)
    for sla, month, value, rag, ytd, ytd_rag in rows:
        assert value == table[(sla, month)]["DROPIN_SESS"].value
        if not month.endswith("-08"):
            assert rag == (
                None if value is None else "GREEN" if value >= 2 else "AMBER" if value >= 1 else "RED"
            )
        fy = _financial_year(month)
        rated_months = sum(
            1
            for (s, m), kpis in table.items()
            if s == sla
            and _financial_year(m) == fy
            and m <= month
            and not m.endswith("-08")
            and kpis["DROPIN_SESS"].value is not None
        )
        if rated_months:
            expected = "GREEN" if ytd >= 2 * rated_months else "AMBER" if ytd >= rated_months else "RED"
            assert ytd_rag == expected, (sla, month)


def test_structure_roll_ups_count_the_slas_they_cover(forum_home: Path) -> None:
    """Every row says how many SLAs its value covers; every district SLA sent every return,
    so a unit's ratios cover all its SLAs, and a ratio's numerator is the reporting SLAs'."""
    rows = query(
        forum_home,
        "select geography_level, count(*), count(*) filter (where slas_reporting = slas_included) "
        "from marts.mart_structure_comparison where measure_group in ('FINANCE', 'VALUE_FOR_MONEY') "
        "group by 1 order by 1",
    )
    assert [(level, total == covered) for level, total, covered in rows] == [
        ("AREA", True),
        ("DISTRICT", True),
    ]
