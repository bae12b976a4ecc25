"""Returns staged by the real intake, for the quality gates to check.

`staged(files)` lands the given files, runs intake's `stage_files` into a run folder (as
the intake task does) and returns the folder and the raw zone; `tamper_lines` edits a
staged return's typed lines, to make a return that passed intake break a rule that intake
would have caught, so the gate's own blocking rules can be seen to work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from stls_warehouse.intake.raw_zone import RawZone
from stls_warehouse.intake.stage import read_staged, stage_files


@dataclass
class Staged:
    run_dir: Path
    raw: Path
    warehouse: Path

    def records(self) -> dict[str, dict[str, Any]]:
        return {r["file"]: r for r in read_staged(self.run_dir)}

    def gate(self, **kwargs: Any) -> Any:
        from stls_warehouse.quality.return_gates import gate_returns

        return gate_returns(self.run_dir, warehouse=self.warehouse, raw_root=self.raw, **kwargs)

    def tamper_lines(self, file: str, edit: Callable[[list[dict[str, Any]]], None]) -> None:
        import pyarrow.parquet as pq

        record = self.records()[file]
        path = self.run_dir / f"{record['sha256']}.parquet"
        table = pq.read_table(path)
        rows = table.to_pylist()
        edit(rows)
        pq.write_table(type(table).from_pylist(rows, schema=table.schema), path)


@pytest.fixture
def staged(tmp_path: Path) -> Callable[..., Staged]:
    def stage(files: dict[str, bytes], run: str = "run") -> Staged:
        landing = tmp_path / "landing"
        landing.mkdir(exist_ok=True)
        paths = []
        for index, (name, data) in enumerate(files.items()):
            path = landing / name
            path.write_bytes(data)
            stamp = 1_700_000_000_000_000_000 + index * 1_000_000_000  # received in the order given
            import os

            os.utime(path, ns=(stamp, stamp))
            paths.append(str(path))
        run_dir = tmp_path / "work" / run
        stage_files(paths, run_dir, RawZone(tmp_path / "raw"))
        return Staged(run_dir, tmp_path / "raw", tmp_path / "warehouse" / "stls.duckdb")

    return stage
