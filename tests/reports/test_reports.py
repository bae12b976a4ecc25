"""Scheduled reports and the evidence pack, read from a release of a complete real year."""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from stls_warehouse import cli
from stls_warehouse.config import Paths
from stls_warehouse.quality.completeness import YearNotComplete
from stls_warehouse.reports import annual
from stls_warehouse.reports.document import display
from stls_warehouse.reports.evidence import write_evidence_pack
from stls_warehouse.reports.monthly import NoDataForPeriod, parse_period, write_monthly_report
from stls_warehouse.reports.source import published_year_completeness
from tests.publish.year_fixture import YEAR, copy_home


class Tables(HTMLParser):
    """The report's tables as {source: [[(display, exact), ...], ...]}, and its images."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[str, list[list[tuple[str, str]]]]] = []
        self.images: list[str] = []
        self.text: list[str] = []
        self._cell: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self.tables.append((a.get("data-source") or "", []))
        elif tag == "tr" and self.tables:
            self.tables[-1][1].append([])
        elif tag == "td" or (tag == "th" and "data-value" in a):  # a row's header cell carries its value too
            self._cell = a.get("data-value") or ""
            self.tables[-1][1][-1].append(("", self._cell))
        elif tag == "img":
            self.images.append(a.get("src") or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            shown, exact = self.tables[-1][1][-1][-1]
            self.tables[-1][1][-1][-1] = (shown + data, exact)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self._cell = None


def parse(html: str) -> Tables:
    parser = Tables()
    parser.feed(html)
    return parser


def query(home: Paths, sql: str, *tables: str) -> list[tuple]:
    con = duckdb.connect()
    for table in tables:
        con.execute(
            f"create view {table} as select * from read_parquet('{home.parquet / (table + '.parquet')}')"
        )
    return con.execute(sql).fetchall()


def test_the_monthly_report_shows_the_published_figures(year_home: Path, tmp_path: Path) -> None:
    home = copy_home(year_home, tmp_path / "home")
    result = write_monthly_report(home, "2021-22-P07")
    assert result["report"] == str(home.reports / "monthly" / "monthly_2021-22-P07.html")
    assert (
        write_monthly_report(home, YEAR, "2021-10")["report"] == result["report"]
    )  # a month names its period
    report = parse(Path(result["report"]).read_text(encoding="utf-8"))
    lines, by_sla, status = report.tables  # money first, then the returns
    assert status[0] == "mart_return_status"
    assert "Synthetic data" in "".join(report.text).split("Return status by SLA")[0]
    accepted = dict(
        query(
            home,
            "select sla_code, count(*) from mart_return_status where status = 'ACCEPTED' and "
            "(period_key between '2021-22-P01' and '2021-22-P07' or period_key between '2021-04' and '2021-10') "
            "group by all",
            "mart_return_status",
        )
    )
    rows = [r for r in status[1] if r]
    assert {r[0][1]: int(r[1][1]) for r in rows[:-1]} == accepted == dict.fromkeys(accepted, 14)
    assert rows[-1][1] == ("196", "196")
    spend = dict(
        query(
            home,
            "select sla_code, sum(amount) from fct_ledger_lines where financial_year = '2021-22' and period <= 7 group by 1",
            "fct_ledger_lines",
        )
    )
    shown = {r[0][1]: r[1] for r in by_sla[1][:-1] if r}  # the last row is the total
    assert by_sla[1][-1][0][0] == "All SLAs" and Decimal(by_sla[1][-1][1][1]) == sum(spend.values())
    assert {sla: Decimal(exact) for sla, (_, exact) in shown.items()} == spend
    assert all(text == display(Decimal(exact), "money") for text, exact in shown.values())
    if (home.parquet / "mart_sla_value_options.parquet").exists():  # budget and forecast at P07
        forecast = {
            sla: (budget, projected)
            for sla, budget, projected in query(
                home,
                "select sla_code, historic_budget, forecast_outturn from mart_sla_value_options "
                "where financial_year = '2021-22' and period = 7",
                "mart_sla_value_options",
            )
        }
        assert {r[0][1]: (Decimal(r[2][1]), Decimal(r[3][1])) for r in by_sla[1][:-1] if r} == forecast
    budget = dict(
        query(
            home,
            "select service_line, total_budget from mart_service_line_budget_outturn "
            "where financial_year = '2021-22'",
            "mart_service_line_budget_outturn",
        )
    )
    assert {r[0][1]: Decimal(r[1][1]) for r in lines[1][:-1] if r} == budget
    text = "".join(report.text)
    assert "Ashford STLS (ASH)" in text and "District STLS" in text  # names, not only codes
    assert text.index("Spend against budget") < text.index("Returns received")
    assert report.images and report.images[0].startswith("data:image/png;base64,iVBOR")
    with pytest.raises(ValueError, match="not a period"):
        parse_period("2021-22-P14")
    with pytest.raises(NoDataForPeriod, match="nothing to report for 2022-23-P03"):
        write_monthly_report(home, "2022-23-P03")  # budgeted, but nothing received yet
    assert not (home.reports / "monthly" / "monthly_2022-23-P03.html").exists()


def test_the_annual_review_html_and_pdf_carry_the_published_figures(year_home: Path, tmp_path: Path) -> None:
    import pypdfium2

    home = copy_home(year_home, tmp_path / "home")
    result = annual.write_annual_report(home, YEAR)
    report = parse(Path(result["html"]).read_text(encoding="utf-8"))
    source, rows = report.tables[0]
    assert source == "mart_service_line_budget_outturn"
    table = {r[0][1]: [exact for _, exact in r[1:]] for r in rows if r}
    assert table["Core funding"] == ["3482036.00", "325200.00", "1894637.00", "5701873.00"]
    assert table["Outturn (High Needs)"] == ["6488791.00", "476217.00", "2071324.00", "9036332.00"]
    assert table["Total budget"] == ["5882036.00", "425200.00", "1894637.00", "8534936.00"]
    assert table["Pension funding"] == ["", "", "", "333063.00"]
    # The sign is printed with the variance: an underspend is never shown as "Overspend".
    assert "Overspend" not in table
    assert table["Variance (negative = overspend)"] == ["-606755.00", "-51017.00", "-176687.00", "-501396.00"]
    assert table["Traded work, net (not in outturn)"] == ["0.00", "0.00", "0.00", "0.00"]  # none in 2021-22
    pension = {r[0][1]: [exact for _, exact in r[1:]] for r in report.tables[1][1] if r}
    assert sum(Decimal(v) for v in pension["Pension funding allocated"][:3]) == Decimal("333063.00")
    breakdown = {(r[0][1], r[1][1]): Decimal(r[2][1]) for r in report.tables[2][1] if r}
    assert breakdown == {
        (line, category): amount
        for line, category, amount in query(
            home,
            "select service_line, expenditure_category, amount from mart_expenditure_breakdown where financial_year = '2021-22'",
            "mart_expenditure_breakdown",
        )
    }
    assert len(report.images) >= 2  # budget against outturn, expenditure by category
    text = "".join(report.text)
    # Built from the generator's returns: the first page says the 2021-22 "outturn" is the
    # briefing's June/July 2021 forecast, before the first table.
    first_page = text.split("Budget against outturn")[0]
    assert "Synthetic data" in first_page and "June/July 2021" in first_page
    assert "negative = overspend" in text
    for section in annual.SECTIONS:  # a section appears exactly when its table is published
        published = (home.parquet / f"{section.table}.parquet").exists()
        assert (section.title in text.split("Sections not in this review")[0]) == published, section.table

    pdf = pypdfium2.PdfDocument(result["pdf"])
    assert len(pdf) >= 2
    for index in range(len(pdf)):
        image = pdf[index].render(scale=0.5).to_pil().convert("L")
        dark = sum(image.histogram()[:200])  # pixels darker than 200 of 255
        assert dark > 2000, f"page {index + 1} is blank"
    first = pdf[0].get_textpage().get_text_range()
    assert "£5,882,036" in first and "-£501,396" in first
    assert (
        "2021-22: the service spent £9.04m against a budget of £8.53m including pension funding: £0.50m (5.9%) over budget; all three service lines overspent."
        in " ".join(first.split())
    )
    opening, _, _ = first.partition("Budget against outturn")
    assert "Figures as published on" in opening and result["release_id"] not in opening  # id: the footnote
    assert f"release {result['release_id']}" in first
    # an accessible PDF: tagged, its language set, every font embedded
    import subprocess

    info = subprocess.run(["pdfinfo", result["pdf"]], capture_output=True, text=True, check=True).stdout
    assert "Tagged:          yes" in info
    fonts = subprocess.run(["pdffonts", result["pdf"]], capture_output=True, text=True, check=True).stdout
    rows = fonts.splitlines()[2:]
    assert rows and all(row.split()[-5] == "yes" for row in rows), fonts  # the emb column
    structure = subprocess.run(
        ["pdfinfo", "-struct", result["pdf"]], capture_output=True, text=True, check=True
    ).stdout
    assert "H1" in structure and "H2" in structure and "Table" in structure and "TH" in structure
    assert structure.count("Figure") == len(report.images)  # each chart tagged (with its alt text)
    assert "(6.1" not in text and "DIRECT_STAFFING" not in text  # words, not codes


def test_annual_outputs_wait_for_a_complete_year(
    year_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = Paths(year_home)
    assert published_year_completeness(home, YEAR).is_complete
    status = published_year_completeness(home, "2022-23")
    assert not status.is_complete and status.expected == 14 * 12 * 2
    with pytest.raises(YearNotComplete, match="2022-23 is not complete"):
        annual.write_annual_report(home, "2022-23")
    monkeypatch.setenv("STLS_HOME", str(home.home))
    assert cli.main(["evidence-pack", "--year", "2022-23"]) == 1
    assert cli.main(["report", "annual", "--year", "2022-23"]) == 1
    assert "not complete" in capsys.readouterr().err


def test_the_evidence_pack_is_the_same_for_the_same_inputs(year_home: Path, tmp_path: Path) -> None:
    from stls_warehouse.transform import run_dbt

    home = copy_home(year_home, tmp_path / "first")
    run_dbt(home, "docs", "generate")  # the real dbt docs, as the pipeline leaves them
    first = write_evidence_pack(home, YEAR)
    pack = Path(first["evidence_pack"])
    for path in home.home.rglob("*"):  # file times are not evidence: new times, the same pack
        if path.is_file() and not path.is_symlink():
            os.utime(path, (1_700_000_000, 1_700_000_000))
    assert write_evidence_pack(home, YEAR)["sha256"] == first["sha256"]

    with zipfile.ZipFile(pack) as archive:
        infos = archive.infolist()
        names = [i.filename for i in infos]
        assert names == sorted(names) and {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
        for member in (
            "dbt/docs/index.html",
            "dbt/docs/manifest.json",
            "dbt/docs/catalog.json",
            "dbt/run_results.json",
            "submission_ledger.csv",
            "release/manifest.json",
            f"release/inputs_{YEAR}.csv",
            "tables/parquet/fct_ledger_lines.parquet",
            "tables/csv/mart_service_line_budget_outturn.csv",
            f"annual/annual_review_{YEAR}.pdf",
            "sources/index.csv",
            "data_quality/mart_data_quality_results.csv",
        ):
            assert member in names, member
        index = json.loads(archive.read("index.json"))
        manifest = json.loads(archive.read("release/manifest.json"))
        inputs = archive.read(f"release/inputs_{YEAR}.csv").decode().splitlines()
        for info in infos:  # no member names the machine's STLS_HOME
            assert str(home.home).encode() not in archive.read(info), info.filename
    assert index["volatile"]["dbt/run_results.json"].startswith("metadata.generated_at")
    assert manifest == json.loads((home.published / "manifest.json").read_text(encoding="utf-8"))
    assert (
        index["members"]["release/manifest.json"]["present"] and manifest["release_id"] == first["release_id"]
    )
    assert first["sha256"] == hashlib.sha256(pack.read_bytes()).hexdigest()
    assert len(inputs) == 1 + 336
    raw = {p.name for p in (Paths(year_home).raw).rglob("*") if p.is_file()}
    assert all(any(line.split(",")[0] in name for name in raw) for line in inputs[1:])


def test_the_cli_writes_each_report(year_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = copy_home(year_home, tmp_path / "home")
    monkeypatch.setenv("STLS_HOME", str(home.home))
    assert cli.main(["report", "monthly", "--period", "2021-22-P07"]) == 0
    assert cli.main(["report", "monthly"]) == 0  # the latest period with an accepted ledger return
    assert cli.main(["report", "annual", "--year", YEAR]) == 0
    assert cli.main(["evidence-pack", "--year", YEAR]) == 0
    assert sorted(p.name for p in (home.reports / "monthly").iterdir()) == [
        "monthly_2021-22-P07.html",
        "monthly_2021-22-P12.html",
    ]
    assert (home.reports / "annual" / f"annual_review_{YEAR}.pdf").read_bytes().startswith(b"%PDF")
    assert (home.reports / "evidence" / f"evidence_pack_{YEAR}.zip").is_file()
    assert cli.main(["report", "monthly", "--period", "2021-22-P13"]) == 2
    assert cli.main(["report", "monthly", "--period", "2024-25-P01"]) == 2  # no data: refused, not empty


def _as_money(value: object) -> Decimal:
    """A school's amount as typed (`"18,062.42"`, `(12.50)`, a number cell) as exact pence."""
    text = str(value).replace(",", "").replace("£", "").strip()
    negative = text.startswith("(") and text.endswith(")")
    amount = Decimal(text.strip("()")).quantize(Decimal("0.01"))
    return -amount if negative else amount


