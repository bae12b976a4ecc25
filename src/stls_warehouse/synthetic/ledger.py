"""Synthetic ledger lines: what each SLA spends, month by month, and on what.

Cost centres
    `<SLA>-<ACTIVITY>` with ACTIVITY one of CORE, OUTREACH, TRADED (e.g. `SWA-OUTREACH`).
    The fund strand says whose money paid; the cost centre says what work it paid for.
    Outreach money spent on core work - the seed's "using outreach to supplement the core
    budget" - is a line with fund_strand OUTREACH and a `-CORE` cost centre. TPS uplift
    lines (fund_strand PENSION) sit on the cost centre of the team whose pay they uplift.

Overhead recharges
    Every recharge from a holder school is account E28a (bought-in professional services)
    with is_overhead_recharge = yes, fund_strand CORE, cost centre `<SLA>-CORE`. E28a also
    carries genuine bought-in services flagged no (the Sensory team's interpreting), so the
    flag, not the account, identifies a recharge. Each holder charges in its own way
    (profiles.OverheadProfile): a percentage of the month's direct staffing (CORE and
    OUTREACH strands, PENSION excluded), a flat monthly fee, one annual charge in March, or
    nothing.

Calibration
    2021-22 reproduces the 26 Nov 2021 briefing to the penny: the outturn per service line
    and the district split by expenditure category (categories read from the account codes
    seed). Money is allocated top-down in whole pence with largest-remainder rounding:
    service line -> category -> SLA (by a nominal plan: each district's budget times an
    overspend factor) -> component -> month -> line. Recharges are computed first and the
    rest of their category shared out around them.

Account codes
    Follow the CFR list of the line's year (ref_account_codes): ICT spend is posted to bare
    E20 until 2023-24 and to its lettered forms (E20A..E20G) from 2024-25 (cfr_code).

Later years
    Grow from each component's 2021-22 months: teachers' pay awards from September, NJC
    flat awards for support and admin staff (paid late, with an arrears line), CPI on
    non-pay, an energy spike, staffing drift, traded bespoke-training income (account
    I08b, negative) and its costs from September 2022, and P13 year-end adjustments for a
    few SLAs. Their totals are plausible, not targets.
"""

from __future__ import annotations

import calendar
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import cache

from stls_warehouse import reference
from stls_warehouse.periods import LedgerPeriod, parse_financial_year
from stls_warehouse.synthetic.allocation import allocate, pounds, rng, round_pence
from stls_warehouse.synthetic.model import LedgerLine, LedgerReturn
from stls_warehouse.synthetic.profiles import SlaProfile, sla_profiles

YEARS = ("2021-22", "2022-23", "2023-24", "2024-25")
CALIBRATION_YEAR = "2021-22"

# The briefing's 2021-22 forecast outturn (para 6.2) and district mix (para 6.3), in pence.
SERVICE_LINE_OUTTURN_2021_22 = {
    "DISTRICT": 648_879_100,
    "PD": 47_621_700,
    "SENSORY": 207_132_400,
}
DISTRICT_CATEGORY_OUTTURN_2021_22 = {
    "DIRECT_STAFFING": 586_489_100,
    "INDIRECT_STAFFING": 14_390_000,
    "OPERATIONAL": 14_570_000,
    "OTHER": 33_430_000,
}
SPEND_CATEGORIES = tuple(DISTRICT_CATEGORY_OUTTURN_2021_22)

RECHARGE_ACCOUNT = "E28a"
TRADED_INCOME_ACCOUNT = "I08b"
TPS_UPLIFT = 0.072  # the 2019 employer-rate rise (16.48 % -> 23.68 %) the PENSION strand meets

# Indexation for the years after calibration (domain.md section 5.1).
TEACHER_AWARDS = {"2022-23": 0.054, "2023-24": 0.065, "2024-25": 0.055}  # from September
# NJC flat awards as an average uplift, and the period they were first paid (with arrears
# back to April): agreed in November 2022 and 2023, October 2024.
NJC_AWARDS = {"2022-23": (0.080, 9), "2023-24": (0.074, 9), "2024-25": (0.046, 8)}
CPI = {"2022-23": 0.101, "2023-24": 0.067, "2024-25": 0.017}
ENERGY = {"2022-23": 0.55, "2023-24": 0.08, "2024-25": -0.12}
TRADED_START = ("2022-23", 6)  # chargeable bespoke training from September 2022
TRADED_GROWTH = {"2022-23": 1.0, "2023-24": 1.6, "2024-25": 2.1}
FLAT_FEE_UPLIFT = 0.03
P13_SLAS_PER_YEAR = 3

