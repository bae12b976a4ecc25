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


def _local_run(home) -> None:
    from stls_warehouse.airflow_local import last_run_log
    from stls_warehouse.config import Paths

    log = last_run_log(Paths(home))
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("stls_returns_pipeline: publish done\nlocal run finished\n")


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_without_airflows_address_the_runs_page_shows_the_local_runs_record(
    portal_home, users, client_for, publisher, settings
):
    settings.AIRFLOW_API_URL = ""
    publisher.publish([])
    _local_run(portal_home)
    page = client_for(users["finance"]).get("/county/runs/")
    assert page.context["airflow"] == {"configured": False, "runs": None, "unreachable": None}
    text = page.content.decode()
    assert "local run finished" in text and "could not be reached" not in text
    assert 'id="airflow-runs"' not in text


def test_when_airflow_does_not_answer_the_page_says_so_and_shows_the_local_record(
    portal_home, users, client_for, publisher, settings
):
    """Nothing listens at the address: refused at once; the page names the fallback."""
    settings.AIRFLOW_API_URL = f"http://127.0.0.1:{_free_port()}"
    settings.AIRFLOW_API_USERNAME, settings.AIRFLOW_API_PASSWORD = "stls_returns", "secret"
    publisher.publish([])
    _local_run(portal_home)
    page = client_for(users["auditor"]).get("/county/runs/")
    assert page.status_code == 200
    assert page.context["airflow"]["configured"] and page.context["airflow"]["runs"] is None
    text = page.content.decode()
    assert "Airflow could not be reached" in text and "ConnectError" in text
    assert "local run finished" in text, "the local run's record is shown instead"
    assert "secret" not in text


def test_an_airflow_that_hangs_holds_the_page_no_longer_than_the_timeout(
    portal_home, users, client_for, publisher, settings
):
    """A server that accepts the connection and never answers (a hung API server)."""
    import socket
    import threading
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])  # read nothing, answer nothing
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    settings.AIRFLOW_API_URL = f"http://127.0.0.1:{listener.getsockname()[1]}"
    settings.AIRFLOW_API_TIMEOUT = 1.0
    publisher.publish([])
    try:
        started = time.monotonic()
        page = client_for(users["finance"]).get("/county/runs/")
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        thread.join()
        for connection in accepted:
            connection.close()
        listener.close()
    assert accepted, "the page did try Airflow"
    assert "Airflow could not be reached" in page.content.decode()
    assert "ReadTimeout" in page.context["airflow"]["unreachable"]
    assert elapsed < 3, f"the page waited {elapsed:.1f}s for a 1s timeout"
