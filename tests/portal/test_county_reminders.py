"""Chasing: county finance sends a school's contacts a reminder of its overdue returns, through
a real SMTP server on loopback; the reminder is recorded with who sent it, when and to whom."""

from __future__ import annotations

import pytest

from stls_portal.county.models import Reminder
from stls_portal.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_finance_chases_a_school_for_its_overdue_returns(portal_home, users, client_for, publisher, inbox):
    publisher.publish([])
    browser = client_for(users["finance"])
    page = browser.get("/county/remind/SWA/?year=2021-22")
    overdue = [c.row.period_key for c in page.context["overdue"]]
    assert "2021-22-P01" in overdue and "2021-04" in overdue
    assert page.context["contacts"] == ["swa.approver@example.org", "swa.submitter@example.org"]
    assert 'href="/county/remind/SWA/?year=2021-22"' in browser.get("/county/?year=2021-22").content.decode()

    response = browser.post("/county/remind/SWA/?year=2021-22")
    assert response.status_code == 302
    [message] = inbox
    assert sorted(message["To"].split(", ")) == ["swa.approver@example.org", "swa.submitter@example.org"]
    assert "Swale STLS" in message["Subject"] and f"{len(overdue)} overdue returns" in message["Subject"]
    body = message.get_payload()
    assert "Ledger return 2021-22-P01, due" in body and "KPI return 2021-04" in body
    reminder = Reminder.objects.get()
    assert (reminder.sent_by, reminder.sla_code, len(reminder.returns)) == (
        users["finance"],
        "SWA",
        len(overdue),
    )
    audited = AuditEvent.objects.get(action="reminder_sent")
    assert (audited.actor, audited.sla_code) == ("finance", "SWA")
    assert "finance" in browser.get("/county/remind/SWA/?year=2021-22").content.decode()


def test_a_school_with_nothing_overdue_is_not_chased(
    portal_home, users, client_for, publisher, inbox, monkeypatch
):
    monkeypatch.setenv("STLS_AS_OF_DATE", "2021-04-02")
    publisher.publish([])
    response = client_for(users["finance"]).post("/county/remind/SWA/?year=2021-22")
    assert response.status_code == 400 and "no overdue return" in response.content.decode()
    assert inbox == [] and not Reminder.objects.exists()


def test_auditors_and_schools_cannot_send_reminders(portal_home, users, client_for, publisher, inbox):
    publisher.publish([])
    assert client_for(users["auditor"]).post("/county/remind/SWA/").status_code == 403
    assert client_for(users["submitter"]).post("/county/remind/SWA/").status_code == 403
    assert inbox == [] and not Reminder.objects.exists()
