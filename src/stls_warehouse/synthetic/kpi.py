"""Synthetic monthly KPI returns, valid under spec/returns.md.

Activity follows the school year (August near zero, December and April about two thirds
of a full month), scales with the size of the district (its core + outreach budget),
grows a little each year, and changes shape with the September 2022 redesign (more
drop-in clinics). The intensive-support caseload carries over month to month: open at
month end = previous open + opened - closed, never negative. Percentages carry their
numerator and denominator, and their value is 100 x n / d rounded half-up to one decimal
(empty when the denominator is 0). TRN_EVAL is empty exactly when no training was
delivered. PARENT_SAT, optional in the contract, is sent in July, December and March.
"""

from __future__ import annotations

import random
from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from stls_warehouse import reference
from stls_warehouse.periods import kpi_months
from stls_warehouse.synthetic.allocation import rng
from stls_warehouse.synthetic.ledger import YEARS, calibrated_plans, components, relative_size
from stls_warehouse.synthetic.model import KpiReturn, KpiRow

# Share of a full month's activity, by calendar month.
TERM = {
    4: 0.65,
    5: 1.0,
    6: 1.0,
    7: 0.85,
    8: 0.05,
    9: 0.9,
    10: 1.0,
    11: 1.05,
    12: 0.65,
    1: 0.95,
    2: 0.9,
    3: 1.0,
}
PARENT_SURVEY_MONTHS = (7, 12, 3)
REDESIGN = "2022-09"  # the tiered model: drop-in clinics countywide

# Activity relative to an average district, per service line.
SERVICE_LINE_SCALE = {
    "DISTRICT": {"ref": 1.0, "lift": 1.0, "dropin": 1.0, "iss": 1.0, "trn": 1.0, "ehcna": 1.0},
    "PD": {"ref": 0.6, "lift": 0.3, "dropin": 0.5, "iss": 0.8, "trn": 0.6, "ehcna": 0.3},
    "SENSORY": {"ref": 1.6, "lift": 0.2, "dropin": 0.6, "iss": 2.0, "trn": 0.8, "ehcna": 0.5},
}
# Yearly cost of one FTE in 2021-22, to turn the staffing plan into STAFF_FTE.
COST_PER_FTE_POUNDS = {"teacher": 62_000, "support": 31_000, "admin": 29_000}

COMMENTS = {
    "REF_RCVD": ("Half term in month", "Includes early years referrals", "Spike after LIFT"),
    "FC_DAYS_MED": ("Backlog after the summer break", "One teacher on long-term absence"),
    "LIFT_MTG": ("Summer term LIFT cycle completed", "One meeting cancelled (snow)"),
    "DROPIN_SESS": ("New drop-in venue opened",),
    "TRN_SESS": ("Autumn training programme launched", "Twilight sessions moved online"),
    "STAFF_FTE": (
        "Vacancy being recruited",
        "Maternity leave cover in place",
        "New specialist teacher started",
    ),
    "EHCNA_REQ": ("Figure from the SEN team, may be revised",),
}
COMMENT_RATE = 0.04

_ONE_DP = Decimal("0.1")
_TWO_DP = Decimal("0.01")


def percent(numerator: int, denominator: int) -> Decimal | None:
    """100 x n / d rounded half-up to one decimal, None when d is 0 (the contract's rule)."""
    if denominator == 0:
        return None
    return (Decimal(100 * numerator) / Decimal(denominator)).quantize(_ONE_DP, ROUND_HALF_UP)


def _count(draw: random.Random, mean: float, spread: float = 0.2) -> int:
    if mean <= 0:
        return 0
    return max(0, round(draw.gauss(mean, spread * mean + 0.5)))


def _share(draw: random.Random, total: int, rate: float) -> int:
    rate = min(1.0, max(0.0, draw.gauss(rate, 0.06)))
    return min(total, round(total * rate))


def _base_fte(code: str, seed: int) -> float:
    plan = calibrated_plans(seed)[code]
    return sum(
        sum(plan[comp.key]) / 100 / COST_PER_FTE_POUNDS[comp.kind]
        for comp in components(code, seed)
        if comp.kind in COST_PER_FTE_POUNDS
    )


