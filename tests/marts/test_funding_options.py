"""The formula and inflation marts against the rules recomputed in plain Python from the
seeds (the configuration) and the SLA budgets: every scenario, district, option and year,
to the penny."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from stls_warehouse import reference
from tests.marts.harness import query
from tests.marts.recompute import (
    damp,
    financial_year_label,
    half_up,
    largest_remainder,
    pennies,
    pounds,
    seed_rows,
)

pytestmark = pytest.mark.slow


def python_formula() -> dict[tuple[str, str, str], tuple[Decimal, Decimal]]:
    """(scenario, district ONS code, year) -> (target, damped allocation)."""
    districts = {
        sla.district_ons_code: code
        for code, sla in reference.slas().items()
        if sla.service_line == "DISTRICT" and sla.district_ons_code
    }
    budgets = reference.budgets()
    indicators = seed_rows("ref_formula_indicators")
    expected = {}
    for scenario in seed_rows("ref_formula_scenarios"):
        code = scenario["scenario_code"]

        def budget_of(sla: str, year: str, scenario: dict[str, str] = scenario) -> int:
            plan = budgets[(sla, year)]
            return pennies(plan.core_budget if scenario["budget_component"] == "CORE" else plan.total)

        weights = {
            row["factor_code"]: int(Decimal(row["weight"]) * 10000)
            for row in seed_rows("ref_formula_weights")
            if row["scenario_code"] == code
        }
        lump = pennies(Decimal(scenario["lump_sum_per_district"]))
        glide = int(scenario["glide_years"])
        historic = {
            ons: budget_of(sla, scenario["baseline_financial_year"]) for ons, sla in districts.items()
        }
        base = dict(historic)
        first = int(scenario["first_financial_year"][:4])
        for term_year in range(1, int(scenario["term_years"]) + 1):
            year = financial_year_label(first + term_year - 1)
            day = date(first + term_year - 1, 4, 1).isoformat()
            budget = sum(budget_of(sla, year) for sla in districts.values())
            pots = largest_remainder(budget - len(districts) * lump, weights)
            targets = dict.fromkeys(districts, lump)
            for factor, pot in pots.items():
                values = {ons: 0 for ons in districts}
                for row in indicators:
                    if row["factor_code"] == factor and row["valid_from"] <= day <= row["valid_to"]:
                        values[row["district_ons_code"]] = int(Decimal(row["factor_value"]) * 100)
                for ons, share in largest_remainder(pot, values).items():
                    targets[ons] += share
            aims = {
                ons: historic[ons]
                + int(half_up(Fraction(targets[ons] - historic[ons]) * min(term_year, glide) / glide, 0))
                for ons in districts
            }
            allocation = damp(
                base, aims, budget, Decimal(scenario["floor_pct"]), Decimal(scenario["cap_pct"])
            )
            for ons in districts:
                expected[(code, ons, year)] = (pounds(targets[ons]), pounds(allocation[ons]))
            base = allocation
    return expected


def test_formula_allocation_matches_python_for_every_scenario(forum_home: Path) -> None:
    expected = python_formula()
    rows = query(
        forum_home,
        "select scenario_code, district_ons_code, financial_year, target_allocation, "
        "damped_allocation from marts.mart_formula_allocation",
    )
    got = {(s, d, y): (t, a) for s, d, y, t, a in rows}
    assert got == expected
    # 3 scenarios x 12 districts x a 3-year term.
    assert len(got) == 3 * 12 * 3


def test_formula_damping_moves_districts_towards_their_targets(forum_home: Path) -> None:
    rows = query(
        forum_home,
        "select financial_year, sum(damped_allocation), max(budget), "
        "count(*) filter (where is_floor_applied), count(*) filter (where is_cap_applied), "
        "count(*) filter (where abs(damped_allocation - target_allocation) "
        "< abs(historic_allocation - target_allocation) - 0.005) "
        "from marts.mart_formula_allocation where is_default_scenario group by 1 order by 1",
    )
    assert [r[0] for r in rows] == ["2022-23", "2023-24", "2024-25"]
    for year, total, budget, floored, capped, closer in rows:
        assert total == budget == Decimal("3482036.00"), year
        assert floored > 0 and capped > 0, year  # both bind on the synthetic indicators
        assert closer >= 6, year


def _review_rate(index_code: str, day: str) -> Decimal:
    for row in seed_rows("ref_inflation_indices"):
        if row["index_code"] == index_code and row["valid_from"] <= day <= row["valid_to"]:
            return Decimal(row["rate_pct"])
    return Decimal(0)


def python_inflation() -> dict[tuple[str, str, str], tuple[Decimal, Decimal]]:
    """(option, SLA, financial year) -> (financial-year value, value in term)."""
    (term,) = seed_rows("ref_sla_terms")
    start = date.fromisoformat(term["term_start"])
    end = date.fromisoformat(term["term_end"])
    reviews = []
    while date(start.year + len(reviews), start.month, start.day) <= end:
        reviews.append(date(start.year + len(reviews), start.month, start.day))
    components = seed_rows("ref_indexation_option_components")
    expected = {}
    for option in seed_rows("ref_indexation_options"):
        uplifts = [Decimal(0)]
        for review in reviews[1:]:
            uplift = sum(
                (
                    Decimal(c["weight"]) * _review_rate(c["index_code"], review.isoformat())
                    for c in components
                    if c["option_code"] == option["option_code"]
                ),
                Decimal(0),
            )
            # A band by year (the MFG band of the review's year) replaces the option's own.
            band = next(
                (
                    b
                    for b in seed_rows("ref_indexation_option_bands")
                    if b["option_code"] == option["option_code"]
                    and b["valid_from"] <= review.isoformat() <= b["valid_to"]
                ),
                option,
            )
            if band["collar_pct"] and uplift < Decimal(band["collar_pct"]):
                uplift = Decimal(band["collar_pct"])
            if band["cap_pct"] and uplift > Decimal(band["cap_pct"]):
                uplift = Decimal(band["cap_pct"])
            uplifts.append(uplift)
        for sla in reference.slas():
            value = pennies(reference.budgets()[(sla, term["value_financial_year"])].total)
            by_year = {}
            for review, uplift in zip(reviews, uplifts, strict=True):
                value = int(half_up(Fraction(value) * (1 + Fraction(uplift) / 100), 0))
                by_year[review.year] = value
            starting = by_year[start.year]
            for year_start in range(start.year, end.year + 1):
                before = by_year.get(year_start - 1)
                after = by_year.get(year_start, 0)
                in_term = (5 * (before or 0) + 7 * after) / Fraction(12)
                whole = (5 * (before if before is not None else starting) + 7 * after) / Fraction(12)
                expected[(option["option_code"], sla, financial_year_label(year_start))] = (
                    pounds(int(half_up(whole, 0))),
                    pounds(int(half_up(in_term, 0))),
                )
    return expected


def test_inflation_scenarios_match_python(forum_home: Path) -> None:
    expected = python_inflation()
    rows = query(
        forum_home,
        "select option_code, sla_code, financial_year, financial_year_value, value_in_term "
        "from marts.mart_inflation_scenarios",
    )
    assert {(o, s, y): (v, t) for o, s, y, v, t in rows} == expected
    assert len(rows) == 6 * 14 * 4


def test_fixed_cash_is_flat_and_indexation_costs_more(forum_home: Path) -> None:
    rows = query(
        forum_home,
        "select option_code, sum(value_in_term), sum(difference_from_fixed_cash) "
        "from marts.mart_inflation_scenarios group by 1 order by 1",
    )
    totals = {option: (in_term, extra) for option, in_term, extra in rows}
    # Three years of the 2022-23 value (8,201,873) over the term's 36 months, less the
    # pennies of rounding 7/12 and 5/12 of each SLA's value separately.
    assert abs(totals["FIXED_CASH"][0] - Decimal("8201873.00") * 3) <= Decimal("0.01") * 14 * 2
    assert totals["FIXED_CASH"][1] == 0
    # 2023 CPI 10.1 % and 2024 6.7 % are capped at 3 %: 3 % a year from September 2023.
    assert totals["CPI_CAP_3"][1] > 0
    assert totals["PAY_WEIGHTED"][1] > totals["CPI_CAP_5"][1] > totals["CPI_CAP_3"][1]
    assert totals["CPI_CAP_3"][1] > totals["MFG_BAND"][1] > 0
    # The MFG band of each year: +2 % cap in 2022-23, +0.5 % in 2023-24 (September 2023's
    # review), floor +0.5 % in 2024-25 (September 2024's review: CPI 6.7 % passes).
