"""A school's journey through the returns service, with Django's test client: upload, verdict,
what changed, queries and sign-off. The same validator as `stls validate` decides each verdict,
and every file reaches the landing zone the way a dropped file does."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from stls_portal.models import AuditEvent, DecisionRecord, Upload
from stls_warehouse import decisions
from stls_warehouse.intake import landing
from stls_warehouse.intake.validate import validate_return
from tests.factories import csv_bytes, kpi_rows, kpi_xlsx_bytes, ledger_rows
from tests.portal.conftest import query_row, status_row

pytestmark = pytest.mark.django_db

GOOD_NAME = "LEDGER_SWA_2021-22_P07.csv"


def upload(browser: Any, name: str, data: bytes, sla: str = "SWA") -> Any:
    return browser.post(f"/sla/{sla}/upload/", {"file": SimpleUploadedFile(name, data)}, follow=True)


def landed(home: Path) -> dict[str, bytes]:
    return {f.name: f.path.read_bytes() for f in landing.discover(home / "landing")}


def test_a_good_csv_is_accepted_delivered_and_receipted(portal_home, users, client_for):
    browser = client_for(users["submitter"])
    data = csv_bytes(ledger_rows(n=5))
    page = upload(browser, GOOD_NAME, data)

    assert page.status_code == 200
    text = page.content.decode()
    assert "Return accepted" in text
    assert "5 lines, total £5,016.25" in text
    assert "nothing: this is the first version" in text
    saved = Upload.objects.get()
    assert (saved.status, saved.line_count, str(saved.amount_total)) == ("ACCEPTED", 5, "5016.25")
    assert landed(portal_home) == {GOOD_NAME: data}
    assert (portal_home / "landing" / "uploads" / saved.id / GOOD_NAME).exists()
    assert validate_return(GOOD_NAME, data).status == "accepted"
    assert [m.to for m in mail.outbox] == [["swa.submitter@example.org"]]
    assert "ACCEPTED" in mail.outbox[0].body and saved.id in mail.outbox[0].body
    event = AuditEvent.objects.get(action="upload")
    assert (event.actor, event.sla_code, event.detail["verdict"], event.ip_address) == (
        "swa.submitter",
        "SWA",
        "ACCEPTED",
        "127.0.0.1",
    )


def test_a_good_xlsx_kpi_return_is_accepted(portal_home, users, client_for):
    browser = client_for(users["submitter"])
    data = kpi_xlsx_bytes(kpi_rows(sla="SWA", month="2021-10"))
    page = upload(browser, "KPI_SWA_2021-10.xlsx", data)
    assert "Return accepted" in page.content.decode()
    assert Upload.objects.get().status == "ACCEPTED"
    assert landed(portal_home) == {"KPI_SWA_2021-10.xlsx": data}


def test_a_bad_file_shows_every_problem_with_its_cell_and_is_still_delivered(portal_home, users, client_for):
    rows = ledger_rows(n=4)
    rows[1]["amount"] = "12,34.567"
    rows[2]["account_code"] = "E99"
    data = csv_bytes(rows)
    browser = client_for(users["submitter"])
    page = upload(browser, GOOD_NAME, data)
    text = page.content.decode()

    result = validate_return(GOOD_NAME, data)
    assert result.status == "rejected"
    assert "govuk-error-summary" in text
    assert f"{len(result.errors)} problems to fix" in text
    for problem in result.errors:
        assert problem.cell and f">{problem.cell}<" in text
        assert f'href="/help/errors/{problem.code}/"' in text
    assert "first at cell J3" in text  # the amount of the second line
    saved = Upload.objects.get()
    assert saved.status == "REJECTED"
    assert landed(portal_home) == {GOOD_NAME: data}, "a rejected upload reaches the landing zone too"

    workbook = browser.get(f"/sla/SWA/uploads/{saved.id}/rejection.xlsx")
    assert workbook.status_code == 200
    assert workbook["Content-Disposition"].startswith("attachment;")
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(b"".join(workbook.streaming_content)))["Problems"]
    cells = {row[3] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert cells == {p.cell for p in result.errors}
    assert AuditEvent.objects.filter(action="download_rejection", target=saved.id).exists()


def test_the_template_downloads_as_an_attachment(portal_home, users, client_for):
    browser = client_for(users["submitter"])
    response = browser.get("/sla/SWA/template/ledger/2021-22-P07.xlsx")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="LEDGER_SWA_2021-22_P07.xlsx"'
    csv_template = browser.get("/sla/SWA/template/kpi/2021-10.csv")
    assert b"".join(csv_template.streaming_content).startswith(b"sla_code,month,kpi_code")


def test_a_resubmission_shows_what_changed_before_it_replaces_the_published_version(
    portal_home, users, client_for, publisher
):
    first = csv_bytes(ledger_rows(n=3))
    sha = hashlib.sha256(first).hexdigest()
    publisher.publish([status_row("SWA", "ledger", "2021-22-P07", sha)], files={sha: (GOOD_NAME, first)})
    rows = ledger_rows(n=4)
    rows[0]["amount"] = "2001.25"
    second = csv_bytes(rows)
    browser = client_for(users["submitter"])

    page = upload(browser, GOOD_NAME, second)
    text = page.content.decode()
    saved = Upload.objects.get()
    assert saved.status == "AWAITING_CONFIRMATION"
    assert landed(portal_home) == {}, "nothing is sent before the user confirms"
    assert "What changed against the current version" in text
    assert "1 added, 0 removed, 1 changed, 2 unchanged." in text
    assert "£3,006.75" in text and "£5,011.00" in text  # totals before and after
    assert "L0001: amount 1001.25 to 2001.25" in text

    confirmed = browser.post(f"/sla/SWA/uploads/{saved.id}/", {"action": "confirm"}, follow=True)
    assert "Return accepted" in confirmed.content.decode()
    assert landed(portal_home) == {GOOD_NAME: second}
    assert AuditEvent.objects.filter(action="upload_confirmed").count() == 1


def test_keeping_the_current_version_sends_nothing(portal_home, users, client_for, publisher):
    first = csv_bytes(ledger_rows(n=3))
    sha = hashlib.sha256(first).hexdigest()
    publisher.publish([status_row("SWA", "ledger", "2021-22-P07", sha)], files={sha: (GOOD_NAME, first)})
    browser = client_for(users["submitter"])
    upload(browser, GOOD_NAME, csv_bytes(ledger_rows(n=2)))
    saved = Upload.objects.get()
    browser.post(f"/sla/SWA/uploads/{saved.id}/", {"action": "keep"})
    saved.refresh_from_db()
    assert saved.status == "WITHDRAWN" and landed(portal_home) == {}


def test_a_file_named_for_another_sla_is_refused_and_not_delivered(portal_home, users, client_for):
    browser = client_for(users["submitter"])
    page = upload(browser, "LEDGER_THA_2021-22_P07.csv", csv_bytes(ledger_rows(sla="THA")))
    assert page.status_code == 400
    assert "The file name says the return is for THA" in page.content.decode()
    assert landed(portal_home) == {} and not Upload.objects.exists()


def test_a_body_over_20_mb_is_refused_before_it_is_read(portal_home, users, client_for):
    browser = client_for(users["submitter"])
    declared = browser.post(
        "/sla/SWA/upload/", data=b"x", content_type="application/octet-stream", CONTENT_LENGTH=str(25 * 2**20)
    )
    assert declared.status_code == 413
    assert "over 20 MB" in declared.content.decode()
    big = b"a" * (20 * 2**20 + 10)
    streamed = upload(browser, GOOD_NAME, big)
    assert streamed.status_code == 413
    assert not Upload.objects.exists() and landed(portal_home) == {}
    assert AuditEvent.objects.filter(action="upload_refused_too_large").count() == 2


def test_sign_off_is_refused_while_a_query_is_open_and_recorded_after_it_is_answered(
    portal_home, users, client_for, publisher
):
    data = csv_bytes(ledger_rows(n=3))
    sha = hashlib.sha256(data).hexdigest()
    publisher.publish(
        [status_row("SWA", "ledger", "2021-22-P07", sha, open_queries=1)],
        [query_row("SWA", "ledger", "2021-22-P07", sha, "amount_within_history")],
        files={sha: (GOOD_NAME, data)},
    )
    base = "/sla/SWA/returns/ledger/2021-22-P07/"
    approver = client_for(users["approver"])
    page = approver.get(base)
    assert "amount_within_history" in page.content.decode() and "Open" in page.content.decode()

    refused = approver.post(f"{base}sign-off/", {"declaration": "on"})
    assert refused.status_code == 400
    assert "You cannot sign off while 1 query is not answered" in refused.content.decode()
    assert not DecisionRecord.objects.exists()

    submitter = client_for(users["submitter"])
    assert submitter.post(f"{base}sign-off/", {"declaration": "on"}).status_code == 403
    empty = submitter.post(f"{base}queries/amount_within_history/explain/", {"explanation": " "})
    assert empty.status_code == 400 and "Enter an explanation" in empty.content.decode()
    answered = submitter.post(
        f"{base}queries/amount_within_history/explain/", {"explanation": "A one-off payment for therapy."}
    )
    assert answered.status_code == 302

    assert approver.post(f"{base}sign-off/", {}).status_code == 400  # the declaration must be ticked
    signed = approver.post(f"{base}sign-off/", {"declaration": "on"})
    assert signed.status_code == 302
    recorded = {d.kind: d for d in decisions.read_all(portal_home / "decisions")}
    assert recorded["explanation"].rule == "amount_within_history"
    assert recorded["explanation"].file_sha256 == sha
    assert recorded["explanation"].actor == "swa.submitter"
    assert recorded["sign_off"].file_sha256 == sha and recorded["sign_off"].actor_role == "school_approver"
    assert "true and complete record" in recorded["sign_off"].text
    actions = list(AuditEvent.objects.filter(sla_code="SWA").values_list("action", flat=True))
    assert "explanation" in actions and "sign_off" in actions
    page = approver.get(base).content.decode()
    assert "A one-off payment for therapy." in page and "This version is signed off." in page


def test_a_return_with_no_published_version_offers_no_sign_off(portal_home, users, client_for):
    approver = client_for(users["approver"])
    page = approver.get("/sla/SWA/returns/ledger/2021-22-P08/").content.decode()
    assert "There is no published version of this return to sign off" in page
    assert "/sign-off/" not in page
    refused = approver.post("/sla/SWA/returns/ledger/2021-22-P08/sign-off/", {"declaration": "on"})
    assert refused.status_code == 400 and not DecisionRecord.objects.exists()


def test_the_sla_page_lists_every_period_with_due_dates_and_statuses(
    portal_home, users, client_for, publisher
):
    data = csv_bytes(ledger_rows(n=3))
    sha = hashlib.sha256(data).hexdigest()
    publisher.publish(
        [
            status_row(
                "SWA", "ledger", "2021-22-P07", sha, signed_off_by="swa.approver", signed_off_file_sha256=sha
            ),
            status_row("SWA", "ledger", "2021-22-P06", None, status="WAIVED", waiver_reason="closed"),
        ],
        files={sha: (GOOD_NAME, data)},
    )
    page = client_for(users["submitter"]).get("/sla/SWA/?year=2021-22").content.decode()
    for period in range(1, 13):
        assert f"/sla/SWA/returns/ledger/2021-22-P{period:02d}/" in page
    assert "/returns/ledger/2021-22-P13/" not in page
    for month in ("2021-04", "2021-12", "2022-03"):
        assert f"/sla/SWA/returns/kpi/{month}/" in page
    assert "15 Nov 2021" in page  # P07's due date (ref_return_deadlines: 15 days)
    for status in ("Published", "Waived", "Overdue", "Not yet due"):
        assert f">{status}<" in page
    assert "swa.approver" in page


@pytest.mark.parametrize("code", ["FILE_TYPE_NOT_ALLOWED", "AMOUNT_INVALID", "PROBLEMS_CAPPED"])
def test_each_error_code_has_a_help_page(client, code):
    page = client.get(f"/help/errors/{code}/")
    assert page.status_code == 200
    assert "How to fix it" in page.content.decode()


def test_warning_help_pages_come_from_the_expectation_suites(client):
    from stls_portal import rules

    warnings = rules.warnings()
    assert warnings, "the return suites declare warnings"
    rule, warning = next(iter(warnings.items()))
    page = client.get(f"/help/warnings/{rule}/").content.decode()
    assert warning.description.replace("'", "&#x27;") in page
    assert client.get("/help/warnings/no_such_rule/").status_code == 404


def test_a_publication_note_is_sent_once(portal_home, users, client_for, publisher):
    from stls_portal.services import notify_published

    data = csv_bytes(ledger_rows(n=3))
    upload(client_for(users["submitter"]), GOOD_NAME, data)
    mail.outbox.clear()
    assert notify_published() == []
    sha = hashlib.sha256(data).hexdigest()
    publisher.publish([status_row("SWA", "ledger", "2021-22-P07", sha)], files={sha: (GOOD_NAME, data)})
    assert len(notify_published()) == 1
    assert notify_published() == []
    assert len(mail.outbox) == 1 and "is published" in mail.outbox[0].subject


def test_decision_files_are_what_the_pipeline_reads(portal_home, users, client_for, publisher):
    data = csv_bytes(ledger_rows(n=3))
    sha = hashlib.sha256(data).hexdigest()
    publisher.publish([status_row("SWA", "ledger", "2021-22-P07", sha)], files={sha: (GOOD_NAME, data)})
    client_for(users["approver"]).post("/sla/SWA/returns/ledger/2021-22-P07/sign-off/", {"declaration": "on"})
    files = list((portal_home / "decisions").glob("*/*.json"))
    assert len(files) == 1
    raw = json.loads(files[0].read_text())
    assert {k: raw[k] for k in ("kind", "sla_code", "return_type", "period_key", "file_sha256")} == {
        "kind": "sign_off",
        "sla_code": "SWA",
        "return_type": "ledger",
        "period_key": "2021-22-P07",
        "file_sha256": sha,
    }


def test_receipts_go_through_the_smtp_server_the_alerts_use(portal_home, users, client_for, settings, inbox):
    """A real SMTP server on loopback (aiosmtpd), configured as Airflow's connection URI."""
    assert settings.EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend"
    upload(client_for(users["submitter"]), GOOD_NAME, csv_bytes(ledger_rows(n=2)))
    assert len(inbox) == 1
    assert inbox[0]["To"] == "swa.submitter@example.org"
    assert "ACCEPTED" in inbox[0]["Subject"]
    assert Upload.objects.get().receipt_sent_at is not None


