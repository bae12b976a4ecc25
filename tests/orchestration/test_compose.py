"""docker-compose.yml runs what the native Celery test runs, with no secret committed."""

from __future__ import annotations

import re

import pytest
import yaml

from stls_warehouse.config import REPO_ROOT
from stls_warehouse.orchestration.deployment import (
    BACKING_SERVICES,
    RETURNS_API_USER,
    RETURNS_HEALTH,
    RETURNS_INIT,
    RETURNS_SERVICE,
    SERVICES,
    SHARED_SETTINGS,
    WORKERS,
    Deployment,
)

COMPOSE = REPO_ROOT / "docker-compose.yml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
SECRETS = (
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CELERY__BROKER_URL",
    "AIRFLOW_CONN_SMTP_DEFAULT",
)
RETURNS_SECRETS = ("STLS_PORTAL_DATABASE_URL", "STLS_PORTAL_SECRET_KEY", "STLS_AIRFLOW_API_PASSWORD")
# Settings whose value is the same wherever the deployment runs (no host names, no paths).
SAME_VALUE = (
    "AIRFLOW__CORE__EXECUTOR",
    "AIRFLOW__CORE__LOAD_EXAMPLES",
    "AIRFLOW__CORE__AUTH_MANAGER",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS",
    "AIRFLOW__API_AUTH__JWT_ISSUER",
)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def _native(tmp_path) -> dict[str, str]:
    return Deployment(
        tmp_path, tmp_path, "postgresql+psycopg2://x/y", "redis://x/0", "db+postgresql://x/y"
    ).settings()


def test_compose_runs_the_services_the_native_test_starts(compose: dict) -> None:
    services = compose["services"]
    assert set(SERVICES) | set(BACKING_SERVICES) <= set(services)
    assert len(WORKERS) >= 2
    for name, args in SERVICES.items():
        assert services[name]["command"] == ["airflow", *args], name
    for name in [*SERVICES, *BACKING_SERVICES]:
        assert "healthcheck" in services[name], f"{name} has no health check"


def test_every_airflow_service_shares_the_native_settings(compose: dict, tmp_path) -> None:
    native = _native(tmp_path)
    for name in SERVICES:
        environment = compose["services"][name]["environment"]
        assert set(SHARED_SETTINGS) <= set(environment), set(SHARED_SETTINGS) - set(environment)
        for key in SAME_VALUE:
            assert str(environment[key]) == native[key], key
        assert any(v.endswith(":/data/stls") for v in compose["services"][name]["volumes"])
        assert environment["STLS_HOME"] == "/data/stls"
        assert compose["services"][name]["depends_on"]["airflow-init"]["condition"] == (
            "service_completed_successfully"
        )


def test_no_secret_is_committed_and_env_example_lists_every_variable(compose: dict) -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    environment = compose["x-airflow-common"]["environment"]
    for key in SECRETS:
        assert "${" in str(environment[key]), f"{key} must come from the environment"
    used = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", text))
    listed = {
        line.split("=", 1)[0]
        for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    }
    assert used <= listed, used - listed
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("=")
        if any(word in key for word in ("PASSWORD", "SECRET", "FERNET")) and not key.endswith("_FILE"):
            assert value == "", f"{key} has a value in .env.example"


def test_the_returns_service_runs_what_the_native_test_runs(compose: dict) -> None:
    services = compose["services"]
    init, service = services["returns-init"], services["returns-service"]
    assert service["command"] == list(RETURNS_SERVICE)
    script = " ".join(init["command"])
    steps = [" ".join(step) for step in RETURNS_INIT]
    assert all(step in script for step in steps), steps
    assert script.index(steps[0]) < script.index(steps[1]), "migrate before collectstatic"
    # its own role and database, created before the migrations
    assert "create role $${RETURNS_DB_USER} login" in script
    assert "create database $${RETURNS_DB} owner $${RETURNS_DB_USER}" in script
    assert f"localhost:8000{RETURNS_HEALTH}" in " ".join(service["healthcheck"]["test"])
    assert service["depends_on"]["returns-init"]["condition"] == "service_completed_successfully"


def test_the_returns_service_shares_stls_home_and_reads_airflow_as_a_viewer(compose: dict, tmp_path) -> None:
    environment = compose["x-returns-common"]["environment"]
    assert environment["STLS_HOME"] == "/data/stls"
    for name in ("returns-init", "returns-service"):
        assert any(v.endswith(":/data/stls") for v in compose["services"][name]["volumes"])
    airflow_home = compose["x-airflow-common"]["volumes"][0].split(":")[0]
    assert compose["services"]["returns-service"]["volumes"][0].split(":")[0] == airflow_home
    for key in RETURNS_SECRETS:
        assert "${" in str(environment[key]), f"{key} must come from the environment"
    assert "airflow-api-server:8080" in environment["STLS_AIRFLOW_API_URL"]
    assert environment["STLS_AIRFLOW_API_USERNAME"] == RETURNS_API_USER
    users = dict(
        u.split(":") for u in _native(tmp_path)["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"].split(",")
    )
    assert users[RETURNS_API_USER] == "viewer", "the returns service only reads Airflow"
