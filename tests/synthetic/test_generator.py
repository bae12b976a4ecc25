"""The synthetic returns: calibrated to the briefing, valid under the contract, reproducible."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
import zipfile
from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from stls_warehouse import reference
from stls_warehouse.intake.schema import LEDGER
from stls_warehouse.intake.validate import validate_return
from stls_warehouse.intake.writers import render_kpi, render_ledger, write_ledger
from stls_warehouse.periods import LedgerPeriod, parse_financial_year
from stls_warehouse.synthetic import YEARS, SyntheticReturns, generate, generate_returns
from stls_warehouse.synthetic.profiles import sla_profiles

# The 26 Nov 2021 briefing: forecast outturn 2021-22 and the district expenditure mix.
OUTTURN_2021_22 = {
    "DISTRICT": Decimal("6488791.00"),
    "PD": Decimal("476217.00"),
    "SENSORY": Decimal("2071324.00"),
}
DISTRICT_CATEGORIES_2021_22 = {
    "DIRECT_STAFFING": Decimal("5864891.00"),
    "INDIRECT_STAFFING": Decimal("143900.00"),
    "OPERATIONAL": Decimal("145700.00"),
    "OTHER": Decimal("334300.00"),
}
LEDGER_NAME = re.compile(r"^LEDGER_([A-Z]{3})_(\d{4})-(\d{2})_P(0[1-9]|1[0-3])\.(csv|xlsx)$")
KPI_NAME = re.compile(r"^KPI_([A-Z]{3})_(\d{4})-(0[1-9]|1[0-2])\.(csv|xlsx)$")
MONEY = re.compile(
    r"^(?P<open>\()?(?:-£|£-|-|£)?(?P<digits>\d{1,3}(?:,\d{3})*|\d+)(?:\.\d{1,2})?(?(open)\))$"
)


@pytest.fixture(scope="module")
def returns() -> SyntheticReturns:
    return generate_returns()


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    folder = tmp_path_factory.mktemp("landing")
    return folder, generate(folder)


def _category(account_code: str) -> str:
    return reference.account_codes()[account_code.upper()].expenditure_category


def _service_line_totals(returns: SyntheticReturns, year: str) -> dict[str, Decimal]:
    register = reference.slas()
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for line in returns.ledger_lines():
        if line.financial_year == year:
            totals[register[line.sla_code].service_line] += line.amount
    return dict(totals)


def _district_categories(returns: SyntheticReturns, year: str) -> dict[str, Decimal]:
    register = reference.slas()
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for line in returns.ledger_lines():
        if line.financial_year == year and register[line.sla_code].service_line == "DISTRICT":
            totals[_category(line.account_code)] += line.amount
    return dict(totals)


def _money(text: str) -> Decimal:
    """Parse the CSV money spellings the generator uses (checked against the contract)."""
    assert MONEY.match(text), text
    negative = text.startswith("(") or "-" in text
    magnitude = Decimal(text.strip("()").replace("£", "").replace("-", "").replace(",", ""))
    return -magnitude if negative else magnitude


def _percent(numerator: int, denominator: int) -> Decimal | None:
    if denominator == 0:
        return None
    return (Decimal(100 * numerator) / Decimal(denominator)).quantize(Decimal("0.1"), ROUND_HALF_UP)


# ------------------------------------------------------------------ calibration


def test_2021_22_outturn_per_service_line_matches_the_briefing_to_the_penny(returns):
    assert _service_line_totals(returns, "2021-22") == OUTTURN_2021_22


def test_2021_22_district_spend_by_category_matches_the_briefing_to_the_penny(returns):
    totals = _district_categories(returns, "2021-22")
    assert totals == DISTRICT_CATEGORIES_2021_22
    shares = {c: (v / sum(totals.values()) * 100).quantize(Decimal("0.1")) for c, v in totals.items()}
    assert shares == {
        "DIRECT_STAFFING": Decimal("90.4"),
        "INDIRECT_STAFFING": Decimal("2.2"),
        "OPERATIONAL": Decimal("2.2"),
        "OTHER": Decimal("5.2"),
    }


def test_lines_multiplier_splits_lines_and_keeps_every_total():
    single = generate_returns(years=["2021-22"])
    tripled = generate_returns(years=["2021-22"], lines_multiplier=3)
    assert _service_line_totals(tripled, "2021-22") == OUTTURN_2021_22
    assert _district_categories(tripled, "2021-22") == DISTRICT_CATEGORIES_2021_22
    for one, three in zip(single.ledgers, tripled.ledgers, strict=True):
        assert (one.sla_code, one.period) == (three.sla_code, three.period)
        assert len(three.lines) == 3 * len(one.lines)
        assert three.total == one.total
        assert len({line.line_ref for line in three.lines}) == len(three.lines)


def test_every_district_spends_more_than_its_core_and_outreach_budget(returns):
    spent: dict[str, Decimal] = defaultdict(Decimal)
    for line in returns.ledger_lines():
        if line.financial_year == "2021-22":
            spent[line.sla_code] += line.amount
    for code, sla in reference.slas().items():
        if sla.service_line == "DISTRICT":
            assert spent[code] > reference.budgets()[(code, "2021-22")].total, code


def test_later_years_grow_with_pay_awards_and_prices(returns):
    totals = [sum(_service_line_totals(returns, year).values()) for year in YEARS]
    assert totals == sorted(totals)
    assert totals[-1] < totals[0] * Decimal("1.35")


# ------------------------------------------------------------------ ledger content


def test_no_income_before_traded_training_starts_in_september_2022(returns):
    for line in returns.ledger_lines():
        if _category(line.account_code) == "INCOME" or line.fund_strand == "TRADED":
            assert line.financial_year != "2021-22"
            assert (line.financial_year, line.period) >= ("2022-23", 6)
    income = [line for line in returns.ledger_lines() if _category(line.account_code) == "INCOME"]
    assert income and all(line.amount < 0 and line.fund_strand == "TRADED" for line in income)


def test_every_posting_date_falls_inside_its_period(returns):
    for ledger in returns.ledgers:
        start = parse_financial_year(ledger.financial_year)
        assert start is not None
        period = LedgerPeriod(start, ledger.period)
        for line in ledger.lines:
            assert period.contains(line.posting_date), (ledger.period_key, line)


def test_line_refs_are_unique_within_each_return(returns):
    for ledger in returns.ledgers:
        refs = [line.line_ref.strip() for line in ledger.lines]
        assert len(set(refs)) == len(refs), ledger.period_key


def test_one_ledger_per_sla_per_period_and_p13_only_after_2021_22(returns):
    keys = {(r.sla_code, r.financial_year, r.period) for r in returns.ledgers}
    assert len(keys) == len(returns.ledgers)
    regular = [k for k in keys if k[2] <= 12]
    assert len(regular) == 14 * 12 * len(YEARS)
    year_end = [k for k in keys if k[2] == 13]
    assert year_end and all(fy != "2021-22" for _, fy, _ in year_end)
    assert len(returns.kpis) == 14 * 12 * len(YEARS)


def test_cost_centres_follow_the_sla_activity_convention(returns):
    activities = set()
    for line in returns.ledger_lines():
        code, activity = line.cost_centre.split("-")
        assert code == line.sla_code
        activities.add(activity)
        if line.fund_strand in ("CORE", "TRADED"):
            assert activity == line.fund_strand
    assert activities == {"CORE", "OUTREACH", "TRADED"}


def test_some_slas_spend_outreach_money_on_core_work(returns):
    on_core = {
        line.sla_code
        for line in returns.ledger_lines()
        if line.fund_strand == "OUTREACH" and line.cost_centre.endswith("-CORE")
    }
    with_outreach = {line.sla_code for line in returns.ledger_lines() if line.fund_strand == "OUTREACH"}
    assert 2 <= len(on_core) < len(with_outreach)


def test_overhead_recharges_are_e28a_and_holders_charge_differently(returns):
    recharged: dict[str, Decimal] = defaultdict(Decimal)
    for line in returns.ledger_lines():
        if line.is_overhead_recharge:
            assert line.account_code == "E28a" and line.fund_strand == "CORE"
            recharged[line.sla_code] += line.amount
    methods = {profile.overhead.method for profile in sla_profiles().values()}
    assert methods == {"percent", "flat", "annual", "none"}
    for code, profile in sla_profiles().items():
        assert (code in recharged) == (profile.overhead.method != "none"), code


def test_pension_lines_are_tps_uplift_on_teacher_pay(returns):
    pension: dict[str, Decimal] = defaultdict(Decimal)
    teachers: dict[str, Decimal] = defaultdict(Decimal)
    for line in returns.ledger_lines():
        if line.fund_strand == "PENSION":
            assert line.account_code == "E01"
            pension[line.sla_code] += line.amount
        elif line.account_code == "E01" and line.fund_strand != "TRADED":
            teachers[line.sla_code] += line.amount
    for code in reference.slas():
        assert Decimal("0.070") < pension[code] / teachers[code] < Decimal("0.074"), code


def test_ict_spend_is_bare_e20_to_2023_24_and_lettered_from_2024_25(returns):
    """CFR split E20 into E20A..E20G from 2024-25; every code is valid in its line's year."""
    ict: dict[str, set[str]] = defaultdict(set)
    for line in returns.ledger_lines():
        assert reference.account_codes()[line.account_code.upper()].is_valid_in(line.financial_year), line
        if line.account_code.upper().startswith("E20"):
            ict[line.financial_year].add(line.account_code)
    assert ict["2021-22"] == ict["2022-23"] == ict["2023-24"] == {"E20"}
    assert {"E20A", "E20D", "E20E", "E20G"} <= ict["2024-25"] and "E20" not in ict["2024-25"]


