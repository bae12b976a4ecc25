"""Deterministic synthetic returns from the 14 SLA holders, for tests, demos and benchmarks.

`generate(landing)` writes a landing folder of ledger and KPI returns for 2021-22 to
2024-25; `generate_returns()` gives the same returns in memory. 2021-22 reproduces the
26 Nov 2021 briefing's outturn to the penny. Conventions: see generator.py.
"""

from stls_warehouse.synthetic.generator import DEFAULT_SEED, generate, generate_returns
from stls_warehouse.synthetic.ledger import YEARS
from stls_warehouse.synthetic.model import (
    KpiReturn,
    KpiRow,
    LedgerLine,
    LedgerReturn,
    SyntheticReturns,
)

__all__ = [
    "DEFAULT_SEED",
    "YEARS",
    "KpiReturn",
    "KpiRow",
    "LedgerLine",
    "LedgerReturn",
    "SyntheticReturns",
    "generate",
    "generate_returns",
]
