"""Fixtures of the returns service: a home of its own, users of every role, and a small
published release written with exactly the columns the warehouse side publishes
(mart_return_status with the sign-off columns, mart_return_queries, submission_ledger)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from stls_warehouse.intake.raw_zone import RawZone

STATUS_SCHEMA = {
    "sla_code": "string",
    "return_type": "string",
    "period_key": "string",
    "status": "string",
    "versions_received": "int32",
    "current_file_sha256": "string",
    "received_at": "timestamp",
    "due_date": "date",
    "signed_off_by": "string",
    "signed_off_at": "timestamp",
    "signed_off_file_sha256": "string",
    "waiver_reason": "string",
    "waived_by": "string",
    "waived_at": "timestamp",
    "open_queries": "int32",
}
QUERY_SCHEMA = {
    "sla_code": "string",
    "return_type": "string",
    "period_key": "string",
    "file_sha256": "string",
    "rule": "string",
    "description": "string",
    "observed": "string",
    "explanation": "string",
    "explained_by": "string",
    "explained_at": "timestamp",
    "query_status": "string",
}
LEDGER_SCHEMA = {"file_sha256": "string", "original_name": "string", "status": "string"}


def _arrow_type(name: str) -> Any:
    import pyarrow as pa

    return {
        "string": pa.string(),
        "int32": pa.int32(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "date": pa.date32(),
    }[name]


def _write(path: Path, schema: dict[str, str], rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow = pa.schema([(name, _arrow_type(kind)) for name, kind in schema.items()])
    table = pa.Table.from_pylist([{c: r.get(c) for c in schema} for r in rows], schema=arrow)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


class Publisher:
    """Writes releases into a home the way the warehouse's publish stage lays them out."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.count = 0

    def publish(
        self,
        status: list[dict[str, Any]],
        queries: list[dict[str, Any]] | None = None,
        files: dict[str, tuple[str, bytes]] | None = None,
    ) -> Path:
        """`files`: sha256 -> (name, bytes) of the accepted files, put in the raw zone."""
        self.count += 1
        release_id = f"20261204T1200{self.count:02d}000000Z"
        folder = self.home / "published" / "releases" / release_id
        _write(folder / "parquet" / "mart_return_status.parquet", STATUS_SCHEMA, status)
        _write(folder / "parquet" / "mart_return_queries.parquet", QUERY_SCHEMA, queries or [])
        zone = RawZone(self.home / "raw")
        ledger = []
        for sha, (name, data) in (files or {}).items():
            zone.put_object(sha, data)
            zone.record_receipt(sha, name)
            ledger.append({"file_sha256": sha, "original_name": name, "status": "ACCEPTED"})
        _write(folder / "parquet" / "submission_ledger.parquet", LEDGER_SCHEMA, ledger)
        (folder / "manifest.json").write_text(
            json.dumps({"release_id": release_id, "published_at": datetime.now(UTC).isoformat()})
        )
        link = self.home / "published" / "current"
        temporary = link.with_name(".current.tmp")
        if temporary.is_symlink():
            temporary.unlink()
        temporary.symlink_to(Path("releases") / release_id)
        os.replace(temporary, link)
        return folder


def status_row(sla: str, return_type: str, period_key: str, sha: str | None, **extra: Any) -> dict[str, Any]:
    return {
        "sla_code": sla,
        "return_type": return_type,
        "period_key": period_key,
        "status": "ACCEPTED" if sha else "MISSING",
        "versions_received": 1 if sha else 0,
        "current_file_sha256": sha,
        "received_at": datetime(2021, 11, 5, 9, 0, tzinfo=UTC) if sha else None,
        "due_date": date(2021, 11, 15),
        "open_queries": 0,
        **extra,
    }


def query_row(
    sla: str, return_type: str, period_key: str, sha: str, rule: str, **extra: Any
) -> dict[str, Any]:
    return {
        "sla_code": sla,
        "return_type": return_type,
        "period_key": period_key,
        "file_sha256": sha,
        "rule": rule,
        "description": "The amount is within the range of the SLA's recent months.",
        "observed": "total 9,999.00 against a usual 3,000.00 to 5,000.00",
        "explanation": None,
        "explained_by": None,
        "explained_at": None,
        "query_status": "OPEN",
        **extra,
    }


@pytest.fixture
def portal_home(tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "stls_home"
    (home / "landing").mkdir(parents=True)
    monkeypatch.setenv("STLS_HOME", str(home))
    monkeypatch.setenv("STLS_AS_OF_DATE", "2021-12-01")
    settings.HOME = home
    settings.PORTAL_HOME = home / "portal"
    return home


@pytest.fixture
def audit_triggers(transactional_db: Any) -> Iterator[None]:
    """For tests on a live server: the database is emptied after each, which the audit log's
    append-only triggers refuse; they are dropped for the flush and put back for the next."""
    import importlib

    from django.db import connection

    migration = importlib.import_module("stls_portal.migrations.0002_audit_append_only")
    forward = {"sqlite": migration.SQLITE, "postgresql": migration.POSTGRES}[connection.vendor]
    backward = {"sqlite": migration.SQLITE_REVERSE, "postgresql": migration.POSTGRES_REVERSE}[
        connection.vendor
    ]
    with connection.cursor() as cursor:
        for statement in backward:
            cursor.execute(
                statement.replace("DROP TRIGGER", "DROP TRIGGER IF EXISTS").replace(
                    "DROP FUNCTION", "DROP FUNCTION IF EXISTS"
                )
            )
        for statement in forward:
            cursor.execute(statement)
    yield
    with connection.cursor() as cursor:
        for statement in backward:
            cursor.execute(statement)


@pytest.fixture
def publisher(portal_home: Path) -> Publisher:
    return Publisher(portal_home)


@pytest.fixture
def make_user(db: Any) -> Callable[..., Any]:
    from stls_portal.models import User

    def make(
        username: str, role: str, slas: list[str] | None = None, password: str = "a long test password"
    ) -> Any:
        user = User(username=username, role=role, sla_codes=slas or [], email=f"{username}@example.org")
        user.set_password(password)
        user.save()
        return user

    return make


@pytest.fixture
def users(make_user: Callable[..., Any]) -> dict[str, Any]:
    return {
        "submitter": make_user("swa.submitter", "school_submitter", ["SWA"]),
        "approver": make_user("swa.approver", "school_approver", ["SWA"]),
        "other": make_user("tha.submitter", "school_submitter", ["THA"]),
        "other_approver": make_user("tha.approver", "school_approver", ["THA"]),
        "finance": make_user("finance", "county_finance"),
        "auditor": make_user("auditor", "auditor"),
    }


@pytest.fixture
def client_for(client: Any) -> Iterator[Callable[[Any], Any]]:
    from django.test import Client

    def signed_in(user: Any) -> Any:
        browser = Client()
        browser.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return browser

    yield signed_in


@pytest.fixture
def inbox(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """A real SMTP server on loopback (aiosmtpd), configured as the alerts' Airflow connection
    URI, which the service's mail settings read; yields the messages it receives."""
    import socket

    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    received: list[Any] = []

    class Inbox(Message):
        def handle_message(self, message: Any) -> None:
            received.append(message)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Inbox(), hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", f"smtp://127.0.0.1:{port}?disable_tls=true")
    from stls_portal.settings import _smtp

    for name, value in _smtp().items():
        setattr(settings, name, value)
    try:
        yield received
    finally:
        controller.stop()