def test_an_unpacked_evidence_pack_alone_recomputes_the_district_outturn_and_opens_a_lines_source_row(
    year_home: Path, tmp_path: Path
) -> None:
    """An auditor with only the pack: unzip it into an empty folder, nothing else."""
    import csv
    import shutil

    import openpyxl

    home = copy_home(year_home, tmp_path / "home")
    shutil.copytree(year_home / "raw", home.raw)  # the accepted returns, as received
    pack = Path(write_evidence_pack(home, YEAR)["evidence_pack"])
    folder = tmp_path / "auditor"
    folder.mkdir()
    with zipfile.ZipFile(pack) as archive:
        archive.extractall(folder)
    os.chdir(folder)  # the README's query reads paths relative to the pack's folder

    with open("tables/csv/mart_service_line_budget_outturn.csv", encoding="utf-8", newline="") as f:
        published = {
            (r["financial_year"], r["service_line"]): Decimal(r["outturn"]) for r in csv.DictReader(f)
        }
    assert {year for year, _ in published} == {YEAR}  # the year's rows only
    district = published[(YEAR, "DISTRICT")]
    assert district == Decimal("6488791.00")  # the seed's figure

    con = duckdb.connect()
    (recomputed,) = con.execute(
        "select sum(amount) from 'tables/parquet/fct_ledger_lines.parquet' "
        "where service_line = 'DISTRICT' and fund_strand in ('CORE', 'OUTREACH', 'PENSION')"
    ).fetchone()
    assert recomputed == district
    with open("tables/csv/fct_ledger_lines.csv", encoding="utf-8", newline="") as f:
        lines = [r for r in csv.DictReader(f) if r["service_line"] == "DISTRICT"]
    assert sum(Decimal(r["amount"]) for r in lines if r["fund_strand"] != "TRADED") == district

    readme = Path("README.txt").read_text(encoding="utf-8")
    assert f"outturn {district}" in readme and "(agrees)" in readme

    with open("sources/index.csv", encoding="utf-8", newline="") as f:
        sources = {r["sha256"]: r for r in csv.DictReader(f)}
    checked = 0
    for line in [
        lines[0],
        lines[-1],
        *(r for r in lines if "xlsx" in sources[r["source_file_sha256"]]["file_name"]),
    ][:3]:
        source = sources[line["source_file_sha256"]]
        path = Path(source["member"])
        assert source["in_pack"] == "yes" and path.is_file()
        assert hashlib.sha256(path.read_bytes()).hexdigest() == line["source_file_sha256"]
        row = int(line["source_row"])
        if path.suffix == ".csv":
            with open(path, encoding="utf-8-sig", newline="") as f:
                table = list(csv.reader(f))
            header, values = table[0], table[row - 1]
        else:
            sheet = openpyxl.load_workbook(path, read_only=True, data_only=True)["Ledger"]
            table = [list(r) for r in sheet.iter_rows(values_only=True)]
            header = [str(h) for h in table[0]]
            values = table[row - 1]
        found = dict(zip(header, values, strict=False))
        assert str(found["line_ref"]) == line["line_ref"], (path, row, found)
        assert _as_money(found["amount"]) == Decimal(line["amount"])
        assert str(found["account_code"]).strip().upper() == line["account_code"].upper()
        checked += 1
    assert checked == 3

    # The Data Docs of the year's runs open from the pack: every link leads to a page inside it.
    import re

    pages = [Path("data_quality/data_docs/index.html")]
    seen: set[Path] = set()
    while pages:
        page = pages.pop()
        if page in seen:
            continue
        seen.add(page)
        text = page.read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text, page
        for href in re.findall(r"href='([^']+)'", text):
            target = (page.parent / href).resolve().relative_to(folder)
            assert target.is_file(), (page, href)
            pages.append(target)
    assert len(seen) > 10

    with open("data_quality/mart_data_quality_results.csv", encoding="utf-8", newline="") as f:
        checks = list(csv.DictReader(f))
    assert checks and all(
        r["stage"] == "warehouse_gate"
        or r["period_key"].startswith(("2021-", "2022-0"))
        or r["period_key"] == ""
        for r in checks
    )


