from datetime import UTC, datetime
from pathlib import Path

import pytest

from stls_warehouse import decisions
from stls_warehouse.decisions import Decision, DecisionInvalid


def _sign_off(**overrides: object) -> Decision:
    fields: dict[str, object] = {
        "kind": "sign_off",
        "sla_code": "SWA",
        "return_type": "ledger",
        "period_key": "2021-22-P07",
        "actor": "approver.swa@example.org",
        "actor_role": "school_approver",
        "text": "I declare this return a true record.",
        "file_sha256": "ab" * 32,
        "decided_at": datetime(2021, 11, 3, 9, 30, tzinfo=UTC),
    }
    return Decision(**{**fields, **overrides})  # type: ignore[arg-type]


def test_a_decision_is_written_once_read_only_and_read_back(tmp_path: Path) -> None:
    decision = _sign_off()
    path = decisions.record(tmp_path, decision)
    assert path == tmp_path / "2021-11-03" / f"{decision.decision_id}.json"
    assert path.stat().st_mode & 0o222 == 0
    assert list(decisions.read_all(tmp_path)) == [decision]
    with pytest.raises(FileExistsError):
        decisions.record(tmp_path, decision)


def test_a_decision_missing_what_it_concerns_is_refused() -> None:
    with pytest.raises(DecisionInvalid, match="file_sha256"):
        _sign_off(file_sha256=None)
    with pytest.raises(DecisionInvalid, match="rule"):
        _sign_off(kind="explanation", rule=None)
    with pytest.raises(DecisionInvalid, match="time zone"):
        _sign_off(decided_at=datetime(2021, 11, 3))


def test_a_tampered_file_name_is_reported_with_its_path(tmp_path: Path) -> None:
    path = decisions.record(tmp_path, _sign_off())
    moved = path.with_name("0" * 32 + ".json")
    path.rename(moved)
    with pytest.raises(DecisionInvalid, match=str(moved)):
        list(decisions.read_all(tmp_path))
