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
        "overhead_difference, overhead_direction, is_flagged from marts.mart_overhead_standardisation",
    )
    assert len(rows) == 14 * 4
    flagged = below = 0
    for sla, year, staffing, charge, standard, difference, direction, is_flagged in rows:
        key = (sla, year)
        expected_standard = half_up(Decimal("0.06") * direct[key])
        assert (staffing, charge, standard) == (direct[key], charged[key], expected_standard), key
        assert difference == charged[key] - expected_standard
        gap = abs(difference)
        # The rule (flag_when ABOVE) flags charging more than the standard, never less.
        assert is_flagged == (difference > 0 and (gap * 100 > 10 * expected_standard or gap > 5000)), key
        assert direction == (
            "ABOVE_STANDARD" if difference > 0 else "BELOW_STANDARD" if difference < 0 else "AT_STANDARD"
        ), key
        flagged += is_flagged
        below += direction == "BELOW_STANDARD"
    # The holder schools charge in four different ways (generator profiles): some charge
    # more than the standard (flagged), some less (shown, not flagged).
    assert 0 < flagged < len(rows)
    assert below > 0


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
        "outreach_spent_on_core, activity_adjusted_spend, unclassified_line_count, "
        "is_activity_fully_classified from marts.mart_core_outreach_separation",
    )
    assert len(rows) == 14 * 4 * 4
    for sla, year, strand, budget, amount, variance, on_core, adjusted, unclassified, classified in rows:
        # Every generated cost centre names its activity: nothing is hidden as unclassified.
        assert (unclassified, classified) == (0, True), (sla, year, strand)
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
        if line.fund_strand != "TRADED":  # High Needs money, as the outturn
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


def test_value_for_money_unit_costs_and_district_median(
    forum_home: Path, generated: SyntheticReturns
) -> None:
    """Total High Needs cost per referral and per child supported (caseload at the year's
    last month + cases closed), with the median over the 12 district SLAs only."""
    cost: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for line in generated.ledger_lines():
        if line.fund_strand in ("CORE", "OUTREACH", "PENSION"):
            cost[(line.sla_code, line.financial_year)] += line.amount
    referrals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    closed: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    caseload: dict[tuple[str, str], tuple[str, Decimal]] = {}
    for row in generated.kpi_rows():
        month = parse_kpi_month(row.month)
        assert month is not None
        key = (row.sla_code, month.financial_year)
        if row.value is None:
            continue
        if row.kpi_code == "REF_RCVD":
            referrals[key] += row.value
        elif row.kpi_code == "ISS_CLOSED":
            closed[key] += row.value
        elif row.kpi_code == "ISS_OPEN" and (key not in caseload or caseload[key][0] < row.month):
            caseload[key] = (row.month, row.value)
    rows = query(
        forum_home,
        "select sla_code, service_line, financial_year, cost, referrals, cost_per_referral, "
        "county_median_cost_per_referral, cost_per_referral_pct_of_median, children_supported, "
        "cost_per_child_supported, county_median_cost_per_child_supported "
        "from marts.mart_value_for_money",
    )
    assert len(rows) == 14 * 4
    district_costs: dict[tuple[str, str], list[Decimal]] = defaultdict(list)
    for sla, line, year, published_cost, count, unit, _, _, children, per_child, _ in rows:
        key = (sla, year)
        assert published_cost == cost[key] and count == referrals[key], key
        assert children == caseload[key][1] + closed[key], key
        expected = half_up(Fraction(cost[key]) / Fraction(referrals[key]))
        expected_child = half_up(Fraction(cost[key]) / Fraction(children))
        assert (unit, per_child) == (expected, expected_child), key
        if line == "DISTRICT":
            district_costs[("referral", year)].append(expected)
            district_costs[("child", year)].append(expected_child)

    def median(values: list[Decimal]) -> Decimal:
        ordered = sorted(values)
        middle = len(ordered) // 2
        if len(ordered) % 2:
            return ordered[middle]
        return half_up((Fraction(ordered[middle - 1]) + Fraction(ordered[middle])) / 2)

    for sla, line, year, _, _, unit, median_referral, pct, _, _, median_child in rows:
        assert len(district_costs[("referral", year)]) == 12
        assert median_referral == median(district_costs[("referral", year)]), (sla, year)
        assert median_child == median(district_costs[("child", year)]), (sla, year)
        if line == "DISTRICT":
            assert pct == half_up(Fraction(100) * Fraction(unit) / Fraction(median_referral), 1)
        else:  # the countywide services are not compared with the districts
            assert pct is None


def test_outturn_is_high_needs_money_and_traded_work_stands_beside_it(
    forum_home: Path, generated: SyntheticReturns
) -> None:
    """outturn = CORE + OUTREACH + PENSION; traded_net = TRADED, never netting the outturn
    down (traded bespoke training starts in September 2022)."""
    outturn: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    traded: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for line in generated.ledger_lines():
        key = (line.financial_year, reference.slas()[line.sla_code].service_line)
        (traded if line.fund_strand == "TRADED" else outturn)[key] += line.amount
    rows = query(
        forum_home,
        "select financial_year, service_line, total_budget, outturn, traded_net, variance "
        "from marts.mart_service_line_budget_outturn",
    )
    assert len(rows) == 4 * 3
    for year, line, budget, published, traded_net, variance in rows:
        key = (year, line)
        assert (published, traded_net) == (outturn[key], traded[key]), key
        assert variance == budget - outturn[key]
    by_year = {y: sum((traded[(y, line)] for line in reference.SERVICE_LINES), Decimal(0)) for y in YEARS}
    assert by_year["2021-22"] == 0
    # Traded income exceeds its costs: a net credit that used to hide that much overspend.
    assert all(by_year[y] < 0 for y in YEARS[1:])