def test_resources_spike_in_september_and_january(returns):
    by_period: dict[int, Decimal] = defaultdict(Decimal)
    for line in returns.ledger_lines():
        if line.account_code == "E19" and line.fund_strand != "TRADED" and line.period <= 12:
            by_period[line.period] += line.amount
    quiet = max(by_period[p] for p in (2, 3, 4, 5, 8, 9))
    assert by_period[6] > 2 * quiet and by_period[10] > 2 * quiet


def test_descriptions_are_free_text_without_personal_names(returns):
    descriptions = {line.description for line in returns.ledger_lines()}
    assert all(text and text == text.strip() for text in descriptions)
    assert any("Salaries - " in text for text in descriptions)


# ------------------------------------------------------------------ KPI content


def _kpi_values(returns: SyntheticReturns) -> dict[str, list[tuple[str, dict]]]:
    series: dict[str, list[tuple[str, dict]]] = defaultdict(list)
    for kpi in sorted(returns.kpis, key=lambda k: (k.sla_code, k.month)):
        series[kpi.sla_code].append((kpi.month, {row.kpi_code: row for row in kpi.rows}))
    return series


def test_every_required_kpi_is_present_once_and_parent_sat_is_quarterly(returns):
    required = {code for code, d in reference.kpi_definitions().items() if d.required}
    for kpi in returns.kpis:
        codes = [row.kpi_code for row in kpi.rows]
        assert len(codes) == len(set(codes))
        assert required <= set(codes)
        assert ("PARENT_SAT" in codes) == (int(kpi.month[5:]) in (7, 12, 3))


