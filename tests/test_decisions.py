from datetime import datetime
from pathlib import Path

import pytest

from stls_warehouse import decisions
from stls_warehouse.decisions import DecisionInvalid
from tests.factories import a_decision


def test_a_decision_is_written_once_read_only_and_read_back(tmp_path: Path) -> None:
    decision = a_decision()
    path = decisions.record(tmp_path, decision)
    assert path == tmp_path / "2021-11-03" / f"{decision.decision_id}.json"
    assert path.stat().st_mode & 0o222 == 0
    assert list(decisions.read_all(tmp_path)) == [decision]
    with pytest.raises(FileExistsError):
        decisions.record(tmp_path, decision)


def test_a_decision_missing_what_it_concerns_is_refused() -> None:
    with pytest.raises(DecisionInvalid, match="file_sha256"):
        a_decision(file_sha256=None)
    with pytest.raises(DecisionInvalid, match="rule"):
        a_decision(kind="explanation", rule=None)
    with pytest.raises(DecisionInvalid, match="time zone"):
        a_decision(decided_at=datetime(2021, 11, 3))


def test_a_tampered_file_name_is_reported_with_its_path(tmp_path: Path) -> None:
    path = decisions.record(tmp_path, a_decision())
    moved = path.with_name("0" * 32 + ".json")
    path.rename(moved)
    with pytest.raises(DecisionInvalid, match=str(moved)):
        list(decisions.read_all(tmp_path))