@cache
def kpi_series(code: str, seed: int) -> dict[str, KpiReturn]:
    """Every month of the generator's years for one SLA, keyed `YYYY-MM`.

    Always built from the first month so the caseload carries over whatever is asked for.
    """
    sla = reference.slas()[code]
    scale = SERVICE_LINE_SCALE[sla.service_line]
    size = relative_size(code) if sla.service_line == "DISTRICT" else 1.0
    definitions = reference.kpi_definitions()
    sla_draw = rng(seed, "kpi-sla", code)
    contact_rate = sla_draw.uniform(0.78, 0.93)
    target_rate = sla_draw.uniform(0.68, 0.88)
    satisfaction = sla_draw.uniform(0.8, 0.94)
    days_bias = sla_draw.uniform(-1.5, 2.5)
    evaluation = sla_draw.uniform(3.9, 4.6)
    base_fte = _base_fte(code, seed)
    open_cases = round(22 * size * scale["iss"] * sla_draw.uniform(0.85, 1.15))
    fte_gap = 0.0

    series: dict[str, KpiReturn] = {}
    for year_index, financial_year in enumerate(YEARS):
        growth = 1 + 0.06 * year_index
        fte_year = base_fte * sla_draw.uniform(0.97, 1.05) ** year_index
        for kpi_month in kpi_months(financial_year):
            month = kpi_month.month
            draw = rng(seed, "kpi", code, kpi_month.key)
            term = TERM[month]
            values: dict[str, tuple[Decimal | int | None, int | None, int | None]] = {}

            referrals = _count(draw, 32 * size * scale["ref"] * term * growth)
            contacts = _count(draw, referrals * 0.95, 0.1) if referrals else _count(draw, 0.5)
            values["REF_RCVD"] = (referrals, None, None)
            days = max(0.0, draw.gauss(8.0 + days_bias + (2.0 if month in (9, 10, 1) else 0), 1.5))
            values["FC_DAYS_MED"] = (Decimal(repr(days)).quantize(_ONE_DP, ROUND_HALF_UP), None, None)
            within = _share(draw, contacts, contact_rate)
            values["FC_IN_TARGET"] = (percent(within, contacts), within, contacts)

            meetings = _count(draw, 4 * scale["lift"] * term * size**0.5, 0.15) if month != 8 else 0
            cases = sum(draw.randint(4, 8) for _ in range(meetings))
            values["LIFT_MTG"] = (meetings, None, None)
            values["LIFT_CASES"] = (cases, None, None)

            clinics_mean = 3.5 if kpi_month.key >= REDESIGN else 1.5
            clinics = _count(draw, clinics_mean * scale["dropin"] * term * size**0.5, 0.25)
            values["DROPIN_SESS"] = (clinics, None, None)
            values["DROPIN_ATT"] = (sum(draw.randint(3, 8) for _ in range(clinics)), None, None)

            opened = _count(draw, 5 * size * scale["iss"] * term * growth, 0.3)
            closing_rate = draw.uniform(0.12, 0.22) * (1.6 if month in (7, 12) else term)
            closed = min(open_cases + opened, round(open_cases * closing_rate))
            open_cases = open_cases + opened - closed
            met = _share(draw, closed, target_rate)
            values["ISS_NEW"] = (opened, None, None)
            values["ISS_OPEN"] = (open_cases, None, None)
            values["ISS_CLOSED"] = (closed, None, None)
            values["ISS_TGT_MET"] = (percent(met, closed), met, closed)

            sessions = _count(draw, 3 * scale["trn"] * term * size**0.5 * growth, 0.35)
            if month == 8:
                sessions = 0
            attendees = sum(draw.randint(8, 20) for _ in range(sessions))
            score = None
            if sessions:
                mean_score = min(5.0, max(1.0, draw.gauss(evaluation, 0.2)))
                score = Decimal(repr(mean_score)).quantize(_TWO_DP, ROUND_HALF_UP)
            values["TRN_SESS"] = (sessions, None, None)
            values["TRN_ATT"] = (attendees, None, None)
            values["TRN_EVAL"] = (score, None, None)

            ehcna = _count(draw, 14 * size * scale["ehcna"] * term * (1 + 0.1 * year_index), 0.25)
            values["EHCNA_REQ"] = (ehcna, None, None)

            if month in PARENT_SURVEY_MONTHS:
                responses = _count(draw, 30 * size**0.5, 0.3)
                satisfied = _share(draw, responses, satisfaction)
                values["PARENT_SAT"] = (percent(satisfied, responses), satisfied, responses)

            if draw.random() < 0.08:  # a vacancy opens, or the last one is filled
                fte_gap = 0.0 if fte_gap else draw.choice((0.4, 0.6, 0.8, 1.0))
            fte = Decimal(repr(max(0.0, fte_year - fte_gap))).quantize(_TWO_DP, ROUND_HALF_UP)
            values["STAFF_FTE"] = (fte, None, None)

            rows = []
            for kpi_code, definition in definitions.items():
                if kpi_code not in values:
                    if definition.required:
                        raise ValueError(f"no synthetic value for required KPI {kpi_code}")
                    continue
                value, numerator, denominator = values[kpi_code]
                comment = ""
                if kpi_code in COMMENTS and draw.random() < COMMENT_RATE:
                    comment = draw.choice(COMMENTS[kpi_code])
                rows.append(
                    KpiRow(
                        sla_code=code,
                        month=kpi_month.key,
                        kpi_code=kpi_code,
                        value=Decimal(value) if isinstance(value, int) else value,
                        numerator=numerator,
                        denominator=denominator,
                        comment=comment,
                    )
                )
            series[kpi_month.key] = KpiReturn(code, kpi_month.key, tuple(rows))
    return series