def test_a_hostile_file_name_is_data_only(portal_home, users, client_for):
    browser = client_for(users["submitter"])
    name = '<img src=x onerror="alert(1)">.csv'
    page = upload(browser, name, csv_bytes(ledger_rows(n=2)))
    text = page.content.decode()
    assert "<img" not in text and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;.csv" in text
    saved = Upload.objects.get()
    assert saved.status == "REJECTED"
    files = [p for p in (portal_home / "landing").rglob("*") if p.is_file()]
    assert [p.parent for p in files] == [portal_home / "landing" / "uploads" / saved.id]
    download = browser.get(f"/sla/SWA/uploads/{saved.id}/rejection.xlsx")
    assert download.status_code == 200
    assert (
        download["Content-Disposition"]
        == 'attachment; filename="rejection__img_src_x_onerror__alert_1___.xlsx"'
    )


def test_county_finance_waives_a_return_and_revokes_the_waiver(portal_home, users, client_for):
    base = "/sla/SWA/returns/ledger/2021-22-P05/"
    assert client_for(users["submitter"]).post(f"{base}waiver/", {"reason": "x"}).status_code == 403
    finance = client_for(users["finance"])
    assert finance.post(f"{base}waiver/", {"reason": ""}).status_code == 400
    assert finance.post(f"{base}waiver/", {"reason": "The SLA was suspended in August."}).status_code == 302
    assert "waived by finance" in finance.get(base).content.decode()
    assert ">Waived<" in client_for(users["submitter"]).get("/sla/SWA/?year=2021-22").content.decode()
    assert finance.post(f"{base}waiver/", {"reason": "Reinstated."}).status_code == 302
    recorded = list(decisions.read_all(portal_home / "decisions"))
    assert [d.kind for d in recorded] == ["waiver_granted", "waiver_revoked"]
    assert recorded[0].text == "The SLA was suspended in August." and recorded[0].file_sha256 is None
    assert recorded[0].actor_role == "county_finance" and recorded[0].period_key == "2021-22-P05"
    assert AuditEvent.objects.filter(action="waiver_granted", sla_code="SWA").exists()
