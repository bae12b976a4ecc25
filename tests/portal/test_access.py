"""Who may reach what: every URL pattern walked as a user of another SLA, the security headers,
lock-out after repeated failed sign-ins, the append-only audit log, the demo accounts."""

from __future__ import annotations

import hashlib
import re
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver

from stls_portal.models import AppendOnly, AuditEvent, Upload, User
from tests.factories import csv_bytes, ledger_rows
from tests.portal.conftest import query_row, status_row

pytestmark = pytest.mark.django_db

# Values for every URL parameter, naming SWA's things; the walker uses them for each pattern.
PUBLIC = {"login", "health", "help", "help_error", "help_warning"}
NOT_SLA = {"home", "logout"}


def _patterns(resolver: URLResolver, prefix: str = "") -> list[tuple[str, str]]:
    found = []
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            if str(entry.pattern).startswith(("admin/", "oidc/", "county/")):  # county: tests/portal/county
                continue
            found += _patterns(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            found.append((entry.name or "", prefix + str(entry.pattern)))
    return found


def _fill(pattern: str, values: dict[str, str]) -> str:
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], pattern)


@pytest.fixture
def swa_things(portal_home, users, client_for, publisher) -> dict[str, str]:
    """A published SWA return with a query, an accepted and a rejected SWA upload."""
    data = csv_bytes(ledger_rows(n=3))
    sha = hashlib.sha256(data).hexdigest()
    publisher.publish(
        [status_row("SWA", "ledger", "2021-22-P07", sha, open_queries=1)],
        [query_row("SWA", "ledger", "2021-22-P07", sha, "amount_within_history")],
        files={sha: ("LEDGER_SWA_2021-22_P07.csv", data)},
    )
    browser = client_for(users["submitter"])
    browser.post("/sla/SWA/upload/", {"file": _file("LEDGER_SWA_2021-22_P08.csv", ledger_rows(period=8))})
    bad = ledger_rows(period=9)
    bad[0]["amount"] = "lots"
    browser.post("/sla/SWA/upload/", {"file": _file("LEDGER_SWA_2021-22_P09.csv", bad)})
    rejected = Upload.objects.get(status="REJECTED")
    return {
        "sla_code": "SWA",
        "return_type": "ledger",
        "period_key": "2021-22-P07",
        "upload_id": rejected.id,
        "rule": "amount_within_history",
        "fmt": "xlsx",
        "code": "AMOUNT_INVALID",
    }


def _file(name: str, rows: list[dict[str, Any]]) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, csv_bytes(rows))


def test_every_url_of_an_sla_is_closed_to_a_user_of_another_sla(swa_things, users, client_for):
    patterns = _patterns(get_resolver())
    assert {name for name, _ in patterns} >= {
        "sla",
        "template",
        "upload_form",
        "upload",
        "rejection",
        "return",
    }
    outsider = client_for(users["other"])
    owner = client_for(users["submitter"])
    walked = 0
    for name, pattern in patterns:
        if name in PUBLIC or name in NOT_SLA:
            continue
        url = _fill(pattern, swa_things)
        assert owner.get(url).status_code in (200, 405), f"{name} {url} should open for SWA's submitter"
        for method in (outsider.get, outsider.post):
            status = method(url).status_code
            assert status in (403, 404), f"{name} {url}: {status} for a user of THA"
        walked += 1
    assert walked >= 8
    assert Upload.objects.filter(sla_code="THA").count() == 0


def test_an_uploads_id_under_another_sla_is_not_found(swa_things, users, client_for):
    """The upload's own SLA is checked, not only the one in the URL."""
    browser = client_for(users["other"])
    assert browser.get(f"/sla/THA/uploads/{swa_things['upload_id']}/").status_code == 404
    assert browser.get(f"/sla/THA/uploads/{swa_things['upload_id']}/rejection.xlsx").status_code == 404


def test_county_roles_read_but_do_not_act(swa_things, users, client_for):
    for role in ("finance", "auditor"):
        browser = client_for(users[role])
        assert browser.get("/sla/SWA/").status_code == 200
        assert browser.get("/sla/SWA/upload/").status_code == 403
        assert (
            browser.post("/sla/SWA/returns/ledger/2021-22-P07/sign-off/", {"declaration": "on"}).status_code
            == 403
        )
        explain = "/sla/SWA/returns/ledger/2021-22-P07/queries/amount_within_history/explain/"
        assert browser.post(explain, {"explanation": "x"}).status_code == 403


def test_signed_out_users_are_sent_to_sign_in(client, swa_things):
    response = client.get("/sla/SWA/")
    assert response.status_code == 302 and response["Location"].startswith("/sign-in/")


def test_security_headers_on_every_page(client, users):
    response = client.get("/sign-in/")
    policy = response["Content-Security-Policy"]
    assert (
        "unsafe-inline" not in policy and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert "<script>" not in response.content.decode(), "no inline script"
    assert 'style="' not in response.content.decode(), "no inline style"


def test_sign_in_locks_out_after_repeated_failures(client, users):
    for _ in range(5):
        failed = client.post("/sign-in/", {"username": "swa.submitter", "password": "wrong"})
        assert failed.status_code in (200, 429)
    locked = client.post("/sign-in/", {"username": "swa.submitter", "password": "a long test password"})
    assert locked.status_code == 429
    assert "too many failed attempts" in locked.content.decode()
    assert AuditEvent.objects.filter(action="sign_in_failed", actor="swa.submitter").count() >= 5
    assert AuditEvent.objects.filter(action="locked_out").exists()
    assert not AuditEvent.objects.filter(action="sign_in").exists()


def test_sign_in_with_the_right_password_is_audited(client, users):
    response = client.post("/sign-in/", {"username": "swa.submitter", "password": "a long test password"})
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="sign_in")
    assert (event.actor, event.actor_role, event.ip_address) == (
        "swa.submitter",
        "school_submitter",
        "127.0.0.1",
    )
    assert User.objects.get(username="swa.submitter").password.startswith("argon2")


def test_the_audit_log_is_append_only(users):
    event = AuditEvent.objects.create(actor="x", action="test")
    with pytest.raises(AppendOnly):
        event.save()
    with pytest.raises(AppendOnly):
        AuditEvent.objects.all().delete()
    with pytest.raises(AppendOnly):
        AuditEvent.objects.update(action="changed")
    from django.db.utils import DatabaseError

    with pytest.raises(DatabaseError), connection.cursor() as cursor:
        cursor.execute("update stls_portal_auditevent set action = 'changed'")


def test_demo_accounts_print_their_passwords_once(db):
    out = StringIO()
    call_command("portal_demo_users", stdout=out)
    printed = out.getvalue()
    assert "swa.submitter" in printed and "swa.approver" in printed and "finance" in printed
    assert User.objects.filter(role="school_submitter").count() == 14
    assert User.objects.filter(role="school_approver").count() == 14
    line = next(line for line in printed.splitlines() if line.strip().startswith("swa.submitter"))
    password = line.split()[1]
    user = User.objects.get(username="swa.submitter")
    assert user.check_password(password) and password not in user.password
    again = StringIO()
    call_command("portal_demo_users", stdout=again)
    assert "exist already" in again.getvalue()
