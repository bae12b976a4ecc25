"""The whole pipeline through the real Airflow DAG, dbt and Great Expectations.

One full 2021-22 run reproduces every figure of the seed briefing from the published
Parquet; a small slice shows that a bad return is quarantined and nothing from it is
published, and that running again changes nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from stls_warehouse.synthetic import generate, generate_returns

pytestmark = pytest.mark.slow
STLS = str(Path(sys.executable).with_name("stls"))


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One Airflow metadata database for the session: `airflow db migrate` runs once."""
    return tmp_path_factory.mktemp("airflow")


def stls_run(home: Path, airflow_home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, STLS_HOME=str(home), AIRFLOW_HOME=str(airflow_home), STLS_AS_OF_DATE="2022-06-30")
    done = subprocess.run([STLS, "run"], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, (
        done.stdout + done.stderr + max((airflow_home / "runs").glob("run_*.log")).read_text()[-5000:]
    )
    return done


def published(home: Path, table: str) -> str:
    return str(home / "published" / "parquet" / f"{table}.parquet")


@pytest.fixture(scope="session")
def full_year(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's complete 2021-22 year, run through `stls run` (tests/publish/year_fixture.py)."""
    from tests.publish.year_fixture import year_home

    return year_home(tmp_path_factory)


def test_seed_budget_versus_outturn_from_published_parquet(full_year: Path) -> None:
    rows = duckdb.execute(
        "select service_line, core_budget, outreach_budget, total_budget, outturn, variance, "
        "pension_allocation, variance_after_pension, periods_received, is_complete "
        "from read_parquet(?) where financial_year = '2021-22' order by service_line",
        [published(full_year, "mart_service_line_budget_outturn")],
    ).fetchall()
    by_line = {r[0]: r[1:] for r in rows}
    assert set(by_line) == {"DISTRICT", "PD", "SENSORY"}
    expected = {  # core, outreach, total budget, outturn, variance
        "DISTRICT": ("3482036", "2400000", "5882036", "6488791", "-606755"),
        "PD": ("325200", "100000", "425200", "476217", "-51017"),
        "SENSORY": ("1894637", "0", "1894637", "2071324", "-176687"),
    }
    for line, figures in expected.items():
        assert by_line[line][:5] == tuple(Decimal(f) for f in figures), line
        assert isinstance(by_line[line][3], Decimal)
        assert by_line[line][7] == 12 and by_line[line][8] is True
    assert sum(r[5] for r in by_line.values()) == Decimal("333063")  # pension allocation
    assert sum(r[3] for r in by_line.values()) == Decimal("9036332")  # forecast outturn
    assert sum(r[2] for r in by_line.values()) + Decimal("333063") == Decimal("8534936")
    assert sum(r[4] for r in by_line.values()) == Decimal("-834459")  # before pension
    assert sum(r[6] for r in by_line.values()) == Decimal("-501396")  # after pension


def test_seed_district_expenditure_breakdown(full_year: Path) -> None:
    rows = duckdb.execute(
        "select expenditure_category, amount, share_pct from read_parquet(?) "
        "where financial_year = '2021-22' and service_line = 'DISTRICT'",
        [published(full_year, "mart_expenditure_breakdown")],
    ).fetchall()
    got = {cat: (round(amount / 1000), share) for cat, amount, share in rows}
    assert got == {
        "DIRECT_STAFFING": (5865, Decimal("90.4")),
        "INDIRECT_STAFFING": (144, Decimal("2.2")),
        "OPERATIONAL": (146, Decimal("2.2")),
        "OTHER": (334, Decimal("5.2")),
    }
    assert round(sum(amount for _, amount, _ in rows) / 1000) == 6489


def test_published_ledger_lines_match_the_generated_returns(full_year: Path) -> None:
    generated = generate_returns(years=["2021-22"])
    lines = list(generated.ledger_lines())
    count, total, files, rows_without_source = duckdb.execute(
        "select count(*), sum(amount), count(distinct source_file_sha256), "
        "count(*) filter (where source_row is null or source_row < 2) from read_parquet(?)",
        [published(full_year, "fct_ledger_lines")],
    ).fetchone()
    assert count == len(lines)
    assert total == sum(line.amount for line in lines)
    assert files == 14 * 12 and rows_without_source == 0
    columns = {
        c[0]
        for c in duckdb.execute(
            "describe select * from read_parquet(?)", [published(full_year, "fct_ledger_lines")]
        ).fetchall()
    }
    assert "description" not in columns


def test_every_2021_22_return_is_accepted(full_year: Path) -> None:
    counts = dict(
        duckdb.execute(
            "select status, count(*) from read_parquet(?) where period_key like '2021-22%' "
            "or period_key between '2021-04' and '2022-03' group by all",
            [published(full_year, "mart_return_status")],
        ).fetchall()
    )
    assert counts == {"ACCEPTED": 14 * 12 * 2}


def test_a_bad_return_is_quarantined_and_nothing_from_it_is_published(
    tmp_path: Path, airflow_home: Path
) -> None:
    home = tmp_path / "slice"
    landing = home / "landing"
    good = generate(landing, years=["2021-22"], slas=["SWA", "CSN"], periods=[1, 2])
    bad = landing / "LEDGER_MAI_2021-22_P01.csv"
    bad.write_text(
        "sla_code,financial_year,period,line_ref,posting_date,cost_centre,account_code,"
        "fund_strand,description,amount,is_overhead_recharge\n"
        'MAI,2021-22,1,A1,2021-04-30,MAI-CORE,E01,CORE,Salaries,"12,34.00",N\n',
        encoding="utf-8",
    )
    stls_run(home, airflow_home)
    sources = duckdb.execute(
        "select distinct sla_code from read_parquet(?)", [published(home, "fct_ledger_lines")]
    ).fetchall()
    assert sorted(s for (s,) in sources) == ["CSN", "SWA"]
    status = dict(
        duckdb.execute(
            "select status, count(*) from read_parquet(?) where sla_code = 'MAI' "
            "and period_key = '2021-22-P01' group by all",
            [published(home, "mart_return_status")],
        ).fetchall()
    )
    assert status == {"REJECTED": 1}
    reports = list((home / "quarantine").glob("*/rejection.json"))
    assert len(reports) == 1
    report = json.loads(reports[0].read_text())
    assert [(e["code"], e["row"], e["column"]) for e in report["errors"]] == [("AMOUNT_INVALID", 2, "amount")]
    assert len(good) == 2 * 2 * 2

    manifest = (home / "published" / "parquet" / "manifest.json").read_text()
    stls_run(home, airflow_home)  # nothing new in the landing zone: nothing changes
    assert (home / "published" / "parquet" / "manifest.json").read_text() == manifest
    con = duckdb.connect(str(home / "warehouse" / "stls.duckdb"), read_only=True)
    assert con.execute("select count(*) from raw.submissions").fetchone() == (9,)


def test_a_failed_task_fails_stls_run_and_names_the_reason(tmp_path: Path, airflow_home: Path) -> None:
    home = tmp_path / "broken"
    generate(home / "landing", years=["2021-22"], slas=["SWA"], periods=[1])
    (home / "warehouse").mkdir(parents=True)
    (home / "warehouse" / "stls.duckdb").write_text("not a database")
    env = dict(os.environ, STLS_HOME=str(home), AIRFLOW_HOME=str(airflow_home))
    done = subprocess.run([STLS, "run"], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert "not a valid DuckDB database file" in done.stderr
    assert not (home / "published" / "parquet").exists()
