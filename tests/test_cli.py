"""The `stls` command's human output: what a school or an engineer reads in a terminal."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest

from stls_warehouse import cli
from stls_warehouse.quality.warehouse_gates import GateFailed
from tests.factories import csv_bytes, ledger_rows


def test_validate_text_output_names_the_cell_of_each_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = ledger_rows(n=3)
    rows[1]["amount"] = "12,5"
    path = tmp_path / "LEDGER_SWA_2021-22_P07.csv"
    path.write_bytes(csv_bytes(rows))

    assert cli.main(["validate", str(path)]) == 1

    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{path}: REJECTED"
    amount = [line for line in out if "AMOUNT_INVALID" in line]
    assert len(amount) == 1, out
    column = list(rows[0]).index("amount")
    cell = f"{chr(ord('A') + column)}3"  # the header is row 1, so the second line is row 3
    assert f"(row 3, column amount, cell {cell}): '12,5'" in amount[0], amount[0]


def test_run_without_airflow_reports_a_gate_failure_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import stls_warehouse.pipeline as pipeline

    monkeypatch.setenv("STLS_HOME", str(tmp_path))

    def refused(run_id: str | None = None) -> dict[str, object]:
        raise GateFailed(["ledger_lines_sum_to_return_total SWA 2021-22-P02"], None)

    monkeypatch.setattr(pipeline, "run_locally", refused)

    assert cli.main(["run", "--without-airflow"]) == 1

    err = capsys.readouterr().err
    assert "GateFailed: Publication stopped by the warehouse gate" in err
    assert "ledger_lines_sum_to_return_total SWA 2021-22-P02" in err
    assert "nothing was published" in err
    assert "Traceback" not in err


def _subparsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _subparsers(sub)


def test_every_argument_of_every_command_says_what_it_is_for() -> None:
    undocumented = [
        f"{parser.prog} {action.dest}"
        for parser in _subparsers(cli.build_parser())
        for action in parser._actions
        if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)) and not action.help
    ]
    assert undocumented == []


def test_a_year_that_is_not_a_financial_year_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["outturn", "--year", "2021"])
    assert exit_.value.code == 2
    assert "'2021' is not a financial year: write it as YYYY-YY, e.g. 2021-22" in capsys.readouterr().err


def _outturn_table(home: Path, years: dict[str, bool]) -> None:
    import duckdb

    target = home / "published" / "parquet" / "mart_service_line_budget_outturn.parquet"
    target.parent.mkdir(parents=True)
    rows = [
        f"('{year}', '{line}', 1.00, 2.00, 3.00, 4.00, -1.00, 0.50, -0.50, 12, {str(done).lower()}, 0.00)"
        for year, done in years.items()
        for line in ("DISTRICT", "PD", "SENSORY")
    ]
    duckdb.execute(
        "copy (select * from (values "
        + ", ".join(rows)
        + ") t(financial_year, service_line, core_budget, outreach_budget, total_budget, outturn, variance, "
        f"pension_allocation, variance_after_pension, periods_received, is_complete, traded_net)) "
        f"to '{target}' (format parquet)"
    )


def test_outturn_defaults_to_the_latest_complete_year_and_lists_the_years_it_has(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STLS_HOME", str(tmp_path))
    _outturn_table(tmp_path, {"2021-22": True, "2022-23": True, "2023-24": False})

    assert cli.main(["outturn"]) == 0
    assert capsys.readouterr().out.startswith("STLS Budget v Outturn 2022-23\n")
    assert cli.main(["outturn", "--year", "2024-25"]) == 1
    assert capsys.readouterr().err == (
        "stls outturn: no published figures for 2024-25; years available: 2021-22, 2022-23, 2023-24 (incomplete)\n"
    )
    assert cli.main(["outturn", "--year", "2023-24"]) == 0
    assert capsys.readouterr().out.startswith(
        "(financial year 2023-24 is not complete: the outturn is to date)\n"
    )


def test_validate_takes_a_folder_and_checks_every_file_in_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "to_send"
    (folder / "october").mkdir(parents=True)
    (folder / "LEDGER_SWA_2021-22_P07.csv").write_bytes(csv_bytes(ledger_rows(period=7)))
    rows = ledger_rows(period=8)
    rows[0]["amount"] = "12,5"
    (folder / "october" / "LEDGER_SWA_2021-22_P08.csv").write_bytes(csv_bytes(rows))
    (folder / ".DS_Store").write_bytes(b"\0")

    assert cli.main(["validate", str(folder)]) == 1

    out = capsys.readouterr().out.splitlines()
    assert f"{folder / 'LEDGER_SWA_2021-22_P07.csv'}: ACCEPTED" in out
    assert f"{folder / 'october' / 'LEDGER_SWA_2021-22_P08.csv'}: REJECTED" in out
    assert not any(".DS_Store" in line for line in out)
    assert cli.main(["validate", str(tmp_path / "empty_or_missing")]) == 2
