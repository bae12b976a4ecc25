"""The schools' contacts: published by the returns service as a file whenever a user changes,
read by the monthly close, whose overdue e-mails reach each late school's contacts (a real
SMTP server on loopback), and county finance's list alone when the file is absent."""

from __future__ import annotations

import json
import logging
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from stls_warehouse.config import Paths
from stls_warehouse.contacts import Contact, ContactsFileInvalid, read_contacts, write_contacts

pytestmark = pytest.mark.django_db

LATE = [
    {"sla_code": "SWA", "return_type": "ledger", "period_key": "2021-22-P02", "due_date": "2021-06-15"},
    {"sla_code": "SWA", "return_type": "kpi", "period_key": "2021-05", "due_date": "2021-06-10"},
    {"sla_code": "THA", "return_type": "ledger", "period_key": "2021-22-P02", "due_date": "2021-06-15"},
]
CLOSE = {"label": "2021-22-P02, 2021-05", "late": LATE}


def _file(home: Path) -> dict[str, Any]:
    return json.loads((home / "contacts" / "sla_contacts.json").read_text())


def test_a_user_change_publishes_the_contacts_once_it_commits(
    portal_home, make_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        approver = make_user("swa.approver", "school_approver", ["SWA", "THA"])
        make_user("finance", "county_finance")
    slas = _file(portal_home)["slas"]
    assert slas["SWA"] == slas["THA"] == [{"name": "swa.approver", "email": "swa.approver@example.org"}]
    assert slas["CAN"] == [] and len(slas) == 14  # every SLA of the register; county users are not contacts

    with django_capture_on_commit_callbacks(execute=True):
        approver.sla_codes = ["THA"]
        approver.first_name, approver.last_name = "Ann", "Approver"
        approver.save()
    slas = _file(portal_home)["slas"]
    assert slas["SWA"] == [] and slas["THA"] == [
        {"name": "Ann Approver", "email": "swa.approver@example.org"}
    ]

    with django_capture_on_commit_callbacks(execute=True):
        approver.is_active = False
        approver.save()
    assert _file(portal_home)["slas"]["THA"] == []
    assert not list((portal_home / "contacts").glob(".*"))  # no temporary file left behind


def test_the_command_publishes_them_and_the_pipeline_reads_them(portal_home, users):
    out = StringIO()
    call_command("portal_publish_contacts", stdout=out)
    assert "2 of 14 SLAs have a contact" in out.getvalue()
    contacts = read_contacts(Paths(portal_home))
    assert contacts is not None
    assert [c.email for c in contacts["SWA"]] == ["swa.approver@example.org", "swa.submitter@example.org"]
    assert contacts["CAN"] == []


def test_a_missing_file_reads_none_and_a_bad_one_is_refused(tmp_path):
    home = Paths(tmp_path)
    assert read_contacts(home) is None
    write_contacts(home, {"SWA": [Contact("a@example.org", "A"), Contact("a@example.org", "A")]})
    assert read_contacts(home) == {"SWA": [Contact("a@example.org", "A")]}
    (tmp_path / "contacts" / "sla_contacts.json").write_text('{"slas": {"SWA": [{"email": "nobody"}]}}')
    with pytest.raises(ContactsFileInvalid, match="not an e-mail address"):
        read_contacts(home)


@pytest.fixture
def alerts_to(inbox, monkeypatch) -> list[Any]:
    """The loopback inbox as the alerts' Airflow SMTP connection, county finance as STLS_ALERT_TO."""
    import os

    uri = os.environ["AIRFLOW_CONN_SMTP_DEFAULT"]
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", uri + "&disable_ssl=true&timeout=10")
    monkeypatch.setenv("STLS_ALERT_TO", "finance@example.org")
    return inbox


def test_the_close_mails_each_late_school_its_contacts(portal_home, users, alerts_to, caplog):
    from stls_warehouse.orchestration.closing import alert_late_returns

    call_command("portal_publish_contacts", stdout=StringIO())
    with caplog.at_level(logging.WARNING):
        result = alert_late_returns(CLOSE)
    assert result == {"late": 3, "alert_sent": True, "schools_mailed": ["SWA", "THA"], "contacts_file": True}
    by_to = {m["To"]: m for m in alerts_to}
    assert set(by_to) == {
        "finance@example.org",
        "swa.approver@example.org, swa.submitter@example.org",
        "tha.approver@example.org, tha.submitter@example.org",
    }
    swa = by_to["swa.approver@example.org, swa.submitter@example.org"]
    assert swa["Subject"] == "[STLS returns] Swale STLS: 2 overdue returns at the 2021-22-P02, 2021-05 close"
    body = swa.get_payload(0).get_payload(decode=True).decode() if swa.is_multipart() else swa.get_payload()
    assert "Ledger return 2021-22-P02, due 2021-06-15" in body and "KPI return 2021-05" in body
    assert "THA" not in body  # a school hears of its own returns only


def test_a_school_with_no_contact_is_named_in_the_log(portal_home, make_user, alerts_to, caplog):
    from stls_warehouse.orchestration.closing import alert_late_returns

    make_user("swa.submitter", "school_submitter", ["SWA"])
    call_command("portal_publish_contacts", stdout=StringIO())
    with caplog.at_level(logging.WARNING):
        result = alert_late_returns(CLOSE)
    assert result["schools_mailed"] == ["SWA"]
    assert sorted(m["To"] for m in alerts_to) == ["finance@example.org", "swa.submitter@example.org"]
    assert "THA: no contact" in caplog.text


def test_without_the_file_the_close_mails_county_finance_only_and_says_so(
    portal_home, users, alerts_to, caplog
):
    from stls_warehouse.orchestration.closing import alert_late_returns

    with caplog.at_level(logging.WARNING):
        result = alert_late_returns(CLOSE)
    assert result == {"late": 3, "alert_sent": True, "schools_mailed": [], "contacts_file": False}
    [message] = alerts_to
    assert message["To"] == "finance@example.org" and "3 overdue return(s)" in message["Subject"]
    assert "has not published" in caplog.text and "sla_contacts.json" in caplog.text
