"""County finance's returns at a glance: every SLA by period, status in words, version, open
queries and sign-off, the filters and the counts of what needs attention."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from stls_warehouse import reference
from stls_warehouse.periods import kpi_months, ledger_periods
from tests.factories import csv_bytes, ledger_rows
from tests.portal.conftest import status_row

pytestmark = pytest.mark.django_db
AS_OF = date(2021, 12, 1)  # the portal_home fixture's STLS_AS_OF_DATE


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def published(publisher, users, client_for):
    """SWA P1 signed off, SWA P2 with two open queries, THA P1 rejected through the landing
    zone, and a rejected upload of SWA P8 to this service."""
    p1, p2 = _sha("swa p1"), _sha("swa p2")
    publisher.publish(
        [
            status_row(
                "SWA",
                "ledger",
                "2021-22-P01",
                p1,
                versions_received=2,
                signed_off_by="swa.approver",
                signed_off_at=datetime(2021, 5, 20, tzinfo=UTC),
                signed_off_file_sha256=p1,
            ),
            status_row("SWA", "ledger", "2021-22-P02", p2, open_queries=2),
            status_row("THA", "ledger", "2021-22-P01", None, status="REJECTED"),
        ]
    )
    bad = ledger_rows(period=8)
    bad[0]["amount"] = "lots"
    client_for(users["submitter"]).post(
        "/sla/SWA/upload/", {"file": SimpleUploadedFile("LEDGER_SWA_2021-22_P08.csv", csv_bytes(bad))}
    )


def _cell(matrix, sla: str, return_type: str, period_key: str):
    row = next(r for r in matrix.rows if r.sla.sla_code == sla)
    return next(c for c in getattr(row, return_type) if c.row.period_key == period_key)


def _overdue_per_sla() -> int:
    """Returns past their due date at AS_OF, worked out from the periods and due-date rule."""
    ledger = [p for p in ledger_periods("2021-22") if reference.due_date("ledger", p.end_date) < AS_OF]
    kpi = [m for m in kpi_months("2021-22") if reference.due_date("kpi", m.end_date) < AS_OF]
    return len(ledger) + len(kpi)


def test_finance_sees_every_sla_by_period_with_status_version_queries_and_sign_off(
    published, users, client_for
):
    page = client_for(users["finance"]).get("/county/?year=2021-22")
    assert page.status_code == 200
    matrix = page.context["matrix"]
    assert [r.sla.sla_code for r in matrix.rows] == list(reference.slas())
    assert [label for _, label in matrix.ledger_columns] == [f"P{n}" for n in range(1, 13)]
    assert [label for _, label in matrix.kpi_columns][:2] == ["Apr", "May"]

    signed = _cell(matrix, "SWA", "ledger", "2021-22-P01")
    assert (signed.row.status, signed.row.version, signed.row.signed_off) == ("Published", 2, "swa.approver")
    queried = _cell(matrix, "SWA", "ledger", "2021-22-P02")
    assert (queried.row.open_queries, queried.awaiting_sign_off) == (2, True)
    assert _cell(matrix, "THA", "ledger", "2021-22-P01").row.status == "Rejected"
    assert _cell(matrix, "SWA", "ledger", "2021-22-P08").row.status == "Rejected"
    assert _cell(matrix, "CAN", "ledger", "2021-22-P01").row.status == "Overdue"

    html = page.content.decode()
    assert "v2, signed" in html and "v1, 2 queries, not signed" in html
    assert matrix.release_id in html
    # a real table: a caption, column headers and a row header per SLA
    assert '<caption class="govuk-table__caption govuk-table__caption--m" id="ledger-matrix-caption">' in html
    assert html.count('<th scope="row"') == 2 * 14
    assert len(re.findall(r'<th scope="col"[^>]*><abbr title="2021-22-P\d\d">', html)) == 12
    # the status is in words, not only in colour, and each link names its return
    assert re.search(
        r'govuk-tag--red stls-matrix__tag">Overdue</strong><span class="govuk-visually-hidden"> CAN ledger',
        html,
    )


def test_the_counts_say_what_is_overdue_rejected_and_awaiting_sign_off(published, users, client_for):
    matrix = client_for(users["finance"]).get("/county/?year=2021-22").context["matrix"]
    # every SLA's returns past due, less SWA P1 and P2 (published), THA P1 and SWA P8 (rejected)
    p8_past_due = reference.due_date("ledger", ledger_periods("2021-22")[7].end_date) < AS_OF
    assert matrix.counts == {
        "Overdue": 14 * _overdue_per_sla() - 3 - p8_past_due,
        "Rejected": 2,
        "Awaiting sign-off": 1,
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("service_line=PD", ["CPD"]),
        ("service_line=SENSORY", ["CSN"]),
        ("status=Rejected", ["SWA", "THA"]),
        ("status=Awaiting+sign-off", ["SWA"]),
        ("area=East&status=Rejected", ["SWA", "THA"]),
        ("service_line=NOT_A_LINE", list(reference.slas())),
    ],
)
def test_filters_by_service_line_area_and_status(published, users, client_for, query, expected):
    matrix = client_for(users["finance"]).get(f"/county/?year=2021-22&{query}").context["matrix"]
    assert [r.sla.sla_code for r in matrix.rows] == expected


def test_an_area_filter_keeps_only_that_areas_slas(published, users, client_for):
    matrix = client_for(users["finance"]).get("/county/?year=2021-22&area=West").context["matrix"]
    assert {r.sla.sla_code for r in matrix.rows} == {
        s.sla_code for s in reference.slas().values() if s.area == "West"
    }


def test_the_county_pages_are_closed_to_school_users_and_open_to_auditors(published, users, client_for):
    for url in ("/county/", "/county/waivers/", "/county/waivers/SWA/ledger/2021-22-P03/"):
        assert client_for(users["submitter"]).get(url).status_code == 403
        assert client_for(users["approver"]).post(url).status_code == 403
        assert client_for(users["auditor"]).get(url).status_code == 200
    assert client_for(users["finance"]).get("/county/?year=1999-00").status_code == 404
