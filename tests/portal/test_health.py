"""The deployment's health check: open to anyone, says only "ok" or "unavailable", fails when
the database does not answer, and leaves no trace (no session, no cookie, no audit row)."""

from __future__ import annotations

import pytest
from django.db import connection

from stls_portal.models import AuditEvent


@pytest.mark.django_db
def test_the_health_check_answers_without_signing_in_and_leaves_no_trace(client, users):
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.content == b"ok\n" and response["Content-Type"].startswith("text/plain")
    assert not response.cookies, "polling the health check must not start a session"
    assert "no-cache" in response["Cache-Control"]
    assert not AuditEvent.objects.exists()
    assert client.head("/health/").status_code == 200
    assert client.post("/health/").status_code == 405


@pytest.mark.django_db
def test_the_health_check_fails_when_the_database_does_not_answer(client):
    from django.db import OperationalError

    def refuse(execute, sql, params, many, context):  # Django's own hook around every query
        raise OperationalError("could not connect to server: Connection refused")

    with connection.execute_wrapper(refuse):
        response = client.get("/health/")
    assert response.status_code == 503
    assert response.content == b"unavailable\n", "no error text reaches the caller"
    assert client.get("/health/").status_code == 200