# Weights by period, P1 = April ... P12 = March.
SEASONS = {
    "fixed": (1.0,) * 12,
    "flat": (1.0,) * 12,
    "termtime": (0.8, 1.0, 1.0, 0.9, 0.2, 1.0, 1.1, 1.1, 0.7, 1.0, 1.0, 1.0),
    "resources": (0.6, 0.6, 0.6, 0.5, 0.2, 3.0, 0.8, 0.7, 0.5, 2.5, 0.7, 0.8),
    "winter": (0.8, 0.6, 0.4, 0.4, 0.4, 0.6, 0.9, 1.2, 1.4, 1.5, 1.3, 1.0),
    "quarterly": (0, 0, 1.0, 0, 0, 1.0, 0, 0, 1.0, 0, 0, 1.0),
}
TERM_PERIODS = (1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12)  # all but August

PAYROLL_KINDS = ("teacher", "support", "admin")
STAFF_KINDS = (*PAYROLL_KINDS, "cover")


@dataclass(frozen=True)
class Component:
    """One recurring kind of spend of one SLA: its account, strand, activity and pattern."""

    key: str
    account: str
    strand: str
    activity: str
    kind: str  # teacher, support, admin, cover, tps, nonpay, energy, recharge
    weight: float  # nominal 2021-22 pounds, relative within the SLA
    season: str
    texts: tuple[str, ...]  # payroll: the staff label; others: invoice descriptions
    invoices: int = 1  # at most this many invoices a month
    uplifts: tuple[str, ...] = ()  # tps: the teacher components it uplifts

    @property
    def category(self) -> str:
        return reference.account_codes()[self.account.upper()].expenditure_category


# Staff groups: key, account, kind, share of nominal spend, core label, outreach label.
STAFF = {
    "DISTRICT": (
        ("teachers", "E01", "teacher", 0.55, "specialist teachers", "outreach specialist teachers"),
        ("support", "E03", "support", 0.24, "specialist teaching assistants", "outreach practitioners"),
        ("admin", "E05", "admin", 0.055, "STLS administrator", None),
    ),
    "PD": (
        ("teachers", "E01", "teacher", 0.55, "PD specialist teachers", "PD outreach teachers"),
        ("support", "E03", "support", 0.22, "PD specialist practitioners", "PD outreach practitioners"),
        ("admin", "E05", "admin", 0.06, "PD team administrator", None),
    ),
    "SENSORY": (
        ("tod", "E01", "teacher", 0.31, "Qualified Teachers of the Deaf", None),
        ("tvi", "E01", "teacher", 0.24, "Qualified Teachers of Vision Impairment", None),
        ("habilitation", "E07", "support", 0.05, "habilitation specialists", None),
        ("support", "E03", "support", 0.17, "specialist teaching assistants (sensory)", None),
        ("admin", "E05", "admin", 0.05, "sensory service administrators", None),
    ),
}
OUTREACH_FUNDED_LABEL = "(core caseload)"

