from pathlib import Path

import pytest

from stls_warehouse.intake.landing import deliver, discover, route
from stls_warehouse.orchestration.triggers import waiting_files


def test_two_uploads_of_one_name_both_arrive_whole_and_are_routed(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    first = deliver(landing, "LEDGER_SWA_2021-22_P07.csv", b"first")
    second = deliver(landing, r"C:\Users\bm\LEDGER_SWA_2021-22_P07.csv", b"second")
    assert first != second and first.name == second.name == "LEDGER_SWA_2021-22_P07.csv"
    assert {f.path for f in discover(landing)} == {first, second}
    assert route(discover(landing))["SWA"] == [
        str(p) for p in sorted([first, second], key=lambda p: (p.stat().st_mtime_ns, p.name))
    ]
    assert len(waiting_files(landing, tmp_path / "raw")) == 2


@pytest.mark.parametrize("name", ["", ".hidden.csv", "..", "a\x00b.csv"])
def test_a_name_that_cannot_be_a_file_name_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError):
        deliver(tmp_path, name, b"x")
    assert discover(tmp_path) == []


def test_a_half_delivered_upload_is_not_discovered(tmp_path: Path) -> None:
    hidden = tmp_path / "uploads" / ("." + "a" * 32)
    hidden.mkdir(parents=True)
    (hidden / "LEDGER_SWA_2021-22_P07.csv").write_bytes(b"half")
    assert discover(tmp_path) == []
