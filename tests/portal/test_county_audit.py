"""Auditors: read-only everywhere (every POST refused by one middleware), the audit log
searchable and exported as CSV, a hash chain that names the first changed or missing entry,
and a financial year's log exported with its check for the evidence pack."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver

from stls_portal.county import chain
from stls_portal.county.models import AuditSeal, WaiverEvent
from stls_portal.models import AuditEvent, DecisionRecord, Upload

pytestmark = pytest.mark.django_db

VALUES = {
    "sla_code": "SWA",
    "return_type": "ledger",
    "period_key": "2021-22-P07",
    "upload_id": "0" * 32,
    "rule": "amount_within_history",
    "fmt": "xlsx",
    "code": "AMOUNT_INVALID",
    "year": "2021-22",
    "service_line": "DISTRICT",
    "sha256": "0" * 64,
    "row": "2",
    "kind": "dq",
    "name": "latest.html",
}


def _every_url() -> list[str]:
    def walk(resolver: URLResolver, prefix: str = "") -> list[str]:
        found = []
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                if str(entry.pattern).startswith(("admin/", "oidc/")):
                    continue
                found += walk(entry, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern) and entry.name != "logout":
                found.append(
                    "/"
                    + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: VALUES[m.group(1)], prefix + str(entry.pattern))
                )
        return found

    return walk(get_resolver())


def _sign_in_events(client_for, users, n: int = 3) -> None:
    for _ in range(n):
        client_for(users["finance"]).get("/county/")


def test_every_post_as_an_auditor_is_refused_before_the_view(portal_home, users, client_for, publisher):
    publisher.publish([])
    browser = client_for(users["auditor"])
    urls = _every_url()
    assert len(urls) >= 20 and "/county/waivers/SWA/ledger/2021-22-P07/" in urls
    for url in urls:
        for method in (browser.post, browser.put, browser.delete):
            assert method(url).status_code == 403, url
    assert browser.post("/admin/login/").status_code == 403
    assert (
        not Upload.objects.exists()
        and not DecisionRecord.objects.exists()
        and not WaiverEvent.objects.exists()
    )
    refused = AuditEvent.objects.filter(action="refused_read_only", actor="auditor")
    assert refused.count() == 3 * len(urls) + 1
    # reading is allowed, and signing out too
    for url in ("/county/", "/county/figures/", "/county/audit/", "/county/audit/verify/", "/sla/SWA/"):
        assert browser.get(url).status_code in (200, 404), url
    assert browser.get("/county/").status_code == 200
    assert browser.post("/sign-out/").status_code == 302


def test_the_chain_is_intact_after_real_actions_and_the_command_says_so(portal_home, users, client_for):
    client_for(users["finance"]).post(
        "/county/waivers/CAN/ledger/2021-22-P03/",
        {"reason": "closed", "approved_by": "Head of finance", "approved_on": "2021-07-02"},
    )
    client_for(users["auditor"]).post("/county/waivers/CAN/ledger/2021-22-P03/")
    assert AuditEvent.objects.count() >= 2
    assert AuditSeal.objects.count() == AuditEvent.objects.count()
    verdict = chain.verify()
    assert verdict.intact and verdict.entries == AuditEvent.objects.count()
    out = io.StringIO()
    call_command("portal_audit_verify", stdout=out)
    assert f"intact: {verdict.entries} entries" in out.getvalue()


def _tamper(sql: str, params: list[object]) -> None:
    """What someone with the database owner's rights could do: drop the triggers, then edit."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("DROP TRIGGER IF EXISTS stls_portal_auditevent_no_update")
            cursor.execute("DROP TRIGGER IF EXISTS stls_portal_auditevent_no_delete")
        else:
            cursor.execute("ALTER TABLE stls_portal_auditevent DISABLE TRIGGER USER")
        cursor.execute(sql, params)


def test_a_changed_entry_is_named_as_the_first_break(portal_home, users, client_for):
    from stls_portal import audit

    for n in range(5):
        audit.record(None, "test_action", actor="someone", target=f"thing {n}")
    third = list(AuditEvent.objects.order_by("id"))[2]
    _tamper("UPDATE stls_portal_auditevent SET target = %s WHERE id = %s", ["something else", third.pk])
    verdict = chain.verify()
    assert (verdict.intact, verdict.first_broken) == (False, third.pk)
    assert "changed" in verdict.reason
    with pytest.raises(CommandError, match=f"broken at entry {third.pk} "):
        call_command("portal_audit_verify")
    page = client_for(users["auditor"]).get("/county/audit/verify/").content.decode()
    assert f"Entry {third.pk} is the first that breaks the chain" in page


