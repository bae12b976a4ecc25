"""Deterministic synthetic returns for 2021-22 to 2024-25, written as the schools send them.

`generate_returns` builds the returns in memory (Decimal amounts, typed KPI values) so
tests can check totals without parsing; `generate` writes them into a landing folder
under the contract's file names, each SLA in its own house style (profiles.py), and
leaves files whose bytes would not change untouched.

Conventions the marts rely on (details in ledger.py):

- cost_centre is `<SLA>-<ACTIVITY>`, ACTIVITY in CORE, OUTREACH, TRADED; outreach money
  spent on core work is fund_strand OUTREACH on a `-CORE` cost centre;
- overhead recharges are account E28a with is_overhead_recharge = yes (E28a without the
  flag is ordinary bought-in spend), charged per holder school: a % of direct staffing,
  a flat monthly fee, an annual March charge, or none;
- TPS uplift lines are account E01, fund_strand PENSION, 7.2 % of teacher pay;
- traded bespoke-training income is account I08b, fund_strand TRADED, negative, from
  September 2022; there is no income line in 2021-22;
- 2021-22 reproduces the briefing's outturn per service line and the district split by
  expenditure category to the penny, whatever `lines_multiplier` is.

The same seed gives the same bytes on every run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

from stls_warehouse import reference
from stls_warehouse.config import SYNTHETIC_MARKER
from stls_warehouse.intake.writers import render_kpi, render_ledger, write_if_changed
from stls_warehouse.periods import kpi_months
from stls_warehouse.synthetic.kpi import kpi_series
from stls_warehouse.synthetic.ledger import YEARS, ledger_return, year_end_slas
from stls_warehouse.synthetic.model import KpiReturn, LedgerReturn, SyntheticReturns
from stls_warehouse.synthetic.profiles import sla_profiles
from stls_warehouse.synthetic.render import kpi_rows, ledger_rows

DEFAULT_SEED = 2021
# Beside the landing folder ($STLS_HOME/synthetic_returns.sha256): the SHA-256 of every
# return the generator wrote, so that a report built from them says, on its first page,
# that its figures are synthetic (reports.source.PublishedRelease.synthetic_note).

T = TypeVar("T")


def generate_returns(
    *,
    years: Sequence[str] | None = None,
    slas: Sequence[str] | None = None,
    periods: Sequence[int] | None = None,
    seed: int = DEFAULT_SEED,
    lines_multiplier: int = 1,
) -> SyntheticReturns:
    """The returns `generate` would write, in memory.

    One ledger return per SLA per period P1..P12 (plus P13 for the few SLAs with
    year-end adjustments, in years after 2021-22) and one KPI return per SLA per month.
    `periods` filters ledger periods (1..13) and, through them, KPI months (P1 = April);
    filtering never changes the content of a return.
    """
    chosen_years = _check(years, YEARS, "financial year")
    chosen_slas = _check(slas, tuple(sorted(reference.slas())), "SLA")
    chosen_periods = _check(periods, tuple(range(1, 14)), "period")
    ledgers: list[LedgerReturn] = []
    kpis: list[KpiReturn] = []
    for financial_year in chosen_years:
        with_p13 = year_end_slas(financial_year, seed)
        months = kpi_months(financial_year)
        for code in chosen_slas:
            for period in chosen_periods:
                if period == 13 and code not in with_p13:
                    continue
                ledgers.append(
                    ledger_return(code, financial_year, period, seed=seed, lines_multiplier=lines_multiplier)
                )
            series = kpi_series(code, seed)
            for period in chosen_periods:
                if period <= 12:
                    kpis.append(series[months[period - 1].key])
    return SyntheticReturns(tuple(ledgers), tuple(kpis))


def generate(
    landing: Path,
    *,
    years: Sequence[str] | None = None,
    slas: Sequence[str] | None = None,
    periods: Sequence[int] | None = None,
    seed: int = DEFAULT_SEED,
    lines_multiplier: int = 1,
) -> list[Path]:
    """Write the returns into `landing`; the paths of every return, written or unchanged."""
    returns = generate_returns(
        years=years, slas=slas, periods=periods, seed=seed, lines_multiplier=lines_multiplier
    )
    landing = Path(landing)
    landing.mkdir(parents=True, exist_ok=True)
    profiles = sla_profiles()
    written: list[Path] = []
    for ledger in returns.ledgers:
        profile = profiles[ledger.sla_code]
        extension = profile.ledger_format
        data = render_ledger(
            extension,
            ledger_rows(ledger, profile),
            control=profile.control_sheet and extension == "xlsx",
            bom=profile.csv_bom and extension == "csv",
        )
        path = landing / ledger.file_name(extension)
        write_if_changed(path, data)
        written.append(path)
    for kpi in returns.kpis:
        profile = profiles[kpi.sla_code]
        extension = profile.kpi_format
        path = landing / kpi.file_name(extension)
        write_if_changed(path, render_kpi(extension, kpi_rows(kpi, profile)))
        written.append(path)
    _record_synthetic(landing.parent / SYNTHETIC_MARKER, written)
    return written


def _record_synthetic(marker: Path, written: list[Path]) -> None:
    """Add the written files' SHA-256 to the marker (sorted, so reruns leave it alone)."""
    import hashlib

    known = set(marker.read_text(encoding="ascii").split()) if marker.exists() else set()
    known |= {hashlib.sha256(path.read_bytes()).hexdigest() for path in written}
    write_if_changed(marker, "".join(f"{sha}\n" for sha in sorted(known)).encode("ascii"))


def _check(chosen: Sequence[T] | None, allowed: Sequence[T], what: str) -> tuple[T, ...]:
    if chosen is None:
        return tuple(allowed)
    unknown = [item for item in chosen if item not in allowed]
    if unknown:
        raise ValueError(f"unknown {what}: {unknown}; expected some of {list(allowed)}")
    return tuple(item for item in allowed if item in chosen)
