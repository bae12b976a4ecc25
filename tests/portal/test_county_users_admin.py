"""Users are managed in the service: an administrator creates users in Django's admin, sets their
role and ticks their SLAs; each change is audited with who made it and what access it gave or
took away, deletions of several users too; an administrator made there can use the admin."""

from __future__ import annotations

from typing import Any

import pytest

from stls_portal.county import chain
from stls_portal.models import AuditEvent, User

pytestmark = pytest.mark.django_db
PASSWORD = "a long test password 2026"


@pytest.fixture
def administrator(make_user) -> Any:
    admin = make_user("admin", "administrator")
    admin.is_staff = admin.is_superuser = True  # as the demo accounts and OIDC sign-ins set it
    admin.save()
    return admin


def _add(browser: Any, username: str, role: str, slas: list[str]) -> Any:
    return browser.post(
        "/admin/stls_portal/user/add/",
        {
            "username": username,
            "usable_password": "true",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "first_name": "Sam",
            "last_name": "Smith",
            "email": f"{username}@example.org",
            "role": role,
            "sla_codes": slas,
            "_save": "Save",
        },
    )


def _change(browser: Any, user: User, **values: Any) -> Any:
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "role": user.role,
        "sla_codes": list(user.sla_codes),
        "is_active": "on" if user.is_active else "",
        **values,
    }
    return browser.post(
        f"/admin/stls_portal/user/{user.pk}/change/", {k: v for k, v in data.items() if v != ""}
    )


def test_an_administrator_creates_a_school_user_with_a_role_and_slas(administrator, client_for, portal_home):
    browser = client_for(administrator)
    assert browser.get("/admin/").status_code == 200
    form = browser.get("/admin/stls_portal/user/add/").content.decode()
    assert 'name="role"' in form and 'type="checkbox" name="sla_codes" value="SWA"' in form
    response = _add(browser, "sam.smith", "school_approver", ["SWA", "THA"])
    assert response.status_code == 302, response.content.decode()[:3000]
    user = User.objects.get(username="sam.smith")
    assert (user.role, sorted(user.sla_codes), user.is_staff, user.check_password(PASSWORD)) == (
        "school_approver",
        ["SWA", "THA"],
        False,
        True,
    )
    added = AuditEvent.objects.get(action="admin_added")
    assert (added.actor, added.target) == ("admin", "user sam.smith")
    created = AuditEvent.objects.get(action="user_created")
    assert created.actor == "admin" and created.detail["changed"]["sla_codes"] == [None, ["SWA", "THA"]]
    assert chain.verify().intact


def test_a_change_of_role_and_slas_is_audited_before_and_after(administrator, users, client_for, portal_home):
    browser = client_for(administrator)
    target = users["submitter"]
    response = _change(browser, target, role="school_approver", sla_codes=["THA"])
    assert response.status_code == 302, response.content.decode()[:3000]
    target.refresh_from_db()
    assert (target.role, target.sla_codes) == ("school_approver", ["THA"])
    changed = AuditEvent.objects.get(action="user_access_changed")
    assert (changed.actor, changed.target, changed.sla_code) == ("admin", "user swa.submitter", "THA")
    assert changed.detail["changed"] == {
        "role": ["school_submitter", "school_approver"],
        "sla_codes": [["SWA"], ["THA"]],
    }
    assert AuditEvent.objects.filter(action="admin_changed", actor="admin").count() == 1

    _change(browser, target, is_active="")  # switched off
    target.refresh_from_db()
    assert not target.is_active
    off = AuditEvent.objects.filter(action="user_access_changed").order_by("-id").first()
    assert off is not None and off.detail["changed"] == {"is_active": [True, False]}


def test_a_school_user_needs_an_sla_and_a_county_user_has_none(administrator, client_for, portal_home):
    browser = client_for(administrator)
    refused = _add(browser, "no.sla", "school_submitter", [])
    assert (
        refused.status_code == 200 and "Tick the SLAs this school user acts for" in refused.content.decode()
    )
    assert not User.objects.filter(username="no.sla").exists()
    assert _add(browser, "county.person", "county_finance", ["SWA"]).status_code == 302
    assert User.objects.get(username="county.person").sla_codes == []


def test_an_administrator_made_in_the_admin_can_use_it_and_others_cannot(
    administrator, users, client_for, portal_home
):
    assert _add(client_for(administrator), "second.admin", "administrator", []).status_code == 302
    second = User.objects.get(username="second.admin")
    assert second.is_staff and second.is_superuser
    assert client_for(second).get("/admin/stls_portal/user/").status_code == 200
    # a role that is not administrator takes the admin away again
    _change(client_for(administrator), second, role="county_finance")
    second.refresh_from_db()
    assert not second.is_staff and not second.is_superuser
    for role in ("finance", "submitter"):
        assert client_for(users[role]).get("/admin/stls_portal/user/").status_code == 302  # to sign in
    refused = client_for(users["auditor"]).post("/admin/stls_portal/user/add/", {"username": "x"})
    assert refused.status_code == 403 and not User.objects.filter(username="x").exists()


def test_deleting_several_users_audits_each(administrator, make_user, client_for, portal_home):
    leavers = [make_user(f"leaver{n}", "school_submitter", ["SWA"]) for n in range(2)]
    response = client_for(administrator).post(
        "/admin/stls_portal/user/",
        {"action": "delete_selected", "_selected_action": [u.pk for u in leavers], "post": "yes"},
    )
    assert response.status_code == 302
    assert not User.objects.filter(username__startswith="leaver").exists()
    deleted = AuditEvent.objects.filter(action="admin_deleted")
    assert sorted(e.target for e in deleted) == ["user leaver0", "user leaver1"]
    assert {e.actor for e in deleted} == {"admin"} and chain.verify().intact
