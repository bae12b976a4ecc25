"""Each school's house style: how it sends its returns and how it charges overheads.

A profile is a property of the SLA (or of the holder school, for overheads), not of the
random seed, so a school keeps its spelling from run to run and other tests can rely on
it. Profiles are dealt out over the SLA register in a fixed pseudo-random order (SHA-256
of a salt and the code), which spreads the styles evenly (half CSV, half XLSX) without
listing SLA codes here; a new SLA in the register simply gets the next style.

Every spelling used is one that spec/returns.md accepts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from stls_warehouse import reference

MONEY_STYLES = ("comma", "bracket", "pound", "plain", "pound_bracket")
DATE_STYLES = ("uk", "iso", "uk_short")
CSV_FLAG_STYLES = ("YN", "YESNO", "TRUEFALSE", "yn")
XLSX_FLAG_STYLES = ("bool", "YN", "bool", "YESNO")
REF_STYLES = ("sla_period_seq", "journal", "plain_seq", "fy_period_seq")
MONTH_STYLES = ("short", "long", "dash")
PAYDAYS = ("last", 25, "last", 20)
OVERHEAD_METHODS = ("percent", "flat", "none", "percent", "annual", "flat", "none")
# share of direct staffing, monthly: one holder (Thanet's) charges 8 %, above the 6 % standard
OVERHEAD_RATES = (0.05, 0.04, 0.08, 0.03)
FLAT_FEES_PENCE = (100_000, 75_000, 125_000, 60_000)  # per month
ANNUAL_RATE = 0.03  # share of the SLA's core + outreach budget, charged in March
OUTREACH_ON_CORE = (0.5, 0.35, 0.25, 0.2)  # share of outreach staffing spent on core work
TRADED_INTENSITY = (1.4, 1.0, 0.7, 0.35, 1.1, 0.2, 0.9, 0.55)


@dataclass(frozen=True)
class OverheadProfile:
    """How a holder school charges the SLA for hosting it (is_overhead_recharge = yes).

    percent: `rate` x the month's direct staffing (CORE and OUTREACH strands), monthly.
    flat: a fixed monthly fee, `fee_pence`, raised 3 % a year from 2022-23.
    annual: `rate` x the SLA's core + outreach budget, one charge in March (P12).
    none: no recharge.
    """

    holder_school: str
    method: str
    rate: float = 0.0
    fee_pence: int = 0


@dataclass(frozen=True)
class SlaProfile:
    sla_code: str
    service_line: str
    ledger_format: str  # csv or xlsx
    kpi_format: str  # csv or xlsx
    money_style: str  # CSV amounts, see MONEY_STYLES
    xlsx_amount: str  # decimal or float numeric cells
    date_style: str  # CSV posting dates
    flag_style: str  # see CSV_FLAG_STYLES / XLSX_FLAG_STYLES
    period_padded: bool  # "07" rather than "7" (CSV)
    control_sheet: bool  # XLSX ledger carries a Control sheet
    csv_bom: bool  # Excel's "CSV UTF-8" writes a byte-order mark
    ref_style: str
    month_style: str  # month names in descriptions
    payroll_detail: bool  # salary, NI and pension on separate lines
    payday: str | int
    sort_by_account: bool  # export order: by account, else by posting date
    title_case_strand: bool  # "Core" rather than "CORE"
    kpi_month_as_date: bool  # XLSX KPI month as a date cell
    cover_account: str  # E26 agency or E02 supply
    outreach_on_core: float
    traded_intensity: float
    overhead: OverheadProfile


def _ranked(codes: Iterable[str], salt: str) -> list[str]:
    return sorted(codes, key=lambda code: hashlib.sha256(f"{salt}:{code}".encode()).hexdigest())


@cache
def overhead_profiles() -> dict[str, OverheadProfile]:
    holders = {sla.holder_school for sla in reference.slas().values()}
    profiles = {}
    for index, holder in enumerate(_ranked(holders, "overhead")):
        method = OVERHEAD_METHODS[index % len(OVERHEAD_METHODS)]
        rate = OVERHEAD_RATES[index % len(OVERHEAD_RATES)] if method == "percent" else 0.0
        if method == "annual":
            rate = ANNUAL_RATE
        fee = FLAT_FEES_PENCE[index % len(FLAT_FEES_PENCE)] if method == "flat" else 0
        profiles[holder] = OverheadProfile(holder, method, rate, fee)
    return profiles


@cache
def sla_profiles() -> dict[str, SlaProfile]:
    register = reference.slas()
    budgets = reference.budgets()
    codes = sorted(register)
    ledger_order = _ranked(codes, "ledger-format")
    kpi_order = _ranked(codes, "kpi-format")
    csv_ledgers = ledger_order[0::2]
    xlsx_ledgers = ledger_order[1::2]
    with_outreach = [
        code for code in codes if any(b.outreach_budget > 0 for (c, _), b in budgets.items() if c == code)
    ]
    outreach_on_core = dict(zip(_ranked(with_outreach, "outreach-on-core"), OUTREACH_ON_CORE, strict=False))
    holders = overhead_profiles()
    profiles = {}
    for index, code in enumerate(_ranked(codes, "style")):
        sla = register[code]
        is_csv = code in csv_ledgers
        position = csv_ledgers.index(code) if is_csv else xlsx_ledgers.index(code)
        profiles[code] = SlaProfile(
            sla_code=code,
            service_line=sla.service_line,
            ledger_format="csv" if is_csv else "xlsx",
            kpi_format="csv" if kpi_order.index(code) % 2 == 0 else "xlsx",
            money_style=MONEY_STYLES[position % len(MONEY_STYLES)],
            xlsx_amount=("decimal", "float")[position % 2],
            date_style=DATE_STYLES[position % len(DATE_STYLES)],
            flag_style=(CSV_FLAG_STYLES if is_csv else XLSX_FLAG_STYLES)[position % 4],
            period_padded=position % 2 == 1,
            control_sheet=not is_csv and position % 2 == 0,
            csv_bom=is_csv and position == 3,
            ref_style=REF_STYLES[index % len(REF_STYLES)],
            month_style=MONTH_STYLES[index % len(MONTH_STYLES)],
            payroll_detail=index % 3 != 2,
            payday=PAYDAYS[index % len(PAYDAYS)],
            sort_by_account=index % 2 == 1,
            title_case_strand=index == 5,
            kpi_month_as_date=index % 2 == 0,
            cover_account=("E26", "E02")[index % 2],
            outreach_on_core=outreach_on_core.get(code, 0.0),
            traded_intensity=TRADED_INTENSITY[index % len(TRADED_INTENSITY)],
            overhead=holders[sla.holder_school],
        )
    return profiles
