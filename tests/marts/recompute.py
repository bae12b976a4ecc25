"""The finance rules of the marts, written again in plain Python from their descriptions.

These are the independent side of tests/marts: each function restates a rule of
dbt_project/models/intermediate (and its seed parameters) over the returns the synthetic
generator makes in memory, with exact arithmetic (Fraction and Decimal, never float), so a
mart that disagrees to the penny fails.
"""

from __future__ import annotations

import csv
from collections.abc import Hashable, Iterable, Mapping
from decimal import Decimal
from fractions import Fraction
from typing import TypeVar

from stls_warehouse.config import SEEDS_DIR

K = TypeVar("K", bound=Hashable)

PENNY = Decimal("0.01")


def seed_rows(name: str) -> list[dict[str, str]]:
    with (SEEDS_DIR / f"{name}.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def half_up(value: Fraction | Decimal | int, places: int = 2) -> Decimal:
    """Round half away from zero to `places` decimals, exactly."""
    fraction = Fraction(value)
    scale = 10**places
    scaled = abs(fraction) * scale
    whole = int(scaled)
    if scaled - whole >= Fraction(1, 2):
        whole += 1
    signed = -whole if fraction < 0 else whole
    return Decimal(signed).scaleb(-places)


def pennies(amount: Decimal) -> int:
    return int(amount * 100)


def pounds(pence: int) -> Decimal:
    return Decimal(pence).scaleb(-2).quantize(PENNY)


def largest_remainder(total: int, weights: Mapping[K, int], order: Iterable[K] | None = None) -> dict[K, int]:
    """Split `total` whole units by `weights`; leftover units go to the largest remainders,
    ties to the key that comes first in `order` (sorted keys by default)."""
    keys = list(order) if order is not None else sorted(weights)  # type: ignore[type-var]
    whole = sum(weights[k] for k in keys)
    if whole <= 0:
        return dict.fromkeys(keys, 0)
    parts = {k: total * weights[k] // whole for k in keys}
    remainders = {k: total * weights[k] % whole for k in keys}
    left = total - sum(parts.values())
    for k in sorted(keys, key=lambda k: (-remainders[k], keys.index(k)))[:left]:
        parts[k] += 1
    return parts


def financial_year_label(start_year: int) -> str:
    return f"{start_year}-{(start_year + 1) % 100:02d}"


def damp(
    base: Mapping[str, int],
    aim: Mapping[str, int],
    budget: int,
    floor_pct: Decimal,
    cap_pct: Decimal,
) -> dict[str, int]:
    """domain.md 4.3: floor losers, cap gainers, scale the gains above the floor to fit."""
    keys = sorted(base)
    floors = {k: int(half_up(Fraction(base[k]) * (1 + Fraction(floor_pct) / 100), 0)) for k in keys}
    caps = {k: int(half_up(Fraction(base[k]) * (1 + Fraction(cap_pct) / 100), 0)) for k in keys}
    gains = {}
    for k in keys:
        if aim[k] < floors[k]:
            gains[k] = 0
        else:
            gains[k] = min(aim[k], caps[k]) - floors[k]
    headroom = budget - sum(floors.values())
    if headroom >= 0 and sum(gains.values()) > 0:
        shares = largest_remainder(headroom, gains, keys)
        return {k: floors[k] + shares[k] for k in keys}
    if headroom >= 0:
        shares = largest_remainder(headroom, floors, keys)
        return {k: floors[k] + shares[k] for k in keys}
    return largest_remainder(budget, floors, keys)
