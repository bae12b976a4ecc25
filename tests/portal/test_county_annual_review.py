"""The annual review produced on request: county finance asks for a complete year's review on
the reports page, a background process writes it from the published release (its state shown
meanwhile), the request is audited; an incomplete year is refused with what is missing, and
auditors and schools cannot ask."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from stls_portal.county import annual_review
from stls_portal.models import AuditEvent
from stls_warehouse.config import Paths

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_years(portal_home: Path) -> Path:
    """A release holding 2021-22 complete (its one expected return accepted) and 2022-23 not."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = portal_home / "published" / "releases" / "20261205T070000000000Z"
    (folder / "parquet").mkdir(parents=True)
    rows = [
        ("SWA", "ledger", "2021-22-P01", "2021-22", "ACCEPTED", date(2021, 5, 15)),
        ("SWA", "ledger", "2022-23-P01", "2022-23", "MISSING", date(2022, 5, 15)),
    ]
    table = pa.table(
        {
            "sla_code": [r[0] for r in rows],
            "return_type": [r[1] for r in rows],
            "period_key": [r[2] for r in rows],
            "financial_year": [r[3] for r in rows],
            "status": [r[4] for r in rows],
            "is_expected": [True, True],
            "is_waived": [False, False],
            "due_date": [r[5] for r in rows],
            "status_as_of": [date(2022, 6, 30)] * 2,
        }
    )
    pq.write_table(table, folder / "parquet" / "mart_return_status.parquet")
    pq.write_table(
        pa.table({"financial_year": ["2021-22"], "service_line": ["DISTRICT"], "is_complete": [True]}),
        folder / "parquet" / "mart_service_line_budget_outturn.parquet",
    )
    (folder / "manifest.json").write_text(
        json.dumps({"release_id": folder.name, "published_at": datetime.now(UTC).isoformat()})
    )
    (portal_home / "published" / "current").symlink_to(Path("releases") / folder.name)
    return portal_home


def _wait_until_finished(home: Path, year: str, timeout: float = 120) -> annual_review.Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = annual_review.read_job(Paths(home), year)
        assert job is not None
        if not job.producing:
            return job
        time.sleep(0.5)
    raise AssertionError(f"the {year} review was still being produced after {timeout}s")


def test_the_page_says_which_years_are_complete(two_years, users, client_for):
    page = client_for(users["finance"]).get("/county/reports/")
    assert [(y.year, y.complete) for y in page.context["annual_years"]] == [
        ("2022-23", False),
        ("2021-22", True),
    ]
    html = page.content.decode()
    assert 'Produce the annual review<span class="govuk-visually-hidden"> for 2021-22' in html
    assert "for 2022-23</span></button>" not in html  # no button for an incomplete year


def test_an_incomplete_year_is_refused_with_what_is_missing(two_years, users, client_for):
    response = client_for(users["finance"]).post("/county/reports/annual-review/", {"year": "2022-23"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "produced only for a complete year" in html and "SWA ledger 2022-23-P01 (MISSING)" in html
    assert annual_review.read_job(Paths(two_years), "2022-23") is None
    assert not AuditEvent.objects.filter(action="annual_review_requested").exists()
    unknown = client_for(users["finance"]).post("/county/reports/annual-review/", {"year": "1999-00"})
    assert unknown.status_code == 400 and "has no returns for 1999-00" in unknown.content.decode()


def test_auditors_and_schools_cannot_ask(two_years, users, client_for):
    assert (
        client_for(users["auditor"]).post("/county/reports/annual-review/", {"year": "2021-22"}).status_code
        == 403
    )
    assert (
        client_for(users["submitter"]).post("/county/reports/annual-review/", {"year": "2021-22"}).status_code
        == 403
    )
    assert (
        "Produce the annual review"
        not in client_for(users["auditor"]).get("/county/reports/").content.decode()
    )
    assert annual_review.read_job(Paths(two_years), "2021-22") is None


def test_a_request_runs_the_report_in_the_background_and_a_failure_is_shown(two_years, users, client_for):
    """This release lacks the marts the review reads: the real job fails and says why."""
    browser = client_for(users["finance"])
    response = browser.post("/county/reports/annual-review/", {"year": "2021-22"})
    assert response.status_code == 302 and response["Location"].endswith("?requested=2021-22#annual-review")
    audited = AuditEvent.objects.get(action="annual_review_requested")
    assert (audited.actor, audited.target) == ("finance", "2021-22")
    job = annual_review.read_job(Paths(two_years), "2021-22")
    assert job is not None and job.requested_by == "finance"
    if job.producing:
        assert "Being produced" in browser.get("/county/reports/").content.decode()
        again = browser.post("/county/reports/annual-review/", {"year": "2021-22"})
        assert again.status_code in (302, 400)  # refused while producing, unless it already ended
    finished = _wait_until_finished(two_years, "2021-22")
    log = (two_years / "reports" / "annual" / ".requests" / "2021-22.log").read_text()
    assert finished.state == "failed" and finished.error and "stopped" not in finished.error, log
    assert finished.error in log  # the job itself recorded why
    assert "Failed" in browser.get("/county/reports/").content.decode()


def test_a_job_whose_process_is_gone_reads_as_failed(portal_home):
    home = Paths(portal_home)
    annual_review._write_job(
        home, annual_review.Job("2021-22", "producing", "finance", datetime.now(UTC), pid=2**22 + 12345)
    )
    job = annual_review.read_job(home, "2021-22")
    assert job is not None and job.state == "failed" and "stopped" in (job.error or "")
    # asked for ten minutes ago, and the process never said it started
    asked = datetime.now(UTC) - annual_review.NOT_STARTED_AFTER * 2
    annual_review._write_job(home, annual_review.Job("2021-22", "producing", "finance", asked))
    assert annual_review.read_job(home, "2021-22").state == "failed"  # type: ignore[union-attr]
    annual_review._write_job(home, annual_review.Job("2021-22", "producing", "finance", datetime.now(UTC)))
    assert annual_review.read_job(home, "2021-22").producing  # type: ignore[union-attr]


@pytest.mark.integration
@pytest.mark.slow
def test_finance_produces_a_complete_years_review_and_opens_it(
    tmp_path_factory, tmp_path, settings, monkeypatch, users, client_for
):
    from tests.publish.year_fixture import copy_home
    from tests.publish.year_fixture import year_home as build_year_home

    home = copy_home(build_year_home(tmp_path_factory), tmp_path / "home").home
    monkeypatch.setenv("STLS_HOME", str(home))
    monkeypatch.setenv("STLS_AS_OF_DATE", "2022-06-30")
    settings.HOME = home
    browser = client_for(users["finance"])
    assert browser.post("/county/reports/annual-review/", {"year": "2021-22"}).status_code == 302
    job = _wait_until_finished(home, "2021-22", timeout=600)
    assert job.state == "done", (home / "reports" / "annual" / ".requests" / "2021-22.log").read_text()
    manifest = json.loads((home / "published" / "current" / "manifest.json").read_text())
    assert job.release_id == manifest["release_id"]
    page = browser.get("/county/reports/").content.decode()
    assert "annual_review_2021-22.html" in page and "annual_review_2021-22.pdf" in page
    assert "Produce it again" in page
    review = browser.get("/county/reports/annual/annual_review_2021-22.html")
    assert review.status_code == 200 and manifest["release_id"] in b"".join(review.streaming_content).decode()
    pdf = browser.get("/county/reports/annual/annual_review_2021-22.pdf")
    assert b"".join(pdf.streaming_content).startswith(b"%PDF")
