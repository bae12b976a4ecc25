"""Return file names: `LEDGER_<sla>_<YYYY-YY>_P<nn>.<ext>` and `KPI_<sla>_<YYYY-MM>.<ext>`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath

from stls_warehouse import reference
from stls_warehouse.periods import KpiMonth, LedgerPeriod, parse_financial_year, parse_kpi_month

ALLOWED_EXTENSIONS = (".csv", ".xlsx")
_LEDGER = re.compile(r"^LEDGER_([A-Z0-9]+)_(\d{4}-\d{2})_P(\d{2})$", re.IGNORECASE)
_KPI = re.compile(r"^KPI_([A-Z0-9]+)_(\d{4}-\d{2})$", re.IGNORECASE)
_PREFIX = re.compile(r"^(LEDGER|KPI)_", re.IGNORECASE)


@dataclass(frozen=True)
class ReturnName:
    return_type: str  # ledger | kpi
    sla_code: str
    period: LedgerPeriod | KpiMonth
    extension: str

    @property
    def period_key(self) -> str:
        return self.period.key


def extension_of(name: str) -> str:
    return PurePath(name).suffix.lower()


def return_type_from_prefix(name: str) -> str | None:
    match = _PREFIX.match(PurePath(name).name)
    return match.group(1).lower() if match else None


def parse_return_name(name: str) -> tuple[ReturnName | None, str | None]:
    """The parsed name, or None and the reason it does not follow the contract."""
    path = PurePath(name)
    stem, extension = path.stem, path.suffix.lower()
    if "\ufffd" in name:  # stage.display_name shows bytes that are not UTF-8 as U+FFFD
        return None, "it holds bytes that are not valid UTF-8 text (shown as \ufffd)"
    if match := _LEDGER.match(stem):
        sla, fy, nn = match.group(1).upper(), match.group(2), int(match.group(3))
        start = parse_financial_year(fy)
        if sla not in reference.slas():
            return None, f"'{match.group(1)}' is not one of the 14 SLA codes"
        if start is None:
            return None, f"'{fy}' is not a financial year written like 2021-22"
        if not 1 <= nn <= 13:
            return None, f"P{match.group(3)} is not a period (P01 to P13)"
        return ReturnName("ledger", sla, LedgerPeriod(start, nn), extension), None
    if match := _KPI.match(stem):
        sla, month = match.group(1).upper(), parse_kpi_month(match.group(2))
        if sla not in reference.slas():
            return None, f"'{match.group(1)}' is not one of the 14 SLA codes"
        if month is None:
            return None, f"'{match.group(2)}' is not a month written like 2022-10"
        return ReturnName("kpi", sla, month, extension), None
    return None, "the name must look like LEDGER_SWA_2021-22_P07.xlsx or KPI_THA_2022-10.csv"


def ledger_file_name(sla_code: str, period: LedgerPeriod, extension: str) -> str:
    return f"LEDGER_{sla_code}_{period.financial_year}_P{period.period:02d}{extension}"


def kpi_file_name(sla_code: str, month: KpiMonth, extension: str) -> str:
    return f"KPI_{sla_code}_{month.key}{extension}"
