"""Waivers: county finance grants and revokes them, append-only; each is a decision file the
pipeline loads; the seed's rows move into the service by migration; auditors cannot act."""

from __future__ import annotations

import json
from datetime import date
from importlib import import_module

import pytest
from django.apps import apps

from stls_portal.county.models import WaiverEvent
from stls_portal.models import AppendOnly, AuditEvent, DecisionRecord
from stls_warehouse import decisions

pytestmark = pytest.mark.django_db
URL = "/county/waivers/CAN/ledger/2021-22-P03/"
FORM = {
    "reason": "The school closed for refurbishment in June",
    "approved_by": "Head of SEN finance",
    "approved_on": "2021-07-02",
}


def _decisions(home):
    return list(decisions.read_all(home / "decisions"))


def test_finance_grants_a_waiver_recorded_as_a_decision_and_shown_at_once(
    portal_home, users, client_for, publisher
):
    publisher.publish([])
    browser = client_for(users["finance"])
    page = browser.post(URL, FORM, follow=True)
    assert page.status_code == 200
    assert "This return is not expected" in page.content.decode()

    [decision] = _decisions(portal_home)
    assert (decision.kind, decision.sla_code, decision.return_type, decision.period_key) == (
        "waiver_granted",
        "CAN",
        "ledger",
        "2021-22-P03",
    )
    assert (decision.text, decision.actor, decision.actor_role) == (
        FORM["reason"],
        "finance",
        "county_finance",
    )
    event = WaiverEvent.objects.get()
    assert (event.decision_id, event.approved_by, event.approved_on) == (
        decision.decision_id,
        "Head of SEN finance",
        date(2021, 7, 2),
    )
    assert DecisionRecord.objects.get().kind == "waiver_granted"
    audited = AuditEvent.objects.get(action="waiver_granted")
    assert (audited.actor, audited.sla_code, audited.detail["decision_id"]) == (
        "finance",
        "CAN",
        event.decision_id,
    )
    approval = AuditEvent.objects.get(action="waiver_approval")
    assert (approval.detail["approved_by"], approval.detail["approved_on"]) == (
        "Head of SEN finance",
        "2021-07-02",
    )
    # the school's own page reads the same decision
    assert client_for(users["submitter"]).get("/sla/CAN/returns/ledger/2021-22-P03/").status_code == 404
    assert "Waived" in browser.get("/sla/CAN/?year=2021-22").content.decode()

    matrix = browser.get("/county/?year=2021-22").context["matrix"]
    row = next(r for r in matrix.rows if r.sla.sla_code == "CAN")
    cell = next(c for c in row.ledger if c.row.period_key == "2021-22-P03")
    assert (cell.row.status, cell.waiver_pending) == ("Waived", "granted")
    assert "Waivers in force" in (listing := browser.get("/county/waivers/").content.decode())
    assert FORM["reason"] in listing


def test_a_waiver_is_revoked_by_a_second_decision_and_history_is_kept(portal_home, users, client_for):
    browser = client_for(users["finance"])
    browser.post(URL, FORM)
    assert browser.post(URL, FORM | {"reason": "The return came after all"}).status_code == 302
    kinds = [d.kind for d in _decisions(portal_home)]
    assert kinds == ["waiver_granted", "waiver_revoked"]
    page = browser.get(URL).content.decode()
    assert (
        "This return is expected" in page and FORM["reason"] in page and "The return came after all" in page
    )
    assert WaiverEvent.objects.count() == 2


def test_a_waiver_needs_a_reason_and_says_so(portal_home, users, client_for):
    page = client_for(users["finance"]).post(URL, FORM | {"reason": " "})
    assert page.status_code == 400
    html = page.content.decode()
    assert "govuk-error-summary" in html and 'href="#id_reason"' in html
    assert "Enter the reason the return will not come" in html
    assert _decisions(portal_home) == [] and WaiverEvent.objects.count() == 0


def test_an_auditor_cannot_grant_a_waiver(portal_home, users, client_for):
    browser = client_for(users["auditor"])
    assert browser.get(URL).status_code == 200
    assert "Grant the waiver" not in browser.get(URL).content.decode()
    assert browser.post(URL, FORM).status_code == 403
    assert _decisions(portal_home) == [] and WaiverEvent.objects.count() == 0


def test_a_waiver_for_no_such_return_is_not_found(portal_home, users, client_for):
    browser = client_for(users["finance"])
    assert browser.get("/county/waivers/XXX/ledger/2021-22-P03/").status_code == 404
    assert browser.post("/county/waivers/CAN/ledger/2021-22-P14/", FORM).status_code == 404


def test_waiver_events_are_append_only(portal_home, users, client_for):
    client_for(users["finance"]).post(URL, FORM)
    event = WaiverEvent.objects.get()
    event.reason = "changed"
    with pytest.raises(AppendOnly):
        event.save()
    with pytest.raises(AppendOnly):
        WaiverEvent.objects.all().delete()
    with pytest.raises(AppendOnly):
        WaiverEvent.objects.update(reason="changed")


def test_the_seed_rows_move_into_the_service_once(portal_home, monkeypatch):
    migration = import_module("stls_portal.county.migrations.0002_waivers_from_seed")
    row = {
        "sla_code": "CPD",
        "return_type": "kpi",
        "period_key": "2021-08",
        "reason": "No outreach in August",
        "approved_by": "J. Smith",
        "approved_on": "2021-09-01",
    }
    from stls_warehouse import reference

    monkeypatch.setattr(reference, "seed_rows", lambda name: [row] if name == "ref_return_waivers" else [])
    migration.move_seed_rows(apps, None)
    migration.move_seed_rows(apps, None)
    event = WaiverEvent.objects.get()
    assert (event.source, event.reason, event.approved_by, event.recorded_by) == (
        "seed",
        "No outreach in August",
        "J. Smith",
        None,
    )
    [decision] = _decisions(portal_home)
    assert (decision.kind, decision.decision_id, decision.actor) == (
        "waiver_granted",
        event.decision_id,
        "J. Smith",
    )
    on_disk = json.loads(decisions.path_for(portal_home / "decisions", decision).read_text())
    assert on_disk["text"] == "No outreach in August"
