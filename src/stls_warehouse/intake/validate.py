"""Validate one return against the returns contract (spec/returns.md, version 1).

`validate_return(name, data)` never raises for anything a school can send: every problem
becomes a located Problem with a contract code, every problem in the file is listed (capped
per code), and an accepted return comes back as canonical, typed records ready to load.
"""

from __future__ import annotations

from stls_warehouse.intake import sandbox
from stls_warehouse.intake.check import check_return
from stls_warehouse.intake.result import KpiRow, LedgerLine, ValidationResult, group_by_code
from stls_warehouse.intake.rules.base import MAX_PROBLEMS_PER_CODE
from stls_warehouse.intake.rules.kpi import UNIT_FORMS, percent_value

__all__ = [
    "MAX_PROBLEMS_PER_CODE",
    "UNIT_FORMS",
    "KpiRow",
    "LedgerLine",
    "ValidationResult",
    "check_return",
    "group_by_code",
    "percent_value",
    "validate_return",
]


def validate_return(name: str, data: bytes) -> ValidationResult:
    """Check one file, given its original name and its bytes; never raises for a bad file.

    Small files (every real monthly return) are checked in this process. A file whose
    reading could need much memory (a large CSV, a workbook declaring many megabytes) is
    checked in a child process under a memory and time limit, so that one hostile file
    cannot take down the worker that met it.
    """
    if sandbox.needs_child(name, data):
        return sandbox.check_in_child(name, data)
    return sandbox.check_here(name, data)
