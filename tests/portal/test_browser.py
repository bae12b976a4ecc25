"""A school user's journeys in a real browser: Playwright driving Debian's Chromium against the
service on a live server. axe-core (from npm, served by the service itself) checks every page
visited for serious or critical violations. Slow: `make test-integration`."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.factories import csv_bytes, kpi_rows, kpi_xlsx_bytes, ledger_rows
from tests.portal.conftest import query_row, status_row

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
# Playwright's sync API runs an event loop in this thread; the test's own database calls are
# ordinary synchronous ones.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "a long test password"
SHOTS = (
    Path(os.environ.get("STLS_PORTAL_SCREENSHOTS", "")) if os.environ.get("STLS_PORTAL_SCREENSHOTS") else None
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-background-networking"]
        )
        yield chromium
        chromium.close()


class Portal:
    """Page helpers: the steps a school user takes, shared by every journey."""

    def __init__(self, page: Any, base_url: str, tmp: Path) -> None:
        self.page = page
        self.base_url = base_url
        self.tmp = tmp
        self.checked: list[str] = []

    def go(self, path: str) -> None:
        self.page.goto(self.base_url + path)
        self.check_accessibility()

    def sign_in_as(self, username: str, password: str = PASSWORD) -> None:
        self.page.goto(self.base_url + "/sign-in/")
        self.check_accessibility()
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        self.check_accessibility()

    def upload(self, name: str, data: bytes, sla: str = "SWA") -> None:
        self.go(f"/sla/{sla}/upload/")
        self.page.locator("input[type=file]").set_input_files(
            files=[{"name": name, "mimeType": "application/octet-stream", "buffer": data}]
        )
        self.page.get_by_role("button", name="Upload and check").click()
        self.page.wait_for_load_state()
        self.check_accessibility()

    @property
    def error_summary(self) -> Any:
        return self.page.locator(".govuk-error-summary")

    def screenshot(self, name: str) -> None:
        if SHOTS is not None:
            SHOTS.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def check_accessibility(self) -> None:
        """axe-core on the page: no serious or critical violation."""
        self.page.add_script_tag(url=self.base_url + "/static/stls_portal/build/axe.min.js")
        result = self.page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
        bad = [
            f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert not bad, f"{self.page.url}: {bad}"
        self.checked.append(self.page.url)


@pytest.fixture
def portal(
    browser: Any, live_server: Any, audit_triggers: None, portal_home: Path, users: Any, tmp_path: Path
) -> Iterator[Portal]:
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    yield Portal(page, live_server.url, tmp_path)
    context.close()


def test_sign_in_upload_good_csv_and_xlsx_and_see_accepted(portal: Portal) -> None:
    from playwright.sync_api import expect

    portal.sign_in_as("swa.submitter")
    expect(portal.page.locator("h1")).to_contain_text("returns for 2021-22")
    portal.screenshot("01_sla_page")
    portal.upload("LEDGER_SWA_2021-22_P07.csv", csv_bytes(ledger_rows(n=200)))
    expect(portal.page.locator(".govuk-panel__title")).to_have_text("Return accepted")
    expect(portal.page.locator(".govuk-panel__body")).to_contain_text("200 lines")
    portal.screenshot("02_accepted")
    portal.upload("KPI_SWA_2021-10.xlsx", kpi_xlsx_bytes(kpi_rows(sla="SWA", month="2021-10")))
    expect(portal.page.locator(".govuk-panel__title")).to_have_text("Return accepted")


def test_a_bad_file_shows_the_error_summary_with_cells_and_the_workbooks_download(portal: Portal) -> None:
    from playwright.sync_api import expect

    rows = ledger_rows(n=5)
    rows[1]["amount"] = "12,34.567"
    rows[3]["posting_date"] = "31/09/2021"
    portal.sign_in_as("swa.submitter")
    portal.upload("LEDGER_SWA_2021-22_P07.csv", csv_bytes(rows))
    expect(portal.error_summary).to_contain_text("The return was rejected")
    expect(portal.error_summary).to_contain_text("first at cell J3")
    expect(portal.page.locator("table")).to_contain_text(["J3"])
    portal.screenshot("03_rejected")
    with portal.page.expect_download() as download:
        portal.page.get_by_role("link", name="Download the problems as a workbook (XLSX)").click()
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))
    assert {row[3] for row in book["Problems"].iter_rows(min_row=2, values_only=True)} >= {"J3"}
    portal.page.locator("a[href='/help/errors/AMOUNT_INVALID/']").first.click()
    portal.check_accessibility()
    expect(portal.page.locator("h1")).to_have_text("The amount is not an amount in pounds")
    portal.go("/sla/SWA/")
    with portal.page.expect_download() as template:
        portal.page.get_by_role("link", name="XLSX template for P7 October 2021").click()
    assert template.value.suggested_filename == "LEDGER_SWA_2021-22_P07.xlsx"


def test_resubmit_see_what_changed_then_confirm(portal: Portal, publisher: Any) -> None:
    from playwright.sync_api import expect

    first = csv_bytes(ledger_rows(n=3))
    sha = hashlib.sha256(first).hexdigest()
    publisher.publish(
        [status_row("SWA", "ledger", "2021-22-P07", sha)], files={sha: ("LEDGER_SWA_2021-22_P07.csv", first)}
    )
    rows = ledger_rows(n=3)
    rows[2]["amount"] = "999.00"
    portal.sign_in_as("swa.submitter")
    portal.upload("LEDGER_SWA_2021-22_P07.csv", csv_bytes(rows))
    expect(portal.page.locator("h2", has_text="What changed")).to_be_visible()
    expect(portal.page.locator("main")).to_contain_text("L0003: amount 1003.25 to 999.00")
    portal.screenshot("04_what_changed")
    portal.page.get_by_role("button", name="Confirm: replace the current version").click()
    portal.check_accessibility()
    expect(portal.page.locator(".govuk-panel__title")).to_have_text("Return accepted")


def test_answer_a_query_and_sign_off_refused_then_accepted(portal: Portal, publisher: Any) -> None:
    from playwright.sync_api import expect

    data = csv_bytes(ledger_rows(n=3))
    sha = hashlib.sha256(data).hexdigest()
    publisher.publish(
        [status_row("SWA", "ledger", "2021-22-P07", sha, open_queries=1)],
        [query_row("SWA", "ledger", "2021-22-P07", sha, "amount_within_history")],
        files={sha: ("LEDGER_SWA_2021-22_P07.csv", data)},
    )
    portal.sign_in_as("swa.approver")
    portal.go("/sla/SWA/returns/ledger/2021-22-P07/")
    portal.page.get_by_label("I confirm this declaration").check()
    portal.page.get_by_role("button", name="Sign off the return").click()
    portal.check_accessibility()
    expect(portal.error_summary).to_contain_text("You cannot sign off while 1 query is not answered")
    portal.screenshot("05_sign_off_refused")
    portal.page.get_by_label("Explain what was found for amount_within_history").fill("A one-off payment.")
    portal.page.get_by_role("button", name="Send explanation for amount_within_history").click()
    portal.check_accessibility()
    expect(portal.page.locator(".govuk-summary-card")).to_contain_text("Answered")
    portal.page.get_by_label("I confirm this declaration").check()
    portal.page.get_by_role("button", name="Sign off the return").click()
    portal.check_accessibility()
    expect(portal.page.locator("main")).to_contain_text("This version is signed off.")
    portal.screenshot("06_signed_off")


def test_another_slas_urls_are_not_found(portal: Portal) -> None:
    portal.sign_in_as("tha.submitter")
    for path in ("/sla/SWA/", "/sla/SWA/upload/", "/sla/SWA/returns/ledger/2021-22-P07/"):
        response = portal.page.goto(portal.base_url + path)
        assert response is not None and response.status in (403, 404), path


def test_lock_out_after_repeated_failures(portal: Portal) -> None:
    from playwright.sync_api import expect

    for _ in range(5):
        portal.sign_in_as("swa.submitter", "wrong password")
    portal.sign_in_as("swa.submitter")
    expect(portal.page.locator("h1")).to_have_text("Your account is locked for now")


def test_a_file_over_20_mb_is_refused(portal: Portal) -> None:
    from playwright.sync_api import expect

    portal.sign_in_as("swa.submitter")
    portal.upload("LEDGER_SWA_2021-22_P07.csv", b"a" * (20 * 2**20 + 1))
    expect(portal.page.locator(".govuk-error-message")).to_contain_text("the file is over 20 MB")


def test_keyboard_only(portal: Portal) -> None:
    """Sign in and upload with the keyboard alone: every control is reached by Tab."""
    from playwright.sync_api import expect

    page = portal.page
    page.goto(portal.base_url + "/sign-in/")
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to main content")
    page.keyboard.press("Enter")
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "id_username":
            break
    page.keyboard.type("swa.submitter")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_contain_text("returns for")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Upload a return":
            break
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Upload a return")


def test_county_and_help_pages_pass_axe(portal: Portal) -> None:
    """The pages a school user reads for help, and a county user's list of SLAs."""
    from playwright.sync_api import expect

    portal.sign_in_as("finance")
    expect(portal.page.locator("h1")).to_have_text("Service level agreements")
    portal.go("/help/")
    portal.screenshot("07_help")
    portal.page.locator("a[href^='/help/warnings/']").first.click()
    portal.check_accessibility()
    expect(portal.page.locator(".govuk-caption-l")).to_contain_text("Query on")
    portal.go("/help/errors/KPI_MISSING/")
    portal.go("/sla/SWA/returns/ledger/2021-22-P05/")
    expect(portal.page.get_by_role("button", name="Waive the return")).to_be_visible()