def test_a_removed_entry_breaks_the_link_of_the_one_after_it(portal_home, users):
    from stls_portal import audit

    for n in range(4):
        audit.record(None, "test_action", actor="someone", target=f"thing {n}")
    events = list(AuditEvent.objects.order_by("id"))
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM county_auditseal WHERE event_id = %s", [events[1].pk])
    _tamper("DELETE FROM stls_portal_auditevent WHERE id = %s", [events[1].pk])
    verdict = chain.verify()
    assert (verdict.intact, verdict.first_broken) == (False, events[2].pk)


def test_the_log_is_searchable_and_exported_as_csv_with_its_hashes(portal_home, users, client_for):
    from stls_portal import audit

    audit.record(None, "upload", actor="swa.submitter", sla_code="SWA", target="=HYPERLINK(1)")
    audit.record(None, "sign_off", actor="swa.approver", sla_code="SWA", target="ledger 2021-22-P07")
    audit.record(None, "upload", actor="tha.submitter", sla_code="THA", target="x")
    browser = client_for(users["auditor"])
    page = browser.get("/county/audit/?action=upload&sla=swa")
    assert [e.actor for e in page.context["page"]] == ["swa.submitter"]
    assert [e.action for e in browser.get("/county/audit/?q=approver").context["page"]] == ["sign_off"]

    response = browser.get("/county/audit/export.csv?sla=SWA")
    assert response["Content-Disposition"] == 'attachment; filename="stls_audit_log.csv"'
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["action"] for r in rows] == ["upload", "sign_off"]
    assert rows[0]["target"] == "'=HYPERLINK(1)"
    assert all(re.fullmatch(r"[0-9a-f]{64}", r["hash"]) for r in rows)
    assert rows[1]["previous_hash"] == rows[0]["hash"]
    assert AuditEvent.objects.filter(action="download_audit_log", actor="auditor").exists()


def test_a_years_log_is_exported_with_its_check_for_the_evidence_pack(portal_home, users, settings):
    from stls_portal import audit

    for n in range(3):
        audit.record(None, "test_action", actor="someone", target=f"thing {n}")
    # an entry of another financial year stays out of this year's file but in the chain
    year = "2026-27" if datetime.now(UTC).month >= 4 else "2025-26"
    out = io.StringIO()
    call_command("portal_audit_export", "--year", year, stdout=out)
    log = portal_home / "audit" / f"audit_log_{year}.jsonl"
    # the file the evidence pack reads for that year is the one the export wrote
    from stls_warehouse.config import Paths
    from stls_warehouse.reports.evidence import portal_audit_log

    assert portal_audit_log(Paths(portal_home), year) == log
    check = json.loads((portal_home / "audit" / f"audit_log_{year}.check.json").read_text())
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(entries) == AuditEvent.objects.count() and check["this_year"]["intact"]
    assert check["whole_log"]["intact"] and check["file"] == log.name
    assert chain.verify_entries(entries, check["first_previous_hash"]).intact
    entries[1]["target"] = "edited"
    assert chain.verify_entries(entries, check["first_previous_hash"]).first_broken == entries[1]["id"]
    with pytest.raises(CommandError, match="financial year"):
        call_command("portal_audit_export", "--year", "2021")


def test_a_user_changed_in_the_admin_is_audited_with_who_changed_it(portal_home, users, client_for):
    admin = users["finance"]
    admin.is_staff = admin.is_superuser = True
    admin.save()
    browser = client_for(admin)
    target = users["submitter"]
    form = browser.get(f"/admin/stls_portal/user/{target.pk}/change/")
    assert form.status_code == 200
    data = {
        "username": target.username,
        "email": target.email,
        "role": "school_approver",
        "sla_codes": ["SWA"],
        "is_active": "on",
        "date_joined_0": "2021-04-01",
        "date_joined_1": "09:00:00",
        "initial-date_joined_0": "2021-04-01",
        "initial-date_joined_1": "09:00:00",
    }
    response = browser.post(f"/admin/stls_portal/user/{target.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.get(action="admin_changed")
    assert (event.actor, event.target) == ("finance", "user swa.submitter")
    assert "Changed Role" in event.detail["change"]
    assert chain.verify().intact


def test_every_county_url_is_closed_to_school_users(portal_home, users, client_for, publisher):
    publisher.publish([])
    county = [url for url in _every_url() if url.startswith("/county/")]
    assert len(county) >= 14
    for role in ("submitter", "approver", "other"):
        browser = client_for(users[role])
        for url in county:
            assert browser.get(url).status_code == 403, (role, url)
            assert browser.post(url).status_code == 403, (role, url)
    assert not WaiverEvent.objects.exists() and not DecisionRecord.objects.exists()
