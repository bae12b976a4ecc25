"""Exact money arithmetic for the generator: whole pence as ints, split without drift.

Totals are allocated top-down (service line -> SLA -> category -> component -> month ->
line) with largest-remainder rounding, so every level sums exactly to the level above
and the calibrated 2021-22 figures hold to the penny however many lines they become.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

_FLOAT_SCALE = 2**32


def allocate(total: int, weights: Sequence[float]) -> list[int]:
    """Split `total` pence in proportion to `weights`; the parts sum exactly to `total`.

    Integer arithmetic throughout (float weights are scaled to ints first), so the
    result is the same on every platform. Remainders go to the largest fractional
    parts, ties to the earlier weight.
    """
    if total < 0:
        return [-part for part in allocate(-total, weights)]
    if any(weight < 0 for weight in weights):
        raise ValueError("weights must not be negative")
    if all(isinstance(weight, int) for weight in weights):
        scaled = [int(weight) for weight in weights]
    else:
        scaled = [round(float(weight) * _FLOAT_SCALE) for weight in weights]
    whole = sum(scaled)
    if whole <= 0:
        if total == 0:
            return [0] * len(weights)
        raise ValueError("weights must have a positive sum")
    parts = [total * weight // whole for weight in scaled]
    short = total - sum(parts)
    order = sorted(range(len(scaled)), key=lambda i: (-(total * scaled[i] % whole), i))
    for index in order[:short]:
        parts[index] += 1
    return parts


def round_pence(value: float) -> int:
    """A float amount of pence rounded half-up to a whole penny."""
    return int(Decimal(repr(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def pounds(pence: int) -> Decimal:
    """Whole pence as an exact two-place Decimal of pounds."""
    return Decimal(pence).scaleb(-2)


def pence(amount: Decimal) -> int:
    return int(amount.scaleb(2))


def rng(*parts: object) -> random.Random:
    """A generator seeded from a readable key: the same key gives the same stream on every
    run (string seeds are hashed with SHA-512, independent of PYTHONHASHSEED)."""
    return random.Random("|".join(str(part) for part in parts))
