"""Finance marts against the same rules recomputed in plain Python from the generated returns.

The warehouse went through intake and the pipeline's `dbt build`; the expectations come
from `generate_returns()` (the in-memory twin of the files) and the seed parameters, never
from the warehouse.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from stls_warehouse import reference
from stls_warehouse.periods import parse_kpi_month
from stls_warehouse.synthetic import SyntheticReturns
from tests.marts.harness import query
from tests.marts.recompute import half_up, largest_remainder, pennies, pounds

pytestmark = pytest.mark.slow

YEARS = ("2021-22", "2022-23", "2023-24", "2024-25")
PENSION_FUNDING = Decimal("333063.00")


def category(account_code: str) -> str:
    return reference.account_codes()[account_code.upper()].expenditure_category


def activity(cost_centre: str) -> str:
    return cost_centre.split("-")[-1].strip().upper()


def python_pension_allocation(generated: SyntheticReturns) -> dict[str, Decimal]:
    """Default basis: E01 on CORE, OUTREACH and PENSION in 2021-22, largest remainder."""
    basis: dict[str, Decimal] = defaultdict(Decimal)
    for line in generated.ledger_lines():
        if (
            line.financial_year == "2021-22"
            and line.account_code.upper() == "E01"
            and line.fund_strand in ("CORE", "OUTREACH", "PENSION")
        ):
            basis[line.sla_code] += line.amount
    weights = {sla: max(pennies(basis[sla]), 0) for sla in reference.slas()}
    return {sla: pounds(p) for sla, p in largest_remainder(pennies(PENSION_FUNDING), weights).items()}


def test_pension_allocation_is_pensionable_pay_of_2021_22_to_the_penny(
    forum_home: Path, generated: SyntheticReturns
) -> None:
    expected = python_pension_allocation(generated)
    assert sum(expected.values()) == PENSION_FUNDING
    for year in YEARS:
        rows = dict(
            query(
                forum_home,
                "select sla_code, pension_allocation from marts.mart_pension_allocation "
                "where financial_year = ?",
                [year],
            )
        )
        assert rows == expected, year


def test_service_line_pension_is_the_sum_of_its_slas(forum_home: Path, generated: SyntheticReturns) -> None:
    by_sla = python_pension_allocation(generated)
    expected: dict[str, Decimal] = defaultdict(Decimal)
    for sla, amount in by_sla.items():
        expected[reference.slas()[sla].service_line] += amount
    rows = dict(
        query(
            forum_home,
            "select service_line, pension_allocation from marts.mart_service_line_budget_outturn "
            "where financial_year = '2021-22'",
        )
    )
    assert rows == expected


def test_overhead_charged_and_the_six_percent_standard(forum_home: Path, generated: SyntheticReturns) -> None:
    direct: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    charged: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for line in generated.ledger_lines():
        key = (line.sla_code, line.financial_year)
        if line.is_overhead_recharge:
            charged[key] += line.amount
        elif category(line.account_code) == "DIRECT_STAFFING" and line.fund_strand in ("CORE", "OUTREACH"):
            direct[key] += line.amount
    rows = query(
        forum_home,
        "select sla_code, financial_year, direct_staffing, overhead_charged, overhead_standard, "
        "overhead_difference, is_flagged from marts.mart_overhead_standardisation",
    )
    assert len(rows) == 14 * 4
    flagged = 0
    for sla, year, staffing, charge, standard, difference, is_flagged in rows:
        key = (sla, year)
        expected_standard = half_up(Decimal("0.06") * direct[key])
        assert (staffing, charge, standard) == (direct[key], charged[key], expected_standard), key
        assert difference == charged[key] - expected_standard
        gap = abs(difference)
        assert is_flagged == (gap * 100 > 10 * expected_standard or gap > 5000), key
        flagged += is_flagged
    # The holder schools charge in four different ways (generator profiles): most differ.
    assert 0 < flagged < len(rows)


def test_strand_spend_and_outreach_spent_on_core(forum_home: Path, generated: SyntheticReturns) -> None:
    spend: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    outreach_on_core: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for line in generated.ledger_lines():
        spend[(line.sla_code, line.financial_year, line.fund_strand)] += line.amount
        if line.fund_strand == "OUTREACH" and activity(line.cost_centre) == "CORE":
            outreach_on_core[(line.sla_code, line.financial_year)] += line.amount
    pension = python_pension_allocation(generated)
    rows = query(
        forum_home,
        "select sla_code, financial_year, fund_strand, budget, spend, variance, "
        "outreach_spent_on_core, activity_adjusted_spend from marts.mart_core_outreach_separation",
    )
    assert len(rows) == 14 * 4 * 4
    for sla, year, strand, budget, amount, variance, on_core, adjusted in rows:
        plan = reference.budgets()[(sla, year)]
        expected_budget = {
            "CORE": plan.core_budget,
            "OUTREACH": plan.outreach_budget,
            "PENSION": pension[sla],
            "TRADED": Decimal(0),
        }[strand]
        assert budget == expected_budget, (sla, year, strand)
        assert amount == spend[(sla, year, strand)], (sla, year, strand)
        assert variance == expected_budget - amount
        moved = outreach_on_core[(sla, year)]
        if strand == "OUTREACH":
            assert on_core == moved and adjusted == amount - moved
        elif strand == "CORE":
            assert on_core == 0 and adjusted == amount + moved
    # The seed's 6.12: some SLAs use outreach money for core work, others do not.
    assert 0 < sum(1 for v in outreach_on_core.values() if v > 0) < 14 * 4


def test_october_forecast_is_the_seasonal_run_rate(forum_home: Path, generated: SyntheticReturns) -> None:
    """At P7 of 2023-24 each SLA's forecast scales its spend to date by its profile over
    2021-22 and 2022-23 (both complete); in 2021-22 there is no profile: straight line."""
    spend: dict[tuple[str, str, int], Decimal] = defaultdict(Decimal)
    for line in generated.ledger_lines():
        spend[(line.sla_code, line.financial_year, line.period)] += line.amount

    def total(sla: str, years: tuple[str, ...], periods: range) -> Decimal:
        return sum((spend[(sla, y, p)] for y in years for p in periods), Decimal(0))

    rows = query(
        forum_home,
        "select sla_code, financial_year, forecast_method, ytd_actual, forecast_outturn, "
        "historic_budget - forecast_outturn, forecast_variance from marts.mart_sla_value_options "
        "where period = 7 and financial_year in ('2021-22', '2023-24')",
    )
    assert len(rows) == 28
    for sla, year, method, ytd, forecast, variance, published_variance in rows:
        assert ytd == total(sla, (year,), range(1, 8))
        if year == "2021-22":
            assert method == "STRAIGHT_LINE"
            assert forecast == half_up(Fraction(ytd) * 12 / 7), sla
        else:
            profile = ("2021-22", "2022-23")
            annual = total(sla, profile, range(1, 14))
            to_date = total(sla, profile, range(1, 8))
            assert method == "SEASONAL_RUN_RATE"
            assert forecast == half_up(Fraction(ytd) * Fraction(annual) / Fraction(to_date)), sla
        assert variance == published_variance


def test_value_for_money_unit_costs_and_county_median(forum_home: Path, generated: SyntheticReturns) -> None:
    cost: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for line in generated.ledger_lines():
        if line.fund_strand in ("CORE", "OUTREACH", "PENSION"):
            cost[(line.sla_code, line.financial_year)] += line.amount
    referrals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in generated.kpi_rows():
        month = parse_kpi_month(row.month)
        assert month is not None
        if row.kpi_code == "REF_RCVD" and row.value is not None:
            referrals[(row.sla_code, month.financial_year)] += row.value
    rows = query(
        forum_home,
        "select sla_code, financial_year, cost, referrals, cost_per_referral, "
        "county_median_cost_per_referral from marts.mart_value_for_money",
    )
    assert len(rows) == 14 * 4
    unit_costs: dict[str, list[Decimal]] = defaultdict(list)
    for sla, year, published_cost, count, unit, _ in rows:
        key = (sla, year)
        assert published_cost == cost[key] and count == referrals[key], key
        expected = half_up(Fraction(cost[key]) / Fraction(referrals[key]))
        assert unit == expected, key
        unit_costs[year].append(expected)
    for sla, year, *_, median in rows:
        ordered = sorted(unit_costs[year])
        middle = len(ordered) // 2
        expected_median = (
            ordered[middle]
            if len(ordered) % 2
            else half_up((Fraction(ordered[middle - 1]) + Fraction(ordered[middle])) / 2)
        )
        assert median == expected_median, (sla, year)