# Non-pay: key, account, activity (DUAL = split core/outreach), share, season, invoices, texts.
NONPAY: tuple[tuple[str, str, str, float, str, int, tuple[str, ...]], ...] = (
    (
        "travel",
        "E08",
        "DUAL",
        0.016,
        "termtime",
        2,
        (
            "Mileage claims - {mon}",
            "Staff travel - school visits {mon}",
            "Rail fares and parking - countywide meetings",
            "Mileage - LIFT meetings and drop-ins",
        ),
    ),
    (
        "cpd",
        "E09",
        "CORE",
        0.006,
        "lumpy:4",
        1,
        (
            "CPD - autism accreditation course",
            "Conference fees - SEND conference",
            "CPD - speech, language and communication training",
            "Specialist qualification fees - specialist teacher",
            "CPD - ADOS-2 assessment training",
        ),
    ),
    ("insurance", "E11", "CORE", 0.0015, "annual:1", 1, ("Staff absence insurance premium",)),
    ("office", "E18", "CORE", 0.011, "fixed", 1, ("Office accommodation charge - {mon}",)),
    ("energy", "E16", "CORE", 0.004, "winter", 1, ("Energy recharge - STLS base {mon}",)),
    ("cleaning", "E14", "CORE", 0.003, "fixed", 1, ("Cleaning - STLS office {mon}",)),
    (
        "maintenance",
        "E12",
        "CORE",
        0.002,
        "lumpy:2",
        1,
        (
            "Repairs - STLS office",
            "Redecoration - STLS base",
            "Maintenance - meeting room",
        ),
    ),
    (
        "venues",
        "E18",
        "OUTREACH",
        0.003,
        "termtime",
        2,
        (
            "Venue hire - LIFT meeting",
            "Venue hire - drop-in clinic",
            "Room hire - outreach training",
        ),
    ),
    (
        "resources",
        "E19",
        "DUAL",
        0.02,
        "resources",
        3,
        (
            "Assessment resources",
            "Sensory resources for loan library",
            "Books - SEND practice guides",
            "Reading intervention packs",
            "Visual timetable and communication resources",
            "Fine motor resource kits",
        ),
    ),
    (
        "laptops",
        "E20E",
        "CORE",
        0.006,
        "lumpy:2",
        1,
        (
            "Laptops for specialist teachers",
            "Tablets for assessments",
            "Replacement laptop",
        ),
    ),
    ("it_support", "E20G", "CORE", 0.004, "fixed", 1, ("IT support contract - {mon}",)),
    (
        "software",
        "E20D",
        "CORE",
        0.003,
        "annual:1",
        1,
        (
            "Case management system licence",
            "Online assessment platform subscription",
        ),
    ),
    ("phones", "E20A", "CORE", 0.002, "quarterly", 1, ("Mobile phone contracts - quarter to {mon}",)),
    (
        "supplies",
        "E22",
        "CORE",
        0.004,
        "flat",
        2,
        (
            "Stationery",
            "Printing and photocopying {mon}",
            "Postage",
        ),
    ),
    (
        "consultancy",
        "E27",
        "OUTREACH",
        0.006,
        "lumpy:5",
        1,
        (
            "Educational psychologist time - LIFT",
            "Speech and language therapy advice - outreach",
            "Specialist consultancy - SEMH outreach",
        ),
    ),
)
NONPAY_EXTRA = {
    "PD": (
        (
            "equipment",
            "E24",
            "CORE",
            0.01,
            "lumpy:3",
            2,
            (
                "Specialist seating for loan",
                "Accessible ICT equipment for loan",
            ),
        ),
    ),
    "SENSORY": (
        (
            "equipment",
            "E24",
            "CORE",
            0.012,
            "lumpy:4",
            2,
            (
                "Specialist equipment - radio aids",
                "Specialist equipment - magnifiers",
            ),
        ),
        (
            "hardware",
            "E20F",
            "CORE",
            0.006,
            "lumpy:3",
            1,
            (
                "Radio aid repairs and batteries",
                "Braille embosser maintenance",
            ),
        ),
        (
            "interpreting",
            "E28a",
            "CORE",
            0.006,
            "termtime",
            1,
            (
                "BSL interpreting - family meetings",
                "Braille transcription service",
            ),
        ),
    ),
}
COUNTYWIDE_TRAVEL = 1.8  # countywide teams drive further

TRADED_TEXTS = {
    "DISTRICT": (
        "Bespoke training - autism awareness INSET",
        "Bespoke training - SEMH whole-school",
        "Bespoke training - early years inclusion",
        "Bespoke training - ADHD strategies twilight",
        "Bespoke training - dyslexia-friendly classroom",
        "Traded support - academy trust SENCO day",
    ),
    "PD": (
        "Bespoke training - moving and handling",
        "Bespoke training - inclusive PE",
        "Bespoke training - physical disability awareness",
    ),
    "SENSORY": (
        "Bespoke training - deaf awareness",
        "Bespoke training - vision impairment awareness",
        "Bespoke training - radio aid use for staff",
    ),
}
TRADED_PRICES_POUNDS = (350, 450, 600, 750, 950, 1200)


@dataclass
class _Draft:
    posting_date: date
    account: str
    strand: str
    activity: str
    description: str
    pence: int
    recharge: bool = field(default=False)


# ---------------------------------------------------------------------------- components


