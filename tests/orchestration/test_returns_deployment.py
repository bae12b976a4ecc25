"""The returns service deployed beside Airflow, natively, as docker-compose.yml deploys it.

The Celery deployment of `conftest.cluster` (the scheduler's own runs switched on, so that an
asset event starts a run, and every DAG paused at creation, so that only the two DAGs of this
journey run), and the returns service under gunicorn against the same PostgreSQL server in a
database and role of its own (created as returns-init creates them, migrated, static files
collected), sharing STLS_HOME with the workers. Over HTTP only: a school submitter signs in,
uploads a return through the upload form; the landing watcher starts `stls_on_arrival` on a
Celery worker, which loads it and updates stls://warehouse/returns; that starts
`stls_returns_pipeline`, which publishes; the school's page then shows the return Published.
County finance's runs page reads those runs from Airflow's REST API.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Iterator

import duckdb
import httpx
import pytest

from stls_warehouse.orchestration.deployment import RETURNS_API_USER, RETURNS_HEALTH
from stls_warehouse.orchestration.native import (
    NativeDeployment,
    NativeReturnsService,
    RestClient,
    native_returns_service,
    task_log_tail,
)
from tests.factories import csv_bytes, ledger_rows
from tests.orchestration.conftest import free_port

pytestmark = [pytest.mark.slow, pytest.mark.integration]

SUFFIX = os.environ.get("STLS_TEST_PG_SUFFIX", "")
DATABASE = "stls_airflow_returns_it" + SUFFIX
REDIS_DB = 13
DAGS = ("stls_on_arrival", "stls_returns_pipeline")
AIRFLOW_OVERRIDES = {
    "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "True",  # asset-triggered runs are the scheduler's own
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
}
RETURNS_DB = RETURNS_ROLE = "stls_returns_it" + SUFFIX
RUN_TIMEOUT = 420  # a full dbt build took 300s on this two-core machine at load average 17
RETURN_NAME = "LEDGER_SWA_2021-22_P07.csv"
RETURN_URL = "/sla/SWA/returns/ledger/2021-22-P07/"


@pytest.fixture(scope="module")
def service(
    cluster: tuple[NativeDeployment, RestClient], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NativeReturnsService]:
    native, _ = cluster
    with native_returns_service(
        stls_home=native.deployment.stls_home,
        database=RETURNS_DB,
        role=RETURNS_ROLE,
        port=free_port(),
        logs=tmp_path_factory.mktemp("returns") / "logs",
        settings={
            "STLS_AIRFLOW_API_URL": native.deployment.api_url,
            "STLS_AIRFLOW_API_USERNAME": RETURNS_API_USER,
            "STLS_AIRFLOW_API_PASSWORD": native.deployment.returns_api_password,
            "STLS_AIRFLOW_API_TIMEOUT": "10",  # a loaded two-core machine; the default is 3
        },
    ) as running:
        yield running


@pytest.fixture(scope="module")
def passwords(service: NativeReturnsService) -> dict[str, str]:
    """The demo accounts, created in the service's PostgreSQL database by its own command."""
    printed = service.manage("portal_demo_users")
    found = dict(re.findall(r"^\s+(\S+)\s+(\S+)\s+\S+", printed, flags=re.MULTILINE))
    assert {"swa.submitter", "finance"} <= set(found), printed
    return found


def _csrf(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, "the form carries a CSRF token"
    return match.group(1)


def sign_in(service: NativeReturnsService, username: str, password: str) -> httpx.Client:
    browser = httpx.Client(base_url=service.url, timeout=60)
    form = browser.get("/sign-in/")
    signed_in = browser.post(
        "/sign-in/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": _csrf(form.text)},
    )
    assert signed_in.status_code == 302, signed_in.text[-2000:]
    return browser


def upload(browser: httpx.Client, sla: str, name: str, data: bytes) -> str:
    form = browser.get(f"/sla/{sla}/upload/")
    sent = browser.post(
        f"/sla/{sla}/upload/",
        data={"csrfmiddlewaretoken": _csrf(form.text)},
        files={"file": (name, data, "text/csv")},
    )
    assert sent.status_code == 302 and f"/sla/{sla}/uploads/" in sent.headers["location"], sent.text[-2000:]
    return sent.headers["location"]


def status_on_school_page(browser: httpx.Client, sla: str, return_url: str) -> str:
    page = browser.get(f"/sla/{sla}/", params={"year": "2021-22"})
    assert page.status_code == 200
    row = next(r for r in page.text.split("<tr") if f'href="{return_url}"' in r)
    match = re.search(r'class="govuk-tag govuk-tag--\w+">([^<]+)<', row)
    assert match, row
    return match.group(1)


def runs(client: RestClient, dag_id: str) -> list[dict]:
    return list(client.get(f"/dags/{dag_id}/dagRuns", order_by="run_after", limit=100)["dag_runs"])