def test_intensive_support_caseload_carries_over_month_to_month(returns):
    for code, months in _kpi_values(returns).items():
        previous = None
        for month, rows in months:
            opened, closed, still_open = (int(rows[k].value) for k in ("ISS_NEW", "ISS_CLOSED", "ISS_OPEN"))
            assert min(opened, closed, still_open) >= 0
            if previous is not None:
                assert still_open == previous + opened - closed, (code, month)
            previous = still_open


def test_percent_kpis_carry_numerator_denominator_and_the_rounded_value(returns):
    units = {code: d.unit for code, d in reference.kpi_definitions().items()}
    for row in returns.kpi_rows():
        if units[row.kpi_code] == "percent":
            assert row.numerator is not None and row.denominator is not None
            assert 0 <= row.numerator <= row.denominator
            assert row.value == _percent(row.numerator, row.denominator)
        else:
            assert row.numerator is None and row.denominator is None


def test_kpi_values_respect_their_units(returns):
    for kpi in returns.kpis:
        rows = {row.kpi_code: row for row in kpi.rows}
        sessions = rows["TRN_SESS"].value
        evaluation = rows["TRN_EVAL"].value
        assert (evaluation is None) == (sessions == 0), kpi.month
        if evaluation is not None:
            assert Decimal(1) <= evaluation <= Decimal(5) and evaluation == evaluation.quantize(
                Decimal("0.01")
            )
        days = rows["FC_DAYS_MED"].value
        assert days is not None and days >= 0 and days == days.quantize(Decimal("0.1"))
        fte = rows["STAFF_FTE"].value
        assert fte is not None and fte >= 0 and fte == fte.quantize(Decimal("0.01"))
        for code, definition in reference.kpi_definitions().items():
            if definition.unit == "count" and (definition.required or code in rows):
                value = rows[code].value
                assert value is not None and value >= 0 and value == value.to_integral_value()