@cache
def components(code: str, seed: int) -> tuple[Component, ...]:
    """The SLA's recurring spend with nominal 2021-22 weights (pounds, relative)."""
    sla = reference.slas()[code]
    profile = sla_profiles()[code]
    budget = reference.budgets()[(code, CALIBRATION_YEAR)]
    draw = rng(seed, "components", code)
    nominal = float(budget.total) * draw.uniform(1.05, 1.16)  # everyone overspends a little
    outreach_spend = float(budget.outreach_budget) * draw.uniform(0.95, 1.1)
    # Staff and two non-pay lines share the outreach money, hence the uplift on the share.
    outreach_share = min(0.9, outreach_spend / nominal * 1.15)
    on_core = profile.outreach_on_core
    line = sla.service_line
    found: list[Component] = []

    def vary() -> float:
        return draw.uniform(0.85, 1.15)

    teacher_keys: dict[str, list[str]] = {"CORE": [], "OUTREACH": []}
    for key, account, kind, share, core_label, outreach_label in STAFF[line]:
        weight = nominal * share * vary()
        split = outreach_share if outreach_label and outreach_share > 0 else 0.0
        parts = (
            (f"{key}_core", "CORE", "CORE", weight * (1 - split), core_label),
            (f"{key}_out", "OUTREACH", "OUTREACH", weight * split * (1 - on_core), outreach_label),
            (
                f"{key}_ooc",
                "OUTREACH",
                "CORE",
                weight * split * on_core,
                f"{outreach_label} {OUTREACH_FUNDED_LABEL}",
            ),
        )
        for part_key, strand, activity, part_weight, label in parts:
            if part_weight <= 0:
                continue
            found.append(
                Component(part_key, account, strand, activity, kind, part_weight, "payroll", (str(label),))
            )
            if kind == "teacher":
                teacher_keys[activity].append(part_key)

    weights = {c.key: c.weight for c in found}
    for activity, keys in teacher_keys.items():
        if keys:
            found.append(
                Component(
                    f"tps_{activity.lower()}",
                    "E01",
                    "PENSION",
                    activity,
                    "tps",
                    TPS_UPLIFT * sum(weights[k] for k in keys),
                    "payroll",
                    (f"{activity.lower()} team",),
                    uplifts=tuple(keys),
                )
            )

    cover_text = (
        "Agency cover - specialist teacher (long-term absence)"
        if profile.cover_account == "E26"
        else "Supply cover - specialist teacher {mon}"
    )
    found.append(
        Component(
            "cover",
            profile.cover_account,
            "CORE",
            "CORE",
            "cover",
            nominal * 0.012 * vary(),
            "lumpy:3",
            (cover_text,),
            invoices=3,
        )
    )

    for key, account, activity, share, season, invoices, texts in (*NONPAY, *NONPAY_EXTRA.get(line, ())):
        weight = (
            nominal * share * vary() * (COUNTYWIDE_TRAVEL if key == "travel" and line != "DISTRICT" else 1.0)
        )
        kind = "energy" if account == "E16" else "nonpay"
        if activity == "DUAL" and outreach_share > 0:
            split = outreach_share * 0.6
            found.append(
                Component(
                    f"{key}_core",
                    account,
                    "CORE",
                    "CORE",
                    kind,
                    weight * (1 - split),
                    season,
                    texts,
                    invoices,
                )
            )
            found.append(
                Component(
                    f"{key}_out",
                    account,
                    "OUTREACH",
                    "OUTREACH",
                    kind,
                    weight * split,
                    season,
                    texts,
                    invoices,
                )
            )
        else:
            strand = "OUTREACH" if activity == "OUTREACH" and outreach_share > 0 else "CORE"
            found.append(Component(key, account, strand, strand, kind, weight, season, texts, invoices))

    overhead = profile.overhead
    if overhead.method != "none":
        direct = sum(c.weight for c in found if _is_recharge_base(c))
        expected = {
            "percent": overhead.rate * direct,
            "flat": overhead.fee_pence * 12 / 100,
            "annual": overhead.rate * float(budget.total),
        }[overhead.method]
        found.append(
            Component("recharge", RECHARGE_ACCOUNT, "CORE", "CORE", "recharge", expected, "fixed", ())
        )
    # The varied shares no longer add up to the nominal spend: scale them back so that the
    # SLA's weight among its peers is its budget times its overspend.
    scale = nominal / sum(c.weight for c in found)
    return tuple(replace(c, weight=c.weight * scale) for c in found)


def _is_recharge_base(component: Component) -> bool:
    return (
        component.category == "DIRECT_STAFFING"
        and component.strand in ("CORE", "OUTREACH")
        and component.kind != "recharge"
    )


# ---------------------------------------------------------------------------- month plans

Plan = dict[str, list[int]]  # component key -> pence for P1..P12


def _season_weights(component: Component, code: str, financial_year: str, seed: int) -> list[float]:
    draw = rng(seed, "season", code, component.key, financial_year)
    season = component.season
    if season == "payroll":
        return [draw.uniform(0.995, 1.005) for _ in range(12)]
    if season.startswith("lumpy:"):
        weights = [0.0] * 12
        for period in draw.sample(TERM_PERIODS, int(season.split(":")[1])):
            weights[period - 1] = draw.uniform(0.5, 1.5)
        return weights
    if season.startswith("annual:"):
        weights = [0.0] * 12
        weights[int(season.split(":")[1]) - 1] = 1.0
        return weights
    if season == "fixed":
        return list(SEASONS["fixed"])
    return [base * draw.uniform(0.9, 1.1) for base in SEASONS[season]]


