"""axe-core (as the returns service is checked) finds no serious violation in the HTML reports.

Playwright drives this machine's Chromium (/usr/bin/chromium; no browser is downloaded) and
axe-playwright-python injects the axe-core engine it ships.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from stls_warehouse.reports import annual
from stls_warehouse.reports.monthly import write_monthly_report
from tests.publish.year_fixture import YEAR, copy_home

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


def axe_violations(report: Path) -> list[dict[str, object]]:
    playwright = pytest.importorskip("playwright.sync_api")
    axe = pytest.importorskip("axe_playwright_python.sync_playwright")
    if not Path(CHROMIUM).exists():
        pytest.skip("no Chromium at /usr/bin/chromium")
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
        )
        try:
            page = browser.new_page()
            page.goto(report.as_uri())
            result = axe.Axe().run(page, options={"runOnly": {"type": "tag", "values": RULES}})
        finally:
            browser.close()
    return list(result.response["violations"])


def test_the_html_reports_have_no_serious_accessibility_violation(year_home: Path, tmp_path: Path) -> None:
    home = copy_home(year_home, tmp_path / "home")
    reports = [
        Path(write_monthly_report(home, "2021-22-P07")["report"]),
        Path(annual.write_annual_report(home, YEAR)["html"]),
    ]
    for report in reports:
        violations = axe_violations(report)
        serious = [v for v in violations if v["impact"] in ("serious", "critical")]
        assert not serious, [(v["id"], v["help"]) for v in serious]
        assert not violations, [(v["id"], v["impact"], v["help"]) for v in violations]  # not even minor ones
