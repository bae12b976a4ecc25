"""`make bench` at its smallest: the harness runs a stage and leaves a table and a JSON file
that a later run can be compared with. Benchmarks print figures; this checks only that the
harness works, never how fast anything is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

RUN = Path(__file__).resolve().parents[2] / "benchmarks" / "run.py"


def test_the_harness_prints_one_table_and_writes_comparable_json(tmp_path: Path) -> None:
    command = [sys.executable, str(RUN), "--only", "intake", "--intake-lines", "50", "--repeat", "1"]
    done = subprocess.run(
        [*command, "--results-dir", str(tmp_path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "x floor" in done.stdout and "CSV return: validate_return" in done.stdout

    latest = json.loads((tmp_path / "latest.json").read_text(encoding="utf-8"))
    assert len(list(tmp_path.glob("bench_*.json"))) == 1
    rows = {row["key"]: row for row in latest["rows"]}
    for key, floor in (("intake.csv.50", "duckdb read csv"), ("intake.xlsx.50", "calamine")):
        assert rows[key]["seconds"] > 0 and rows[key]["floor"][0] == floor
        assert rows[key]["ratio"] == rows[key]["seconds"] / rows[key]["floor"][1]
        assert rows[key]["budget"] and rows[key]["ok"] in (True, False)
    assert rows["memory.intake_largest_return"]["peak_mb"] > 0

    shown = subprocess.run(
        [
            sys.executable,
            str(RUN),
            "--show",
            str(tmp_path / "latest.json"),
            "--compare",
            str(tmp_path / "latest.json"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "before (s)" in shown.stdout and "+0%" in shown.stdout