def test_stls_run_keeps_its_own_quiet_log_and_files_task_logs_for_the_airflow_ui(year_home: Path) -> None:
    runs = sorted((year_home / "airflow" / "runs").glob("run_*.log"))
    assert len(runs) == 1 and not (year_home / "airflow" / "last_run.log").exists()
    head = runs[0].read_text(encoding="utf-8").splitlines()[:20]
    assert not [line for line in head if "Warning" in line or "deprecated" in line.lower()], head
    record = json.loads((year_home / "airflow" / "runs" / "last_run.json").read_text(encoding="utf-8"))
    assert record["outcome"] == "succeeded"
    assert record["summary"][0] == "Received 336 files: 336 accepted, 0 rejected, 0 superseded, 0 duplicate"
    assert record["summary"][1].startswith("Release ") and record["summary"][1].endswith(" published.")
    tasks = {
        p.relative_to(year_home / "airflow" / "logs").parts[2]
        for p in (year_home / "airflow" / "logs").rglob("attempt=*.log")
    }
    assert tasks == {
        f"task_id={t}"
        for t in (
            "route_landing",
            "intake",
            "gate_returns",
            "load_returns",
            "build_warehouse",
            "gate_warehouse",
            "publish",
            "monthly_report",
        )
    }


def test_stls_status_shows_the_release_the_last_run_and_what_is_outstanding(
    year_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STLS_HOME", str(year_home))
    monkeypatch.delenv("AIRFLOW_HOME", raising=False)
    release = json.loads((year_home / "published" / "manifest.json").read_text(encoding="utf-8"))

    assert cli.main(["status"]) == 0

    out = capsys.readouterr().out.splitlines()
    tables = len(list((year_home / "published" / "parquet").glob("*.parquet")))
    assert (
        out[1]
        == f"Current release: {release['release_id']}, published {release['published_at']} ({tables} tables)"
    )
    assert out[2].startswith("Last run: succeeded, finished ")
    assert out[3] == "  Received 336 files: 336 accepted, 0 rejected, 0 superseded, 0 duplicate"
    # Judged at the release's status date (2022-06-30): 2022-23's P2 ledgers and May KPIs are due.
    outstanding = [line for line in out if line.startswith("Outstanding ")]
    assert [line.split(":")[0] for line in outstanding] == [
        "Outstanding ledger returns for 2022-23-P02 (the latest due)",
        "Outstanding kpi returns for 2022-05 (the latest due)",
    ]
    assert out[-1] == "Blocked: nothing"