def _recharge_months(code: str, financial_year: str, plan: Plan, comps: Sequence[Component]) -> list[int]:
    overhead = sla_profiles()[code].overhead
    year_index = YEARS.index(financial_year)
    if overhead.method == "percent":
        base = [sum(plan[c.key][m] for c in comps if _is_recharge_base(c)) for m in range(12)]
        return [round_pence(overhead.rate * month) for month in base]
    if overhead.method == "flat":
        fee = round_pence(overhead.fee_pence * (1 + FLAT_FEE_UPLIFT) ** year_index)
        return [fee] * 12
    if overhead.method == "annual":
        budget = reference.budgets()[(code, financial_year)]
        return [0] * 11 + [round_pence(overhead.rate * float(budget.total) * 100)]
    return [0] * 12


@cache
def calibrated_plans(seed: int) -> dict[str, Plan]:
    """2021-22 months for every SLA, summing exactly to the briefing's figures."""
    register = reference.slas()
    plans: dict[str, Plan] = {code: {} for code in register}
    for line, outturn in SERVICE_LINE_OUTTURN_2021_22.items():
        members = sorted(code for code, sla in register.items() if sla.service_line == line)
        if not members:
            continue
        comps = {code: components(code, seed) for code in members}
        if line == "DISTRICT":
            category_totals = dict(DISTRICT_CATEGORY_OUTTURN_2021_22)
        else:
            nominal = [
                sum(c.weight for code in members for c in comps[code] if c.category == category)
                for category in SPEND_CATEGORIES
            ]
            category_totals = dict(zip(SPEND_CATEGORIES, allocate(outturn, nominal), strict=True))
        if sum(category_totals.values()) != outturn:
            raise ValueError(f"{line}: category totals do not add up to the outturn")
        # Direct staffing first: percentage recharges are computed from it.
        for category in sorted(SPEND_CATEGORIES, key=lambda c: c != "DIRECT_STAFFING"):
            fixed = {}
            for code in members:
                for comp in comps[code]:
                    if comp.kind == "recharge" and comp.category == category:
                        if category == "DIRECT_STAFFING":
                            raise ValueError("recharges cannot sit in the category they charge on")
                        months = _recharge_months(code, CALIBRATION_YEAR, plans[code], comps[code])
                        plans[code][comp.key] = months
                        fixed[code] = sum(months)
            remaining = category_totals[category] - sum(fixed.values())
            if remaining < category_totals[category] * 0.25:
                raise ValueError(f"{line} {category}: recharges leave too little for other spend")
            shared = [
                [c for c in comps[code] if c.category == category and c.kind != "recharge"]
                for code in members
            ]
            per_sla = allocate(remaining, [sum(c.weight for c in group) for group in shared])
            for code, group, amount in zip(members, shared, per_sla, strict=True):
                for comp, annual in zip(group, allocate(amount, [c.weight for c in group]), strict=True):
                    weights = _season_weights(comp, code, CALIBRATION_YEAR, seed)
                    plans[code][comp.key] = allocate(annual, weights)
    return plans


def _teacher_index(financial_year: str, period: int) -> float:
    index = 1.0
    for year, award in TEACHER_AWARDS.items():
        if year < financial_year or (year == financial_year and period >= 6):
            index *= 1 + award
    return index


def _njc_index(financial_year: str, period: int) -> float:
    index = 1.0
    for year, (award, first_paid) in NJC_AWARDS.items():
        if year < financial_year or (year == financial_year and period >= first_paid):
            index *= 1 + award
    return index


def _price_index(table: dict[str, float], financial_year: str) -> float:
    index = 1.0
    for year, rise in table.items():
        if year <= financial_year:
            index *= 1 + rise
    return index


def _staffing_drift(code: str, financial_year: str, seed: int) -> float:
    """Team size wanders a little from year to year (vacancies, appointments)."""
    drift = 1.0
    for year in YEARS[1 : YEARS.index(financial_year) + 1]:
        drift *= rng(seed, "drift", code, year).uniform(0.97, 1.05)
    return drift


