"""The parameters of the warning rules, read from their one home: the dbt seed
`ref_quality_thresholds.csv` (rule, parameter, value, description).

A finance officer tunes a warning by editing one row of that file; the suites read the
value through `threshold(rule, parameter)` and never restate it.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache

from stls_warehouse import reference
from stls_warehouse.errors import StlsError

SEED = "ref_quality_thresholds"


class ThresholdMissing(StlsError, KeyError):
    """A rule asked for a parameter the seed does not define."""


@cache
def thresholds() -> dict[tuple[str, str], Decimal]:
    return {(row["rule"], row["parameter"]): Decimal(row["value"]) for row in reference.seed_rows(SEED)}


def threshold(rule: str, parameter: str) -> Decimal:
    try:
        return thresholds()[(rule, parameter)]
    except KeyError:
        raise ThresholdMissing(f"{SEED}.csv has no row for rule {rule!r}, parameter {parameter!r}") from None