def wait_for(description: str, check, timeout: float = RUN_TIMEOUT):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = check()
        except httpx.TimeoutException:  # the API server starved of CPU: ask again until the deadline
            continue
        if found:
            return found
        time.sleep(2)
    raise AssertionError(f"{description}: not within {timeout:.0f}s")


def test_the_health_check_compose_polls_answers_without_signing_in(service: NativeReturnsService) -> None:
    response = httpx.get(service.url + RETURNS_HEALTH, timeout=10)
    assert (response.status_code, response.text) == (200, "ok\n")
    assert "set-cookie" not in response.headers


def test_an_upload_over_http_is_loaded_on_arrival_on_celery_and_published(
    cluster: tuple[NativeDeployment, RestClient], service: NativeReturnsService, passwords: dict[str, str]
) -> None:
    native, client = cluster
    home = native.deployment.stls_home

    # The deployment comes up: the returns pipeline's 06:00 run (catchup off: the latest one)
    # runs at once; the school uploads after it, so that only the on-arrival path takes it in.
    client.patch("/dags/stls_returns_pipeline", {"is_paused": False})
    client.patch("/dags/stls_on_arrival", {"is_paused": False})
    started = time.monotonic()
    first = wait_for(
        "the first run of stls_returns_pipeline", lambda: runs(client, "stls_returns_pipeline"), 60
    )
    wait_for(
        "the first run of stls_returns_pipeline to end",
        lambda: client.run("stls_returns_pipeline", first[0]["dag_run_id"])["state"] in ("success", "failed"),
    )
    print(f"\nthe deployment's first daily run ended after {time.monotonic() - started:.1f}s")

    school = sign_in(service, "swa.submitter", passwords["swa.submitter"])
    data = csv_bytes(ledger_rows(sla="SWA", period=7, n=3))
    uploaded_at = time.monotonic()
    verdict = school.get(upload(school, "SWA", RETURN_NAME, data))
    assert verdict.status_code == 200 and RETURN_NAME in verdict.text
    assert status_on_school_page(school, "SWA", RETURN_URL) == "Accepted"

    arrival = wait_for(
        "a run of stls_on_arrival started by the landing watcher",
        lambda: [r for r in runs(client, "stls_on_arrival") if r["state"] in ("success", "failed")],
    )[0]
    assert arrival["run_type"] == "asset_triggered"
    assert arrival["state"] == "success", task_log_tail(
        native.deployment.airflow_home, "stls_on_arrival", arrival["dag_run_id"]
    )
    tasks = {t["task_id"]: t for t in client.task_instances("stls_on_arrival", arrival["dag_run_id"])}
    assert tasks["load_returns"]["state"] == "success" and tasks["load_returns"]["hostname"]

    published = wait_for(
        "stls_returns_pipeline started by stls://warehouse/returns",
        lambda: [
            r
            for r in runs(client, "stls_returns_pipeline")
            if r["run_type"] == "asset_triggered" and r["state"] in ("success", "failed")
        ],
    )[0]
    assert published["state"] == "success", task_log_tail(
        native.deployment.airflow_home, "stls_returns_pipeline", published["dag_run_id"]
    )
    print(f"upload -> published in {time.monotonic() - uploaded_at:.1f}s")

    status = duckdb.execute(
        "select status, current_file_sha256 from read_parquet(?) "
        "where sla_code = 'SWA' and return_type = 'ledger' and period_key = '2021-22-P07'",
        [str(home / "published" / "current" / "parquet" / "mart_return_status.parquet")],
    ).fetchall()
    assert [sha for _, sha in status] == [hashlib.sha256(data).hexdigest()]

    # what the school reads: its page and the return's page, over HTTP from gunicorn
    assert status_on_school_page(school, "SWA", RETURN_URL) == "Published"
    page = school.get(RETURN_URL)
    assert page.status_code == 200 and status[0][0] in page.text
    school.close()

    # county finance's runs page reads those runs from Airflow's REST API
    finance = sign_in(service, "finance", passwords["finance"])
    text = finance.get("/county/runs/").text
    finance.close()
    assert "Airflow could not be reached" not in text, _around(text, "Airflow could not")
    table = text[text.index('id="airflow-runs"') :]
    for dag_id, run_id in (
        ("stls_on_arrival", arrival["dag_run_id"]),
        ("stls_returns_pipeline", published["dag_run_id"]),
    ):
        row = next(r for r in table.split("<tr") if f"<code>{dag_id}</code>" in r)
        assert run_id in row and "Succeeded" in row, row
    paused_row = next(r for r in table.split("<tr") if "<code>stls_monthly_close</code>" in r)
    assert "Paused" in paused_row and "Never run" in paused_row


def _around(text: str, needle: str, width: int = 400) -> str:
    at = text.find(needle)
    return text[max(0, at - width) : at + width] if at >= 0 else ""
