"""Blank templates (`stls template`) and the `stls validate` command-line contract."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook

from stls_warehouse import reference
from stls_warehouse.cli import main
from stls_warehouse.intake.validate import validate_return
from tests.factories import KPI_VALUES, csv_bytes, ledger_rows


def test_a_filled_ledger_template_validates_and_a_blank_one_does_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["template", "ledger", "--sla", "swa", "--period", "2021-22-p7", "--out", str(tmp_path)]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path.name == "LEDGER_SWA_2021-22_P07.xlsx"
    blank = validate_return(path.name, path.read_bytes())
    assert not blank.accepted and not blank.is_nil
    book = load_workbook(path)
    sheet = book["Ledger"]
    assert [c.value for c in sheet[1]] == list(ledger_rows(n=1)[0])
    assert [c.value for c in sheet[2]][:3] == ["SWA", "2021-22", 7]
    for row_number, line in enumerate(ledger_rows(n=3), start=2):
        for column, key in enumerate(line, start=1):
            if column > 3:
                sheet.cell(row=row_number, column=column, value=line[key])
            elif row_number > 2:
                sheet.cell(row=row_number, column=column, value=sheet.cell(row=2, column=column).value)
    buffer = io.BytesIO()
    book.save(buffer)
    filled = validate_return(path.name, buffer.getvalue())
    assert filled.accepted, filled.errors
    assert len(filled.ledger_lines) == 3 and "Notes" in book.sheetnames


@pytest.mark.parametrize(("year", "has_bare_e20"), [("2023-24", True), ("2024-25", False)])
def test_the_ledger_template_lists_the_account_codes_of_its_year(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], year: str, has_bare_e20: bool
) -> None:
    """The Notes sheet lists the CFR codes the validator accepts in the template's year."""
    assert (
        main(["template", "ledger", "--sla", "THA", "--period", f"{year}-P01", "--out", str(tmp_path)]) == 0
    )
    book = load_workbook(Path(capsys.readouterr().out.strip()))
    rows = [r for r in book["Notes"].iter_rows(values_only=True) if r and r[0]]
    start = next(i for i, r in enumerate(rows) if r[0] == "account_code" and r[1] == "CFR name")
    listed = [r[0] for r in rows[start + 1 :]]
    assert listed == [c.account_code for c in reference.account_codes_in(year).values()]
    assert ("E20" in listed) is has_bare_e20 and "E20C" in listed
    help_text = next(r[2] for r in rows if r[0] == "account_code" and r[1] == "yes")
    assert ("not E20, I18a, I18b" in help_text) is not has_bare_e20
    named = {r[0]: r[1] for r in rows[start + 1 :]}
    assert named["E27"] == "Bought in professional services - curriculum"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_filled_kpi_template_validates(tmp_path: Path, fmt: str) -> None:
    assert (
        main(
            [
                "template",
                "kpi",
                "--sla",
                "THA",
                "--period",
                "2022-10",
                "--format",
                fmt,
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    path = tmp_path / f"KPI_THA_2022-10.{fmt}"
    definitions = reference.kpi_definitions()
    if fmt == "csv":
        import csv

        rows = list(csv.DictReader(io.StringIO(path.read_text())))
        assert [r["kpi_code"] for r in rows] == [c for c, d in definitions.items() if d.required]
        assert "Unit: count" in rows[0]["comment"]
        for row in rows:
            row["value"], row["numerator"], row["denominator"] = KPI_VALUES[row["kpi_code"]]
        data = csv_bytes(rows)
    else:
        book = load_workbook(path)
        notes = [r[0] for r in book["Notes"].iter_rows(min_row=2, values_only=True)]
        assert notes == list(definitions)  # every KPI, the optional PARENT_SAT too
        sheet = book["KPI"]
        for row in sheet.iter_rows(min_row=2):
            value, numerator, denominator = KPI_VALUES[row[2].value]
            for cell, text in zip(row[3:6], (value, numerator, denominator), strict=True):
                cell.value = text or None
        buffer = io.BytesIO()
        book.save(buffer)
        data = buffer.getvalue()
    result = validate_return(path.name, data)
    assert result.accepted, result.errors
    assert len(result.kpi_rows) == 16


@pytest.mark.parametrize(
    "argv",
    [
        ["template", "ledger", "--sla", "XYZ", "--period", "2021-22-P07"],
        ["template", "ledger", "--sla", "SWA", "--period", "2021-23-P07"],
        ["template", "ledger", "--sla", "SWA", "--period", "2021-22-P14"],
        ["template", "kpi", "--sla", "SWA", "--period", "2022-13"],
        ["template", "ledger", "--sla", "SWA", "--period", "2021-22-P07", "--format", "xls"],
    ],
)
def test_template_usage_errors_exit_2(argv: list[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as caught:
        code = main([*argv, "--out", str(tmp_path)])
        raise SystemExit(code)
    assert caught.value.code == 2
    assert not list(tmp_path.iterdir())


def test_validate_json_follows_the_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "LEDGER_SWA_2021-22_P07.csv"
    good.write_bytes(csv_bytes(ledger_rows()))
    bad = tmp_path / "KPI_THA_2022-10.xlsx"
    bad.write_bytes(b"not a workbook")
    assert main(["validate", str(good)]) == 0
    capsys.readouterr()
    assert main(["validate", str(good), str(bad), "--json"]) == 1
    output = json.loads(capsys.readouterr().out)
    assert [set(o) for o in output] == [
        {"file", "status", "return_type", "sla_code", "period_key", "errors", "warnings"}
    ] * 2
    assert output[0] | {"file": None} == {
        "file": None,
        "status": "accepted",
        "return_type": "ledger",
        "sla_code": "SWA",
        "period_key": "2021-22-P07",
        "errors": [],
        "warnings": [],
    }
    assert output[1]["status"] == "rejected" and output[1]["period_key"] == "2022-10"
    assert [set(e) for e in output[1]["errors"]] == [{"code", "message", "sheet", "row", "column"}]
    assert main(["validate", str(tmp_path / "missing.csv")]) == 2