def test_kpis_follow_the_school_year_and_district_size(returns):
    referrals: dict[tuple[str, int], list[Decimal]] = defaultdict(list)
    for kpi in returns.kpis:
        referrals[(kpi.sla_code, int(kpi.month[5:]))].append(kpi.value("REF_RCVD") or Decimal(0))
    yearly = {code: sum(sum(referrals[(code, m)]) for m in range(1, 13)) for code in reference.slas()}
    for code in reference.slas():
        assert sum(referrals[(code, 8)]) * 5 < sum(referrals[(code, 10)]), code
    assert yearly["THA"] > yearly["SEV"] and yearly["SWA"] > yearly["TWE"]


# ------------------------------------------------------------------ files


def test_file_names_follow_the_contract(landing):
    _, paths = landing
    ledgers = kpis = 0
    for path in paths:
        if match := LEDGER_NAME.match(path.name):
            assert match.group(1) in reference.slas()
            assert int(match.group(3)) == (int(match.group(2)) + 1) % 100
            ledgers += 1
        else:
            match = KPI_NAME.match(path.name)
            assert match and match.group(1) in reference.slas(), path.name
            kpis += 1
    assert kpis == 14 * 12 * len(YEARS) and ledgers > kpis


def test_every_generated_file_is_accepted_by_the_intake_validator(landing, returns):
    _, paths = landing
    totals = {ledger.file_name(""): ledger.total for ledger in returns.ledgers}
    for path in paths:
        result = validate_return(path.name, path.read_bytes())
        assert result.accepted, (path.name, result.contract_dict()["errors"][:3])
        if path.name.startswith("LEDGER_"):
            assert result.amount_total == totals[path.name[: -len(path.suffix) + 1]]


def test_formats_and_spellings_vary_between_schools(landing):
    _, paths = landing
    profiles = sla_profiles().values()
    assert sum(p.ledger_format == "csv" for p in profiles) == 7
    assert any(p.control_sheet for p in profiles)
    assert len({p.money_style for p in profiles if p.ledger_format == "csv"}) >= 4
    assert {p.date_style for p in profiles if p.ledger_format == "csv"} == {"iso", "uk", "uk_short"}
    text = "".join(
        p.read_text(encoding="utf-8-sig")
        for p in paths
        if p.name.startswith("LEDGER_") and p.suffix == ".csv"
    )
    for spelling in ('"£', '"(', ",Y\n", ",Yes\n", ",TRUE\n", ",n\n", ",07,"):
        assert spelling in text, spelling


def test_generated_files_reread_with_plain_readers_match_the_in_memory_totals(landing, returns):
    folder, _ = landing
    by_name = {
        ledger.file_name(sla_profiles()[ledger.sla_code].ledger_format): ledger for ledger in returns.ledgers
    }
    checked = set()
    for code, profile in sla_profiles().items():
        ledger = by_name[f"LEDGER_{code}_2023-24_P06.{profile.ledger_format}"]
        path = folder / ledger.file_name(profile.ledger_format)
        if profile.ledger_format == "csv":
            with path.open(encoding="utf-8-sig", newline="") as handle:
                rows = list(csv.DictReader(handle))
            total = sum((_money(row["amount"]) for row in rows), Decimal("0.00"))
        else:
            workbook = load_workbook(path)
            table = list(workbook["Ledger"].iter_rows(values_only=True))
            assert table[0] == LEDGER.columns
            rows = table[1:]
            total = sum((Decimal(repr(row[9])) for row in rows), Decimal("0.00"))
            if profile.control_sheet:
                control = dict(workbook["Control"].iter_rows(values_only=True))
                assert Decimal(repr(control["control_total"])) == ledger.total
                assert control["line_count"] == len(rows)
        assert len(rows) == len(ledger.lines)
        assert total == ledger.total
        checked.add((profile.ledger_format, profile.control_sheet))
    assert checked == {("csv", False), ("xlsx", False), ("xlsx", True)}


def _pick_slas() -> list[str]:
    profiles = sla_profiles()
    csv_ledger = next(c for c, p in profiles.items() if p.ledger_format == "csv")
    xlsx_control = next(c for c, p in profiles.items() if p.control_sheet)
    xlsx_kpi = next(c for c, p in profiles.items() if p.kpi_format == "xlsx")
    return sorted({csv_ledger, xlsx_control, xlsx_kpi})