@cache
def year_plan(code: str, financial_year: str, seed: int) -> tuple[Plan, dict[str, tuple[int, int]]]:
    """Months for one SLA and year, and NJC arrears per component as (period, pence)."""
    base = calibrated_plans(seed)[code]
    if financial_year == CALIBRATION_YEAR:
        return base, {}
    comps = components(code, seed)
    drift = _staffing_drift(code, financial_year, seed)
    plan: Plan = {}
    arrears: dict[str, tuple[int, int]] = {}
    for comp in comps:
        if comp.kind in ("tps", "recharge"):
            continue
        weights = _season_weights(comp, code, financial_year, seed)
        total_weight = sum(weights)
        annual = sum(base[comp.key])
        if comp.kind in STAFF_KINDS:
            factor = drift
        else:
            factor = rng(seed, "nonpay", code, comp.key, financial_year).uniform(0.85, 1.2)
            factor *= _price_index(ENERGY if comp.kind == "energy" else CPI, financial_year)
        months = []
        for period in range(1, 13):
            amount = annual * weights[period - 1] / total_weight * factor
            if comp.kind in ("teacher", "cover"):
                amount *= _teacher_index(financial_year, period)
            elif comp.kind in ("support", "admin"):
                amount *= _njc_index(financial_year, period)
            months.append(round_pence(amount))
        plan[comp.key] = months
        if comp.kind in ("support", "admin") and financial_year in NJC_AWARDS:
            award, first_paid = NJC_AWARDS[financial_year]
            owed = sum(months[: first_paid - 1]) * award
            arrears[comp.key] = (first_paid, round_pence(owed))
    for comp in comps:
        if comp.kind == "tps":
            plan[comp.key] = [
                round_pence(TPS_UPLIFT * sum(plan[k][m] for k in comp.uplifts)) for m in range(12)
            ]
    recharge_base = dict(plan)
    for key, (period, owed) in arrears.items():
        recharge_base[key] = list(plan[key])
        recharge_base[key][period - 1] += owed
    for comp in comps:
        if comp.kind == "recharge":
            plan[comp.key] = _recharge_months(code, financial_year, recharge_base, comps)
    return plan, arrears


# ---------------------------------------------------------------------------- lines


def _month_label(profile: SlaProfile, year: int, month: int) -> str:
    if profile.month_style == "long":
        return f"{calendar.month_name[month]} {year}"
    if profile.month_style == "dash":
        return f"{calendar.month_abbr[month]}-{year % 100:02d}"
    return calendar.month_abbr[month]


def _working_day(year: int, month: int, day: int) -> date:
    """The nearest working day on or before the given day, staying inside the month."""
    day = min(day, calendar.monthrange(year, month)[1])
    moved = date(year, month, day)
    while moved.weekday() >= 5:
        moved -= timedelta(days=1)
    if moved.month != month:
        moved = date(year, month, day)
        while moved.weekday() >= 5:
            moved += timedelta(days=1)
    return moved


def _payday(profile: SlaProfile, year: int, month: int) -> date:
    day = 31 if profile.payday == "last" else int(profile.payday)
    return _working_day(year, month, day)


def _any_day(draw: random.Random, year: int, month: int) -> date:
    return _working_day(year, month, draw.randint(1, calendar.monthrange(year, month)[1]))


PAYROLL_LINES = {
    "teacher": (("Salaries", 78), ("Employer NI", 9), ("Employer pension (TPS)", 13)),
    "support": (("Salaries", 79), ("Employer NI", 6), ("Employer pension (LGPS)", 15)),
}
PAYROLL_LINES["admin"] = PAYROLL_LINES["support"]


