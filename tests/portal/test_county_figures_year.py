"""The 2021-22 DISTRICT outturn of the demo data, 6,488,791, drilled down through the pages to
ledger lines that add up to it, on a year run through the real pipeline and published."""

from __future__ import annotations

from decimal import Decimal

import pytest

from stls_warehouse.intake.values import Cell, parse_money
from tests.publish.year_fixture import year_home as build_year_home

pytestmark = [pytest.mark.django_db, pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def year_home(tmp_path_factory, settings, monkeypatch):
    home = build_year_home(tmp_path_factory)
    monkeypatch.setenv("STLS_HOME", str(home))
    monkeypatch.setenv("STLS_AS_OF_DATE", "2022-06-30")
    settings.HOME = home
    return home


def test_the_district_outturn_is_the_sum_of_the_lines_listed_under_it(year_home, users, client_for):
    browser = client_for(users["finance"])
    forum = browser.get("/county/figures/?year=2021-22").context["rows"]
    district = next(r for r in forum if r["service_line"] == "DISTRICT")
    assert district["outturn"] == Decimal("6488791.00")

    slas = browser.get("/county/figures/2021-22/DISTRICT/").context["drill"]
    assert len(slas.rows) == 12 and slas.agrees
    total, lines = Decimal(0), 0
    for sla in slas.rows:
        for period in browser.get(f"/county/figures/2021-22/DISTRICT/{sla.key}/").context["drill"].rows:
            page = browser.get(f"/county/figures/2021-22/DISTRICT/{sla.key}/{period.key}/")
            total += page.context["total"]
            lines += len(page.context["lines"])
    assert total == Decimal("6488791.00")

    first = page.context["lines"][0]
    row = browser.get(f"/county/source/{first['source_file_sha256']}/{first['source_row']}/")
    cells = {header: value for _, header, value in row.context["source"].cells}
    # the amount as the school wrote it (perhaps "£1,234.56" or "(12.00)"), read by intake's parser
    assert parse_money(Cell("text", cells["amount"])) == first["amount"], cells["amount"]
