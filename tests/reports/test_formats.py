"""Each column kind is shown as its kind; KPI targets in their unit; chart ticks exact."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from stls_warehouse import reference
from stls_warehouse.catalog import published_docs
from stls_warehouse.reports.charts import money_labels
from stls_warehouse.reports.document import display, millions


@pytest.mark.parametrize(
    ("value", "kind", "shown"),
    [
        (Decimal("-44757.76"), "money", "-£44,758"),
        (Decimal("8534936.00"), "money", "£8,534,936"),
        (Decimal("5.9"), "percentage", "5.9%"),
        (Decimal("90.0"), "percentage", "90.0%"),
        (Decimal("10.0"), "days", "10.0 days"),
        (Decimal("4.20"), "score", "4.2"),
        (Decimal("12.00"), "count", "12"),
        (1234, "count", "1,234"),
        (Decimal("12.50"), "fte", "12.5 FTE"),
        (7, "code", "7"),
        (2021, "code", "2021"),
        (None, "money", "\u2013"),
        (True, "flag", "yes"),
        (date(2022, 6, 30), "date", "30 June 2022"),
        (datetime(2026, 12, 4, 16, 55), "timestamp", "4 December 2026 16:55 UTC"),
    ],
)
def test_each_kind_is_shown_as_its_kind(value: object, kind: str, shown: str) -> None:
    assert display(value, kind) == shown


def test_every_kpi_target_prints_in_its_unit() -> None:
    """Targets used to print as money (£2 drop-ins, £10 days, £90 per cent)."""
    suffix = {"percent": "%", "days": " days", "count": "", "score": "", "fte": " FTE"}
    targets = [k for k in reference.kpi_definitions().values() if k.target is not None]
    assert {k.unit for k in targets} >= {"percent", "days", "count", "score"}
    for kpi in targets:
        shown = display(kpi.target, "by_unit", kpi.unit)
        assert "£" not in shown and shown.endswith(suffix[kpi.unit]), (kpi.kpi_code, shown)
    assert display(Decimal("2"), "by_unit", "count") == "2"
    assert display(Decimal("10.0"), "by_unit", "days") == "10.0 days"
    assert display(Decimal("90.0"), "by_unit", "percent") == "90.0%"
    assert display(Decimal("4.2"), "by_unit", "score") == "4.2"


def test_the_kpi_marts_declare_their_targets_by_unit() -> None:
    for table in ("mart_kpi_monthly", "dim_kpi"):
        assert published_docs()[table].columns["target"].kind == "by_unit"


def test_money_ticks_are_exact() -> None:
    """A £250k grid labels 1.25m as £1.25m, never "£1.2m"."""
    ticks = [0.0, 250_000.0, 500_000.0, 750_000.0, 1_000_000.0, 1_250_000.0]
    labels = money_labels(ticks)
    assert labels == ["£0", "£0.25m", "£0.50m", "£0.75m", "£1.00m", "£1.25m"]
    assert len(set(labels)) == len(labels)
    assert money_labels([0.0, 2e6, 4e6, 6e6]) == ["£0", "£2m", "£4m", "£6m"]
    assert money_labels([-50_000.0, 0.0, 50_000.0]) == ["-£50k", "£0", "£50k"]


def test_headline_money_is_to_the_nearest_ten_thousand() -> None:
    assert millions(Decimal("9036332.00")) == "£9.04m"
    assert millions(Decimal("-501396")) == "-£0.50m"