def _component_drafts(
    comp: Component,
    amount: int,
    profile: SlaProfile,
    year: int,
    month: int,
    draw: random.Random,
) -> list[_Draft]:
    mon = _month_label(profile, year, month)

    def draft(day: date, text: str, pence: int, recharge: bool = False) -> _Draft:
        return _Draft(day, comp.account, comp.strand, comp.activity, text, pence, recharge)

    if comp.kind in PAYROLL_KINDS:
        label = comp.texts[0]
        payday = _payday(profile, year, month)
        if not profile.payroll_detail:
            return [draft(payday, f"Payroll - {label} {mon}", amount)]
        parts = allocate(amount, [weight for _, weight in PAYROLL_LINES[comp.kind]])
        drafts = [
            draft(payday, f"{name} - {label} {mon}", part)
            for (name, _), part in zip(PAYROLL_LINES[comp.kind], parts, strict=True)
        ]
        if draw.random() < 0.02 and amount > 100_000:
            recovered = draw.randint(5_000, 40_000)
            drafts[0].pence += recovered
            drafts.append(draft(payday, f"Overpayment recovery - {label}", -recovered))
        return drafts
    if comp.kind == "tps":
        text = f"TPS employer contribution uplift (7.2%) - {comp.texts[0]} {mon}"
        return [draft(_payday(profile, year, month), text, amount)]
    if comp.kind == "recharge":
        overhead = profile.overhead
        if overhead.method == "percent":
            text = (
                f"Central services recharge - finance, HR and payroll ({overhead.rate:.0%} of staffing) {mon}"
            )
        elif overhead.method == "flat":
            text = f"SLA management fee - host school {mon}"
        else:
            text = f"Annual overhead charge - host school services {year - 1}-{year % 100:02d}"
        return [draft(_working_day(year, month, 31), text, amount, recharge=True)]

    count = max(1, min(draw.randint(1, comp.invoices), amount // 2_000 or 1))
    parts = allocate(amount, [draw.uniform(0.4, 1.6) for _ in range(count)])
    drafts = [
        draft(_any_day(draw, year, month), draw.choice(comp.texts).format(mon=mon), part) for part in parts
    ]
    if draw.random() < 0.05 and amount > 5_000:
        credit = round_pence(amount * draw.uniform(0.05, 0.2))
        drafts[0].pence += credit
        original = drafts[0].description.split(" - ")[0]
        drafts.append(draft(_any_day(draw, year, month), f"Credit note - {original}", -credit))
    return drafts


def relative_size(code: str) -> float:
    """SLA size relative to the average district, by 2021-22 core + outreach budget."""
    budgets = reference.budgets()
    districts = [
        float(budgets[(c, CALIBRATION_YEAR)].total)
        for c, sla in reference.slas().items()
        if sla.service_line == "DISTRICT"
    ]
    return float(budgets[(code, CALIBRATION_YEAR)].total) / (sum(districts) / len(districts))


def _traded_drafts(
    code: str, financial_year: str, period: int, year: int, month: int, seed: int
) -> list[_Draft]:
    start_year, start_period = TRADED_START
    if financial_year < start_year or (financial_year == start_year and period < start_period):
        return []
    profile = sla_profiles()[code]
    draw = rng(seed, "traded", code, financial_year, period)
    mean = (
        1.6
        * profile.traded_intensity
        * TRADED_GROWTH[financial_year]
        * SEASONS["termtime"][period - 1]
        * min(relative_size(code), 1.5) ** 0.5
    )
    sessions = max(0, round(draw.gauss(mean, 0.35 * mean + 0.3)))
    if not sessions:
        return []
    prices = _price_index(CPI, financial_year) / (1 + CPI[start_year])
    texts = TRADED_TEXTS[reference.slas()[code].service_line]

    def draft(account: str, text: str, pence: int) -> _Draft:
        return _Draft(_any_day(draw, year, month), account, "TRADED", "TRADED", text, pence)

    drafts = []
    for _ in range(sessions):
        price = round(draw.choice(TRADED_PRICES_POUNDS) * prices / 5) * 5 * 100
        drafts.append(draft(TRADED_INCOME_ACCOUNT, draw.choice(texts), -price))
        if draw.random() < 0.4:
            drafts.append(draft("E18", "Venue hire - bespoke training", draw.randint(9_000, 25_000)))
        if draw.random() < 0.3:
            drafts.append(
                draft("E02", "Supply cover - staff delivering traded training", draw.randint(18_000, 24_000))
            )
    income = -sum(d.pence for d in drafts if d.account == TRADED_INCOME_ACCOUNT)
    drafts.append(
        draft("E19", "Training materials - bespoke courses", round_pence(income * draw.uniform(0.04, 0.1)))
    )
    return drafts


@cache
def year_end_slas(financial_year: str, seed: int) -> tuple[str, ...]:
    """The few SLAs that send a P13 return (none in the calibrated year)."""
    if financial_year == CALIBRATION_YEAR:
        return ()
    draw = rng(seed, "p13", financial_year)
    return tuple(sorted(draw.sample(sorted(reference.slas()), P13_SLAS_PER_YEAR)))


def _year_end_drafts(code: str, financial_year: str, seed: int) -> list[_Draft]:
    end_year = parse_financial_year(financial_year) + 1  # type: ignore[operator]
    draw = rng(seed, "p13-lines", code, financial_year)

    def day() -> date:
        return _working_day(end_year, 3, 31) if draw.random() < 0.5 else _any_day(draw, end_year, 4)

    drafts = [
        _Draft(
            day(),
            "E08",
            "CORE",
            "CORE",
            "Year-end accrual - March mileage claims",
            draw.randint(30_000, 90_000),
        ),
        _Draft(
            day(),
            "E20G",
            "CORE",
            "CORE",
            "Reversal of over-accrual - IT support",
            -draw.randint(15_000, 60_000),
        ),
        _Draft(
            day(),
            sla_profiles()[code].cover_account,
            "CORE",
            "CORE",
            "Audit adjustment - cover invoice received late",
            draw.randint(100_000, 300_000),
        ),
    ]
    moved = draw.randint(20_000, 80_000)
    has_outreach = any(c.strand == "OUTREACH" for c in components(code, seed))
    if has_outreach:
        drafts += [
            _Draft(
                day(),
                "E19",
                "OUTREACH",
                "OUTREACH",
                "Year-end adjustment - resources recoded from core",
                moved,
            ),
            _Draft(
                day(), "E19", "CORE", "CORE", "Year-end adjustment - resources recoded to outreach", -moved
            ),
        ]
    drafts.append(
        _Draft(
            day(),
            TRADED_INCOME_ACCOUNT,
            "TRADED",
            "TRADED",
            "Accrued income - March bespoke training sessions",
            -draw.randint(60_000, 200_000),
        )
    )
    return drafts


def _period_drafts(code: str, financial_year: str, period: int, seed: int) -> list[_Draft]:
    start = parse_financial_year(financial_year)
    if start is None:
        raise ValueError(f"not a financial year: {financial_year!r}")
    if period == 13:
        return _year_end_drafts(code, financial_year, seed)
    year, month = LedgerPeriod(start, period).months()[0]
    profile = sla_profiles()[code]
    plan, arrears = year_plan(code, financial_year, seed)
    draw = rng(seed, "lines", code, financial_year, period)
    drafts: list[_Draft] = []
    for comp in components(code, seed):
        amount = plan[comp.key][period - 1]
        if amount:
            drafts += _component_drafts(comp, amount, profile, year, month, draw)
        if comp.key in arrears and arrears[comp.key][0] == period and arrears[comp.key][1]:
            award_year = financial_year
            drafts.append(
                _Draft(
                    _payday(profile, year, month),
                    comp.account,
                    comp.strand,
                    comp.activity,
                    f"NJC pay award {award_year} arrears from April - {comp.texts[0]}",
                    arrears[comp.key][1],
                )
            )
    drafts += _traded_drafts(code, financial_year, period, year, month, seed)
    return drafts


@cache
def cfr_code(account: str, financial_year: str) -> str:
    """The account code a finance system would post to in that year: CFR had one code E20
    (ICT learning resources) until 2023-24 and lettered forms E20A..E20G from 2024-25, so a
    lettered form whose bare code is valid in the year is written bare (ref_account_codes)."""
    valid = reference.account_codes_in(financial_year)
    bare = account[:-1]
    if account[-1:].isalpha() and bare.upper() in valid:
        return valid[bare.upper()].account_code
    return account


def _line_ref(style: str, code: str, financial_year: str, period: int, number: int) -> str:
    if style == "journal":
        return f"JNL{100_000 + (YEARS.index(financial_year) * 13 + period) * 1_000 + number:06d}"
    if style == "plain_seq":
        return str(number)
    if style == "fy_period_seq":
        return f"{financial_year}/P{period:02d}/{number:04d}"
    return f"{code}{financial_year[2:4]}{period:02d}-{number:03d}"


def ledger_return(
    code: str, financial_year: str, period: int, *, seed: int, lines_multiplier: int = 1
) -> LedgerReturn:
    """One SLA's return for one period, in the order the school's export would list it."""
    if lines_multiplier < 1:
        raise ValueError("lines_multiplier must be at least 1")
    profile = sla_profiles()[code]
    drafts = _period_drafts(code, financial_year, period, seed)
    if profile.sort_by_account:
        drafts.sort(key=lambda d: (d.account.upper(), d.posting_date))
    else:
        drafts.sort(key=lambda d: d.posting_date)
    lines: list[LedgerLine] = []
    for d in drafts:
        for part in allocate(d.pence, [1] * lines_multiplier):
            number = len(lines) + 1
            lines.append(
                LedgerLine(
                    sla_code=code,
                    financial_year=financial_year,
                    period=period,
                    line_ref=_line_ref(profile.ref_style, code, financial_year, period, number),
                    posting_date=d.posting_date,
                    cost_centre=f"{code}-{d.activity}",
                    account_code=cfr_code(d.account, financial_year),
                    fund_strand=d.strand,
                    description=d.description,
                    amount=pounds(part),
                    is_overhead_recharge=d.recharge,
                )
            )
    return LedgerReturn(code, financial_year, period, tuple(lines))
