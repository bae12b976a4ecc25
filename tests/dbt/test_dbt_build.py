"""End to end: a tiny warehouse built by code, one `dbt build`, the published marts checked.

The raw tables are created by `stls_warehouse.warehouse.connect` (the intake's own DDL), so the
dbt sources are tested against the real landing contract. Statuses are judged at a fixed
STLS_AS_OF_DATE so the test does not depend on today's date. dbt runs once per module; every
test reads the warehouse it left behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from stls_warehouse.config import DBT_PROJECT_DIR
from stls_warehouse.warehouse import connect

pytestmark = pytest.mark.slow

AS_OF = "2021-06-15"  # CAN's P02 ledger return is due on this very day


@dataclass(frozen=True)
class Line:
    account_code: str
    amount: str
    fund_strand: str = "CORE"
    posting_date: date | None = None


def _submission(
    sha: str,
    *,
    sla: str | None,
    period_key: str | None,
    status: str,
    received: str,
    version: int | None = None,
    return_type: str | None = "ledger",
    nil: bool = False,
) -> dict[str, Any]:
    financial_year = period = kpi_month = None
    if return_type == "ledger" and period_key:
        financial_year, period = period_key[:7], int(period_key[-2:])
    if return_type == "kpi" and period_key:
        kpi_month = period_key
        year, month = int(period_key[:4]), int(period_key[5:])
        start = year if month >= 4 else year - 1
        financial_year = f"{start}-{(start + 1) % 100:02d}"
    return {
        "file_sha256": sha,
        "original_name": f"{sha}.csv",
        "received_at": datetime.fromisoformat(received),
        "return_type": return_type,
        "sla_code": sla,
        "period_key": period_key,
        "financial_year": financial_year,
        "period": period,
        "kpi_month": kpi_month,
        "status": status,
        "version": version,
        "is_nil_return": nil,
        "error_count": 0 if status != "REJECTED" else 1,
        "warning_count": 0,
        "problems_json": "[]",
    }


# (submission, ledger lines). Versions are numbered as intake does: accepted files of a key,
# in received order.
SUBMISSIONS: list[tuple[dict[str, Any], list[Line]]] = [
    # ASH P01: v1 superseded by v2.
    (
        _submission(
            "ash-p01-v1",
            sla="ASH",
            period_key="2021-22-P01",
            status="ACCEPTED",
            received="2021-05-05 09:00:00",
            version=1,
        ),
        [Line("E01", "1000.00"), Line("E09", "100.00"), Line("I01", "-50.00")],
    ),
    (
        _submission(
            "ash-p01-v2",
            sla="ASH",
            period_key="2021-22-P01",
            status="ACCEPTED",
            received="2021-05-10 09:00:00",
            version=2,
        ),
        [
            Line("E01", "1200.00"),
            Line("E12", "300.00"),
            Line("I01", "-200.00"),
            Line("E19", "500.00", fund_strand="OUTREACH"),
        ],
    ),
    # A byte-identical resend of v1: changes nothing, not counted.
    (
        _submission(
            "ash-p01-v1",
            sla="ASH",
            period_key="2021-22-P01",
            status="DUPLICATE",
            received="2021-05-11 09:00:00",
        ),
        [],
    ),
    # ASH P02: only a rejected file.
    (
        _submission(
            "ash-p02-r1",
            sla="ASH",
            period_key="2021-22-P02",
            status="REJECTED",
            received="2021-06-10 09:00:00",
        ),
        [],
    ),
    # ASH P13: year-end adjustments, outside the expected grid, posted in April.
    (
        _submission(
            "ash-p13-v1",
            sla="ASH",
            period_key="2021-22-P13",
            status="ACCEPTED",
            received="2021-06-01 09:00:00",
            version=1,
        ),
        [Line("E01", "10.00", posting_date=date(2022, 4, 15))],
    ),
    # CPD P01: accepted, then a rejected file that must not supersede it.
    (
        _submission(
            "cpd-p01-v1",
            sla="CPD",
            period_key="2021-22-P01",
            status="ACCEPTED",
            received="2021-05-12 09:00:00",
            version=1,
        ),
        [Line("E01", "800.00"), Line("E26", "200.00"), Line("E20E", "100.00")],
    ),
    (
        _submission(
            "cpd-p01-r1",
            sla="CPD",
            period_key="2021-22-P01",
            status="REJECTED",
            received="2021-05-20 09:00:00",
        ),
        [],
    ),
    # CPD P02: a nil return (accepted, no lines).
    (
        _submission(
            "cpd-p02-nil",
            sla="CPD",
            period_key="2021-22-P02",
            status="ACCEPTED",
            received="2021-06-02 09:00:00",
            version=1,
            nil=True,
        ),
        [],
    ),
    # ASH KPI April 2021.
    (
        _submission(
            "ash-kpi-2104",
            sla="ASH",
            period_key="2021-04",
            status="ACCEPTED",
            received="2021-05-03 09:00:00",
            version=1,
            return_type="kpi",
        ),
        [],
    ),
    # A file whose name could not be read: belongs to no return.
    (
        _submission(
            "junk",
            sla=None,
            period_key=None,
            status="REJECTED",
            received="2021-05-04 09:00:00",
            return_type=None,
        ),
        [],
    ),
]


def _period_date(period_key: str) -> date:
    start, period = int(period_key[:4]), int(period_key[-2:])
    month = (period + 2) % 12 + 1
    return date(start + (period > 9), month, 10)


def _load_raw(path: Path) -> None:
    con = connect(path)
    try:
        for submission, lines in SUBMISSIONS:
            columns = ", ".join(submission)
            marks = ", ".join("?" for _ in submission)
            con.execute(
                f"insert into raw.submissions ({columns}) values ({marks})",
                list(submission.values()),
            )
            if submission["status"] != "ACCEPTED":
                continue
            for row, line in enumerate(lines, start=2):
                con.execute(
                    "insert into raw.ledger_lines values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        submission["file_sha256"],
                        row,
                        submission["sla_code"],
                        submission["financial_year"],
                        submission["period"],
                        f"L{row}",
                        line.posting_date or _period_date(submission["period_key"]),
                        "CC1",
                        line.account_code,
                        line.fund_strand,
                        "Invoice for J. Smith",  # personal data: must never reach a mart
                        Decimal(line.amount),
                        False,
                    ],
                )
        for row, (kpi_code, value) in enumerate([("REF_RCVD", "12"), ("STAFF_FTE", "4.50")], 2):
            con.execute(
                "insert into raw.kpi_values values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ["ash-kpi-2104", row, "ASH", "2021-04", kpi_code, Decimal(value), None, None, None],
            )
    finally:
        con.close()


@dataclass
class DbtRun:
    warehouse: Path
    target_path: Path
    log_path: Path
    env: dict[str, str]
    result: Any
    seconds: float

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        import duckdb

        # Not read_only: dbt-duckdb keeps its own (read-write) handle on the file open in this
        # process after dbtRunner returns, and DuckDB refuses a second handle with another
        # configuration. A default connection shares dbt's database instance.
        con = duckdb.connect(str(self.warehouse))
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()


def dbt_args(command: list[str], target_path: Path, log_path: Path) -> list[str]:
    return [
        *command,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target_path),
        "--log-path",
        str(log_path),
        "--no-use-colors",
        "--quiet",
    ]


def invoke(args: list[str], env: dict[str, str]) -> Any:
    from dbt.cli.main import dbtRunner

    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        return dbtRunner().invoke(args)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DbtRun]:
    import time

    root = tmp_path_factory.mktemp("dbt_build")
    warehouse = root / "warehouse" / "stls.duckdb"
    _load_raw(warehouse)
    env = {
        "STLS_WAREHOUSE_PATH": str(warehouse),
        "STLS_AS_OF_DATE": AS_OF,
        "STLS_DBT_TARGET": "duckdb",
        "DO_NOT_TRACK": "1",
    }
    target_path, log_path = root / "target", root / "logs"
    started = time.perf_counter()
    result = invoke(dbt_args(["build"], target_path, log_path), env)
    seconds = time.perf_counter() - started
    yield DbtRun(warehouse, target_path, log_path, env, result, seconds)


def test_build_succeeds_with_every_test_passing(built: DbtRun) -> None:
    assert built.result.exception is None, built.result.exception
    failures = [
        f"{r.node.unique_id}: {r.status} {r.message}"
        for r in built.result.result
        if str(r.status) not in ("success", "pass")
    ]
    assert not failures, "\n".join(failures)
    assert built.result.success
    kinds = {r.node.resource_type for r in built.result.result}
    assert {"seed", "model", "test", "unit_test"} <= {str(k) for k in kinds}
    print(f"dbt build: {built.seconds:.1f}s")  # shown with pytest -s


def test_superseded_and_rejected_versions_are_excluded_from_fct(built: DbtRun) -> None:
    rows = built.query(
        "select source_file_sha256, count(*), sum(amount) from marts.fct_ledger_lines group by 1 order by 1"
    )
    assert rows == [
        ("ash-p01-v2", 4, Decimal("1800.00")),
        ("ash-p13-v1", 1, Decimal("10.00")),
        ("cpd-p01-v1", 3, Decimal("1100.00")),
    ]


def test_fct_ledger_lines_carry_categories_and_no_free_text(built: DbtRun) -> None:
    row = built.query(
        "select sla_code, service_line, district, area, financial_year, period, "
        "posting_date, account_code, expenditure_category, fund_strand, amount, "
        "is_overhead_recharge, source_row from marts.fct_ledger_lines "
        "where source_file_sha256 = 'ash-p01-v2' and source_row = 5"
    )
    assert row == [
        (
            "ASH",
            "DISTRICT",
            "Ashford",
            "South",
            "2021-22",
            1,
            date(2021, 4, 10),
            "E19",
            "OTHER",
            "OUTREACH",
            Decimal("500.00"),
            False,
            5,
        )
    ]
    columns = {r[0] for r in built.query("describe marts.fct_ledger_lines")}
    assert not {"description", "cost_centre", "comment"} & columns
    # The one `description` published is a check's definition, written by the project
    # (mart_return_queries; reviewed in expectations/warehouse_personal_data.py).
    assert built.query(
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'marts' and column_name in ('description', 'comment')"
    ) == [("mart_return_queries", "description")]


def _pension_by_largest_remainder(weights: dict[str, Decimal]) -> dict[str, Decimal]:
    """333,063.00 split by the weights to the penny, leftover pennies to the largest
    remainders (ties alphabetical): the rule of int_pension_funding_allocated."""
    funding = Decimal("333063.00")
    total = sum(weights.values())
    pennies = int(funding * 100)
    exact = {k: Decimal(pennies) * w / total for k, w in weights.items()}
    floors = {k: int(v) for k, v in exact.items()}
    left = pennies - sum(floors.values())
    for k in sorted(exact, key=lambda k: (-(exact[k] - floors[k]), k))[:left]:
        floors[k] += 1
    return {k: Decimal(v) / 100 for k, v in floors.items()}


# Pensionable teacher pay (E01 on CORE, OUTREACH or PENSION) in 2021-22, the default basis:
# ASH v2 1200.00 + P13 10.00; CPD 800.00 (its E26 agency cover is not pensionable).
PENSION = _pension_by_largest_remainder(
    {"ASH": Decimal("1210.00"), "CPD": Decimal("800.00"), "CSN": Decimal(0)}
)


def test_budget_outturn_by_service_line(built: DbtRun) -> None:
    rows = built.query(
        "select service_line, total_budget, outturn, variance, pension_allocation, "
        "variance_after_pension, periods_received, is_complete "
        "from marts.mart_service_line_budget_outturn "
        "where financial_year = '2021-22' order by service_line"
    )
    assert rows == [
        # ASH: v2 (1800.00) + P13 (10.00).
        (
            "DISTRICT",
            Decimal("5882036.00"),
            Decimal("1810.00"),
            Decimal("5880226.00"),
            PENSION["ASH"],
            Decimal("5880226.00") + PENSION["ASH"],
            2,
            False,
        ),
        # CPD: 1100.00; P01 and the nil P02 received.
        (
            "PD",
            Decimal("425200.00"),
            Decimal("1100.00"),
            Decimal("424100.00"),
            PENSION["CPD"],
            Decimal("424100.00") + PENSION["CPD"],
            2,
            False,
        ),
        (
            "SENSORY",
            Decimal("1894637.00"),
            Decimal("0.00"),
            Decimal("1894637.00"),
            Decimal("0.00"),
            Decimal("1894637.00"),
            0,
            False,
        ),
    ]


def test_budget_outturn_has_every_budget_year_and_service_line(built: DbtRun) -> None:
    rows = built.query(
        "select financial_year, count(*), sum(total_budget), sum(pension_allocation) "
        "from marts.mart_service_line_budget_outturn group by 1 order by 1"
    )
    assert [r[0] for r in rows] == ["2021-22", "2022-23", "2023-24", "2024-25"]
    assert all(r[1] == 3 for r in rows)
    # The seed's 2021-22 budget: 5,882,036 + 425,200 + 1,894,637.
    assert rows[0][2] == Decimal("8201873.00")
    # The pension funding is shared out to the penny every year, on the 2021-22 basis
    # (the seed: "allocated based on actual staff costs at the time").
    assert all(r[3] == Decimal("333063.00") for r in rows)


def test_pension_allocation_per_sla_matches_largest_remainder_in_python(built: DbtRun) -> None:
    rows = built.query(
        "select sla_code, pension_allocation from marts.mart_pension_allocation "
        "where financial_year = '2022-23' and pension_allocation > 0 order by 1"
    )
    assert rows == [("ASH", PENSION["ASH"]), ("CPD", PENSION["CPD"])]
    assert PENSION["ASH"] + PENSION["CPD"] == Decimal("333063.00")


def test_expenditure_breakdown_shares(built: DbtRun) -> None:
    rows = built.query(
        "select service_line, expenditure_category, amount, share_pct "
        "from marts.mart_expenditure_breakdown where financial_year = '2021-22' "
        "order by service_line, expenditure_category"
    )
    assert rows == [
        # DISTRICT spend 2010.00 (income excluded): 60.199.. / 14.925.. / 24.875..
        ("DISTRICT", "DIRECT_STAFFING", Decimal("1210.00"), Decimal("60.2")),
        ("DISTRICT", "OPERATIONAL", Decimal("300.00"), Decimal("14.9")),
        ("DISTRICT", "OTHER", Decimal("500.00"), Decimal("24.9")),
        ("PD", "DIRECT_STAFFING", Decimal("1000.00"), Decimal("90.9")),
        ("PD", "OTHER", Decimal("100.00"), Decimal("9.1")),
    ]
    types = dict(
        built.query(
            "select column_name, data_type from information_schema.columns "
            "where table_name = 'mart_expenditure_breakdown'"
        )
    )
    assert types["share_pct"] == "DECIMAL(5,1)"
    assert types["amount"] == "DECIMAL(18,2)"


def _status(built: DbtRun, sla: str, return_type: str, key: str) -> tuple[Any, ...]:
    rows = built.query(
        "select status, versions_received, current_file_sha256, received_at, due_date "
        "from marts.mart_return_status "
        f"where sla_code = '{sla}' and return_type = '{return_type}' and period_key = '{key}'"
    )
    assert len(rows) == 1, rows
    return rows[0]


def test_return_status_rows_cover_the_grid_plus_received_extras(built: DbtRun) -> None:
    # 14 SLAs x (12 ledger periods + 12 KPI months) x 4 budgeted years, plus ASH's P13.
    assert built.query("select count(*) from marts.mart_return_status") == [(14 * 24 * 4 + 1,)]
    assert built.query("select count(*) from marts.mart_return_status where not is_expected") == [(1,)]
    assert built.query("select distinct status_as_of from marts.mart_return_status") == [(date(2021, 6, 15),)]


def test_return_statuses(built: DbtRun) -> None:
    assert _status(built, "ASH", "ledger", "2021-22-P01") == (
        "ACCEPTED",
        2,
        "ash-p01-v2",
        datetime(2021, 5, 10, 9),
        date(2021, 5, 15),
    )
    assert _status(built, "ASH", "ledger", "2021-22-P02") == (
        "REJECTED",
        1,
        None,
        datetime(2021, 6, 10, 9),
        date(2021, 6, 15),
    )
    # A rejected file after an accepted one changes nothing but the count.
    assert _status(built, "CPD", "ledger", "2021-22-P01") == (
        "ACCEPTED",
        2,
        "cpd-p01-v1",
        datetime(2021, 5, 12, 9),
        date(2021, 5, 15),
    )
    assert _status(built, "CPD", "ledger", "2021-22-P02")[:3] == ("ACCEPTED", 1, "cpd-p02-nil")
    # P13 ends on 30 April of the year the financial year ends.
    assert _status(built, "ASH", "ledger", "2021-22-P13") == (
        "ACCEPTED",
        1,
        "ash-p13-v1",
        datetime(2021, 6, 1, 9),
        date(2022, 5, 15),
    )
    assert _status(built, "ASH", "kpi", "2021-04")[:3] == ("ACCEPTED", 1, "ash-kpi-2104")
    # Nothing received: overdue the day after the due date, missing on it.
    assert _status(built, "CAN", "ledger", "2021-22-P01") == ("OVERDUE", 0, None, None, date(2021, 5, 15))
    assert _status(built, "CAN", "ledger", "2021-22-P02") == ("MISSING", 0, None, None, date(2021, 6, 15))
    assert _status(built, "CAN", "kpi", "2021-05") == ("OVERDUE", 0, None, None, date(2021, 6, 10))
    assert _status(built, "CAN", "kpi", "2021-06") == ("MISSING", 0, None, None, date(2021, 7, 10))
    counts = dict(built.query("select status, count(*) from marts.mart_return_status group by 1"))
    assert counts["ACCEPTED"] == 5
    assert counts["REJECTED"] == 1
    # Due before 15 June 2021: ledger P1 (14 SLAs) and KPI April and May (14 each), less
    # the three of those ASH and CPD sent.
    assert counts["OVERDUE"] == 14 * 3 - 3


def test_mart_contracts_are_enforced_and_described(built: DbtRun) -> None:
    import json

    manifest = json.loads((built.target_path / "manifest.json").read_text())
    marts = {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["schema"] == "marts"
    }
    assert set(marts) == {
        "dim_sla",
        "dim_account",
        "dim_period",
        "dim_kpi",
        "fct_ledger_lines",
        "mart_service_line_budget_outturn",
        "mart_expenditure_breakdown",
        "mart_return_status",
        "mart_return_queries",
        "mart_overhead_standardisation",
        "mart_core_outreach_separation",
        "mart_pension_allocation",
        "mart_sla_value_options",
        "mart_formula_allocation",
        "mart_inflation_scenarios",
        "mart_kpi_monthly",
        "mart_value_for_money",
        "mart_structure_comparison",
        "submission_ledger",
        "mart_data_quality_results",
    }
    for name, node in marts.items():
        assert node["config"]["contract"]["enforced"], name
        assert node["description"].startswith("One row per"), name
        for column in node["columns"].values():
            assert column["description"].strip(), f"{name}.{column['name']}"
            assert column["data_type"], f"{name}.{column['name']}"
    # dbt reads the kinds the reports and the workbook use (stls_warehouse.catalog)
    target = marts["mart_kpi_monthly"]["columns"]["target"]
    assert {**target.get("meta", {}), **target.get("config", {}).get("meta", {})}["kind"] == "by_unit"


def test_docs_generate_works_offline(built: DbtRun, tmp_path: Path) -> None:
    import json
    import shutil

    target_path = tmp_path / "docs_target"
    shutil.copytree(built.target_path, target_path)  # dbt parses only what changed
    result = invoke(dbt_args(["docs", "generate"], target_path, tmp_path / "logs"), built.env)
    assert result.success, result.exception
    catalog = json.loads((target_path / "catalog.json").read_text())
    documented = {node.split(".")[-1] for node in catalog["nodes"]}
    assert {
        "mart_return_status",
        "mart_formula_allocation",
        "mart_kpi_monthly",
        "mart_structure_comparison",
    } <= documented
    assert (target_path / "index.html").exists()


def test_dbt_parse_works_without_a_warehouse(tmp_path: Path) -> None:
    env = {
        "STLS_WAREHOUSE_PATH": str(tmp_path / "absent" / "stls.duckdb"),
        "DO_NOT_TRACK": "1",
    }
    result = invoke(dbt_args(["parse"], tmp_path / "target", tmp_path / "logs"), env)
    assert result.success, result.exception


def _compile_classified(built: DbtRun, env: dict[str, str], tmp_path: Path, *extra: str) -> tuple[Any, str]:
    import shutil

    target_path = tmp_path / "target"
    shutil.copytree(built.target_path, target_path)  # dbt parses only what changed
    args = ["compile", "--select", "int_returns_classified", *extra]
    result = invoke(dbt_args(args, target_path, tmp_path / "logs"), env)
    compiled = next(target_path.glob("compiled/**/int_returns_classified.sql"), None)
    return result, compiled.read_text() if compiled else ""


def test_as_of_date_var_wins_over_the_environment(built: DbtRun, tmp_path: Path) -> None:
    result, sql = _compile_classified(built, built.env, tmp_path, "--vars", "{as_of_date: 2021-07-01}")
    assert result.success, result.exception
    assert "cast('2021-07-01' as date)" in sql
    assert AS_OF not in sql


def test_as_of_date_defaults_to_today(built: DbtRun, tmp_path: Path) -> None:
    result, sql = _compile_classified(built, {**built.env, "STLS_AS_OF_DATE": ""}, tmp_path)
    assert result.success, result.exception
    assert "< current_date" in sql


def test_an_invalid_as_of_date_stops_the_run(built: DbtRun, tmp_path: Path) -> None:
    result, _ = _compile_classified(built, {**built.env, "STLS_AS_OF_DATE": "15/06/2021"}, tmp_path)
    assert not result.success
    assert "as_of_date must be YYYY-MM-DD" in str(result.exception)


def test_profile_path_falls_back_to_stls_home() -> None:
    """Without STLS_WAREHOUSE_PATH the duckdb target lives under $STLS_HOME/warehouse/."""
    import jinja2
    import yaml

    profile = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text())["stls"]
    template = jinja2.Environment().from_string(profile["outputs"]["duckdb"]["path"])

    def render(**environ: str) -> str:
        # dbt's env_var with a default, over a given environment.
        return template.render(env_var=lambda name, default: environ.get(name, default)).strip()

    assert render(STLS_WAREHOUSE_PATH="/w/x.duckdb", STLS_HOME="/srv") == "/w/x.duckdb"
    assert render(STLS_HOME="/srv/stls") == "/srv/stls/warehouse/stls.duckdb"
    assert render(STLS_WAREHOUSE_PATH="", STLS_HOME="/srv/stls") == ("/srv/stls/warehouse/stls.duckdb")
    assert render() == "data/warehouse/stls.duckdb"
    assert profile["target"] == "{{ env_var('STLS_DBT_TARGET', 'duckdb') }}"
    assert all(output["threads"] == 1 for output in profile["outputs"].values())