def test_same_seed_gives_identical_bytes_and_reruns_leave_files_alone(tmp_path):
    options = {"years": ["2021-22", "2022-23"], "slas": _pick_slas(), "periods": [1, 6, 13]}
    first = generate(tmp_path / "a", **options)
    second = generate(tmp_path / "b", **options)
    assert {p.suffix for p in first} == {".csv", ".xlsx"}
    for one, two in zip(first, second, strict=True):
        assert one.name == two.name and one.read_bytes() == two.read_bytes()
    stamps = {p: p.stat().st_mtime_ns for p in first}
    assert generate(tmp_path / "a", **options) == first
    assert {p: p.stat().st_mtime_ns for p in first} == stamps
    other_seed = generate(tmp_path / "c", seed=7, **options)
    assert any(a.read_bytes() != c.read_bytes() for a, c in zip(first, other_seed, strict=True))


def test_bytes_do_not_depend_on_the_process_or_its_hash_seed(tmp_path):
    """In-process runs share caches; a fresh interpreter with another hash seed must agree."""
    options = {"years": ["2022-23"], "slas": _pick_slas(), "periods": [6, 13]}
    here = generate(tmp_path / "here", **options)
    script = (
        "import sys; from pathlib import Path; from stls_warehouse.synthetic import generate; "
        f"generate(Path(sys.argv[1]), **{options!r})"
    )
    environment = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "there")], check=True, env=environment)
    for path in here:
        assert (tmp_path / "there" / path.name).read_bytes() == path.read_bytes(), path.name


def test_filters_never_change_the_content_of_a_return(returns):
    code = "CAN"
    narrow = generate_returns(years=["2023-24"], slas=[code], periods=[7])
    wide = {(r.sla_code, r.financial_year, r.period): r for r in returns.ledgers}
    assert narrow.ledgers[0] == wide[(code, "2023-24", 7)]
    assert narrow.kpis[0] == next(k for k in returns.kpis if (k.sla_code, k.month) == (code, "2023-10"))


def test_unknown_filters_are_refused():
    with pytest.raises(ValueError, match="financial year"):
        generate_returns(years=["2019-20"])
    with pytest.raises(ValueError, match="SLA"):
        generate_returns(slas=["XYZ"])


# ------------------------------------------------------------------ writers


def _ledger_row(**overrides: object) -> dict:
    row = {
        "sla_code": "SWA",
        "financial_year": "2021-22",
        "period": 7,
        "line_ref": "1",
        "posting_date": date(2021, 10, 5),
        "cost_centre": "SWA-CORE",
        "account_code": "E19",
        "fund_strand": "CORE",
        "description": '=HYPERLINK("x")',
        "amount": Decimal("1234.50"),
        "is_overhead_recharge": False,
    }
    row.update(overrides)
    return row


def test_csv_writer_uses_schema_order_minimal_quoting_and_lf():
    data = render_ledger("csv", [_ledger_row(description="Books, assorted", amount="1,234.50")])
    assert data == (
        b"sla_code,financial_year,period,line_ref,posting_date,cost_centre,account_code,fund_strand,"
        b"description,amount,is_overhead_recharge\n"
        b'SWA,2021-22,7,1,2021-10-05,SWA-CORE,E19,CORE,"Books, assorted","1,234.50",FALSE\n'
    )
    with pytest.raises(ValueError, match="Control"):
        render_ledger("csv", [_ledger_row()], control=True)
    with pytest.raises(ValueError, match="schema"):
        render_kpi("csv", [{"kpi": "REF_RCVD"}])


def test_xlsx_writer_is_byte_deterministic_with_fixed_stamps_and_text_stays_text(tmp_path):
    rows = [_ledger_row(), _ledger_row(line_ref="2", amount=-12.5)]
    path = write_ledger(tmp_path / "LEDGER_SWA_2021-22_P07.xlsx", rows, control=True)
    assert path.read_bytes() == render_ledger("xlsx", rows, control=True)
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        core = archive.read("docProps/core.xml").decode()
        assert "2021-04-01T00:00:00Z" in core
    workbook = load_workbook(path)
    sheet = workbook["Ledger"]
    assert sheet["I2"].value == '=HYPERLINK("x")' and sheet["I2"].data_type == "s"
    assert sheet["K2"].value is False
    assert list(workbook["Control"].iter_rows(values_only=True)) == [
        ("control_total", 1222.0),
        ("line_count", 2),
    ]
    explicit = render_ledger("xlsx", rows, control={"control_total": "1.00"})
    control = load_workbook(io.BytesIO(explicit))["Control"]
    assert list(control.iter_rows(values_only=True)) == [("control_total", "1.00")]
