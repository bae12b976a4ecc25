"""The `stls` command's human output: what a school or an engineer reads in a terminal."""

from __future__ import annotations

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
