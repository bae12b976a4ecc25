"""Data Docs and the data quality summary open in a browser with no network at all, as on an
auditor's locked-down laptop, and show their results."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stls_warehouse.config import Paths
from tests.factories import csv_bytes, ledger_rows
from tests.test_run_report import _take_in

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Chromium at /usr/bin/chromium")


@pytest.fixture
def offline_page() -> Iterator[tuple[Any, list[str]]]:
    """A 1280 px wide page whose every request off this machine fails; the URLs it tried."""
    from playwright.sync_api import sync_playwright

    tried: list[str] = []

    def only_local(route: Any) -> None:
        url = route.request.url
        if url.startswith(("file://", "data:", "about:")):
            route.continue_()
        else:
            tried.append(url)
            route.abort("internetdisconnected")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-background-networking"]
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
        context.route("**/*", only_local)
        try:
            yield context.new_page(), tried
        finally:
            browser.close()


def test_data_docs_and_the_summary_show_their_results_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, offline_page: tuple[Any, list[str]]
) -> None:
    from playwright.sync_api import expect

    monkeypatch.setenv("STLS_HOME", str(tmp_path))
    home = Paths(tmp_path).ensure()
    (home.landing / "LEDGER_SWA_2021-22_P07.csv").write_bytes(csv_bytes(ledger_rows("SWA", period=7)))
    bad = ledger_rows("CAN", period=7)
    bad[1]["amount"] = "12,5"
    (home.landing / "LEDGER_CAN_2021-22_P07.csv").write_bytes(csv_bytes(bad))
    _take_in(home, "offline_run")
    from stls_warehouse.quality.data_docs import write_root_index

    write_root_index(home.reports / "data_docs")
    page, tried = offline_page

    page.goto((home.reports / "data_docs" / "index.html").as_uri())
    expect(page.get_by_role("heading", name="STLS Data Docs")).to_be_visible()
    page.get_by_role("link", name="returns").click()
    expect(page.get_by_role("heading", name="Validation results: returns")).to_be_visible()
    page.get_by_role("link", name="ledger_return", exact=True).click()
    rows = page.locator("table tr")
    expect(rows.filter(has_text="line_ref_unique").first).to_contain_text("PASSED")
    assert rows.count() > 10
    # Styled from the page itself: a passed outcome is green, with no stylesheet fetched.
    colour = page.locator("td.passed").first.evaluate("e => getComputedStyle(e).color")
    assert colour == "rgb(29, 107, 29)"
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280

    page.goto((home.reports / "dq" / "latest.html").as_uri())
    expect(page.get_by_role("heading", name="Rejected at intake (1 file)")).to_be_visible()
    expect(page.locator("table").first).to_contain_text("LEDGER_CAN_2021-22_P07.csv")
    expect(page.get_by_role("heading", name="Returns by SLA")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    page.get_by_role("link", name="returns").click()  # the run's Data Docs, from the summary
    expect(page.get_by_role("heading", name="Validation results: returns")).to_be_visible()

    assert tried == []  # nothing was even asked of the network
