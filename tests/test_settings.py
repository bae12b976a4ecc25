"""The `STLS_*` settings: read when asked for, with the documented defaults."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from stls_warehouse.config import REPO_ROOT, Settings, settings


def test_defaults_when_nothing_is_set() -> None:
    env = Settings.from_env({"HOME": "/somewhere"})
    assert env.environ == {}
    assert env.home == (REPO_ROOT / "data").resolve()
    assert (env.as_of_date, env.dbt_target, env.postgres_url) == ("", "duckdb", None)
    assert (env.postgres_attempts, env.postgres_retry_seconds) == (3, 30.0)
    assert (env.intake_memory_mb, env.intake_timeout_seconds, env.landing_settle_seconds) == (
        2048,
        120.0,
        30.0,
    )
    assert (env.task_retries, env.retry_delay_seconds, env.task_timeout_seconds) == (2, 120, 3600)
    assert (env.alert_to, env.alert_from, env.smtp_conn_id) == ([], None, None)
    assert env.evidence_max_source_mb is None
    assert env.allow_release_loss is False
    assert env.portal_base_url == "http://127.0.0.1:8000"


def test_read_at_call_time_not_import_time(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STLS_HOME", str(tmp_path))
    monkeypatch.setenv("STLS_ALERT_TO", " a@example.org, ,b@example.org")
    monkeypatch.setenv("STLS_POSTGRES_ATTEMPTS", "0")
    monkeypatch.setenv("STLS_ALLOW_RELEASE_LOSS", "Yes")
    monkeypatch.setenv("STLS_EVIDENCE_MAX_SOURCE_MB", "0.5")
    monkeypatch.setenv("STLS_PORTAL_BASE_URL", "https://returns.example.org/")
    env = settings()
    assert env.home == tmp_path.resolve()
    assert env.alert_to == ["a@example.org", "b@example.org"]
    assert env.postgres_attempts == 1  # at least one try
    assert env.allow_release_loss is True
    assert env.evidence_max_source_mb == Decimal("0.5")
    assert env.portal_base_url == "https://returns.example.org"


def test_a_malformed_value_fails_where_it_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STLS_TASK_RETRIES", "two")
    env = settings()  # reading the environment never fails
    assert env.intake_memory_mb == 2048
    with pytest.raises(ValueError):
        _ = env.task_retries


def test_only_stls_variables() -> None:
    with pytest.raises(KeyError):
        Settings.from_env({}).get("HOME")
