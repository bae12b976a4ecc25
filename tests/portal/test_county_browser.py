"""The county's journeys in a real browser (Playwright driving Debian's Chromium against a live
server), with axe-core on every page visited: finance reads the matrix, grants a waiver, chases a
school, drills from an outturn to a source row; an auditor changes nothing and checks the chain.
Slow: `make test-integration`."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from stls_portal.county.models import Reminder, WaiverEvent
from stls_portal.models import AuditEvent
from stls_warehouse import decisions
from tests.portal import test_browser, test_county_figures
from tests.portal.test_browser import Portal

# The shared fixtures: the browser and page helpers, a small release, a loopback SMTP server.
browser, portal = test_browser.browser, test_browser.portal
release = test_county_figures.release  # the fixture, shared (the SMTP inbox is in conftest)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_finance_reads_the_matrix_and_grants_a_waiver(portal: Portal, release: Any, portal_home: Any) -> None:
    from playwright.sync_api import expect

    portal.sign_in_as("finance")
    portal.go("/county/?year=2021-22")
    ledgers = portal.page.get_by_role("table", name="Monthly finance ledgers")
    expect(ledgers.get_by_role("columnheader", name="P7")).to_be_visible()
    expect(ledgers.get_by_role("rowheader", name=re.compile("^CAN"))).to_be_visible()
    portal.screenshot("county_matrix")
    ledgers.get_by_role("link", name="Overdue CAN ledger 2021-22-P03").click()
    portal.check_accessibility()
    portal.page.get_by_label("Reason").fill("The school was closed for refurbishment")
    portal.page.get_by_label("Approved by").fill("Head of SEN finance")
    portal.page.get_by_role("button", name="Grant the waiver").click()
    portal.check_accessibility()
    expect(portal.page.locator("main")).to_contain_text("This return is not expected")
    [decision] = list(decisions.read_all(portal_home / "decisions"))
    assert (decision.kind, decision.text) == ("waiver_granted", "The school was closed for refurbishment")
    portal.go("/county/?year=2021-22")
    expect(portal.page.get_by_role("link", name="Waived CAN ledger 2021-22-P03")).to_be_visible()


def test_finance_chases_a_school_and_the_reminder_arrives(portal: Portal, release: Any, inbox: Any) -> None:
    from playwright.sync_api import expect

    portal.sign_in_as("finance")
    portal.go("/county/?year=2021-22")
    portal.page.get_by_role("link", name=re.compile("^Chase SWA")).click()
    portal.check_accessibility()
    portal.page.get_by_role("button", name="Send the reminder").click()
    portal.check_accessibility()
    expect(portal.page.locator("main")).to_contain_text("The reminder was sent")
    assert len(inbox) == 1 and "Swale STLS" in inbox[0]["Subject"]
    assert Reminder.objects.get().sent_by.username == "finance"


def test_finance_drills_from_the_outturn_to_a_source_row(portal: Portal, release: Any) -> None:
    from playwright.sync_api import expect

    portal.sign_in_as("finance")
    portal.go("/county/figures/?year=2021-22")
    portal.page.get_by_role("link", name=re.compile("the DISTRICT outturn by SLA")).click()
    portal.check_accessibility()
    expect(portal.page.locator("main")).to_contain_text("The total is the published outturn")
    portal.page.get_by_role("link", name="Swale STLS (SWA)").click()
    portal.check_accessibility()
    portal.page.get_by_role("link", name="2021-22-P07").click()
    portal.check_accessibility()
    amounts = portal.page.locator("td[data-amount]").evaluate_all("cells => cells.map(c => c.dataset.amount)")
    assert sum(Decimal(a) for a in amounts) == Decimal("3006.75")
    expect(portal.page.locator("main")).to_contain_text(release["release_id"])
    portal.page.get_by_role("link", name="Row 2 of the file as sent").click()
    portal.check_accessibility()
    expect(portal.page.locator("h1")).to_have_text("Row 2 of LEDGER_SWA_2021-22_P07.csv")
    expect(portal.page.locator("main")).to_contain_text(release["rows"][0]["line_ref"])


def test_an_auditor_changes_nothing_and_finds_a_tampered_entry(portal: Portal, release: Any) -> None:
    from django.db import connection
    from playwright.sync_api import expect

    portal.sign_in_as("auditor")
    for path in (
        "/county/?year=2021-22",
        "/county/waivers/",
        "/county/audit/",
        "/county/figures/",
        "/county/quality/",
        "/county/reports/",
    ):
        portal.go(path)
    portal.go("/county/waivers/CAN/ledger/2021-22-P03/")
    expect(portal.page.get_by_role("button", name="Grant the waiver")).to_have_count(0)
    token = portal.page.context.cookies()
    csrf = next((c["value"] for c in token if c["name"] == "csrftoken"), "")
    refused = portal.page.request.post(
        portal.base_url + "/county/waivers/CAN/ledger/2021-22-P03/",
        form={"reason": "x", "approved_by": "x", "approved_on": "2021-07-02"},
        headers={"X-CSRFToken": csrf, "Referer": portal.base_url + "/"},
    )
    assert refused.status == 403 and not WaiverEvent.objects.exists()
    portal.go("/county/audit/verify/")
    expect(portal.page.locator("main")).to_contain_text("Intact")

    victim = AuditEvent.objects.filter(action="sign_in").order_by("id").first()
    assert victim is not None
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("DROP TRIGGER IF EXISTS stls_portal_auditevent_no_update")
        else:
            cursor.execute("ALTER TABLE stls_portal_auditevent DISABLE TRIGGER USER")
        cursor.execute("UPDATE stls_portal_auditevent SET actor = %s WHERE id = %s", ["nobody", victim.pk])
        if connection.vendor == "sqlite":
            cursor.execute(
                "CREATE TRIGGER stls_portal_auditevent_no_update BEFORE UPDATE ON stls_portal_auditevent "
                "BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END"
            )
        else:
            cursor.execute("ALTER TABLE stls_portal_auditevent ENABLE TRIGGER USER")
    portal.go("/county/audit/verify/")
    expect(portal.page.locator("#first-broken")).to_contain_text(f"Entry {victim.pk} is the first")
    portal.screenshot("county_audit_broken")
