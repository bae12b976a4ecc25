"""Runs, releases and reports: the current release and what changed, the last run, and the
pipeline's reports listed and opened from the listing only."""

from __future__ import annotations

import json

import pytest

from stls_portal.models import AuditEvent

pytestmark = pytest.mark.django_db


def _with_tables(folder, tables, previous=None):
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["tables"] = tables
    manifest["previous_release_id"] = previous
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_the_current_release_and_what_changed_since_the_one_before(portal_home, users, client_for, publisher):
    first = publisher.publish([])
    _with_tables(
        first,
        {"fct_ledger_lines": {"rows": 10, "checksum": "a"}, "mart_kpi_monthly": {"rows": 5, "checksum": "k"}},
    )
    second = publisher.publish([])
    _with_tables(
        second,
        {"fct_ledger_lines": {"rows": 12, "checksum": "b"}, "mart_kpi_monthly": {"rows": 5, "checksum": "k"}},
        previous=first.name,
    )
    page = client_for(users["auditor"]).get("/county/runs/")
    release = page.context["release"]
    assert (release["release_id"], release["previous_release_id"]) == (second.name, first.name)
    assert [(c.table, c.rows_before, c.rows_now) for c in release["changes"]] == [
        ("fct_ledger_lines", 10, 12)
    ]
    assert page.context["run"] is None


def test_reports_are_listed_and_opened_from_the_listing_only(portal_home, users, client_for, publisher):
    publisher.publish([])
    reports = portal_home / "reports"
    (reports / "monthly").mkdir(parents=True)
    (reports / "monthly" / "monthly_2021-22-P07.html").write_text("<h1>Monthly report P7</h1>")
    (reports / "annual").mkdir()
    (reports / "annual" / "annual_review_2021-22.pdf").write_bytes(b"%PDF-1.7 test")
    (reports / "dq").mkdir()
    (reports / "dq" / "latest.html").write_text("<h1>Data quality</h1>")
    browser = client_for(users["finance"])
    listing = browser.get("/county/reports/").content.decode()
    assert "monthly_2021-22-P07.html" in listing and "annual_review_2021-22.pdf" in listing
    opened = browser.get("/county/reports/monthly/monthly_2021-22-P07.html")
    assert opened.status_code == 200 and b"Monthly report P7" in b"".join(opened.streaming_content)
    assert (
        opened["Content-Type"].startswith("text/html")
        and "default-src 'none'" in opened["Content-Security-Policy"]
    )
    pdf = browser.get("/county/reports/annual/annual_review_2021-22.pdf")
    assert pdf["Content-Type"] == "application/pdf" and "inline" in pdf["Content-Disposition"]
    assert browser.get("/county/reports/monthly/..%2F..%2Fportal%2Fsecret_key").status_code == 404
    assert browser.get("/county/reports/nope/latest.html").status_code == 404
    assert AuditEvent.objects.filter(
        action="download_report", target="annual/annual_review_2021-22.pdf"
    ).exists()
    assert 'href="/county/reports/dq/latest.html"' in browser.get("/county/runs/").content.decode()
