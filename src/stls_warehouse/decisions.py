"""What people decide in the returns service, handed to the pipeline as data.

The returns service never opens the working warehouse (DuckDB has one writer, held by the
pipeline). Each decision a person takes there (an explanation of a query, a sign-off, a
waiver granted or revoked) is written as one JSON file under `$STLS_HOME/decisions/`, by
rename, never changed afterwards; the pipeline loads every file it has not loaded yet on its
next run, keyed by `decision_id`, so loading twice changes nothing. Neither side waits for
the other: the service only adds files, the pipeline only reads them.

    decisions/<YYYY-MM-DD>/<decision_id>.json     (the day is the UTC day of decided_at)
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from stls_warehouse.errors import StlsError
from stls_warehouse.files import write_atomically

Kind = Literal["explanation", "sign_off", "waiver_granted", "waiver_revoked"]
KINDS: tuple[Kind, ...] = ("explanation", "sign_off", "waiver_granted", "waiver_revoked")
RETURN_TYPES = ("ledger", "kpi")
SCHEMA_VERSION = 1
_ID = re.compile(r"^[0-9a-f]{32}$")


class DecisionInvalid(StlsError, ValueError):
    """A decision file that does not follow this module's schema (names the file)."""


@dataclass(frozen=True)
class Decision:
    """One decision, with who took it and when.

    - explanation: `rule` is the check explained (the warning's rule id), `file_sha256` the
      return version it was raised on, `text` the school's explanation;
    - sign_off: `file_sha256` is the version signed, `text` the declaration signed;
    - waiver_granted / waiver_revoked: `sla_code`, `return_type`, `period_key` name the
      return that will not come; `text` is the reason.
    """

    kind: Kind
    sla_code: str
    return_type: str
    period_key: str
    actor: str
    actor_role: str
    text: str = ""
    file_sha256: str | None = None
    rule: str | None = None
    decided_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    decision_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        problems = []
        if self.kind not in KINDS:
            problems.append(f"kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.return_type not in RETURN_TYPES:
            problems.append(f"return_type {self.return_type!r} is not ledger or kpi")
        if not _ID.match(self.decision_id):
            problems.append("decision_id is not 32 hex digits")
        if self.decided_at.tzinfo is None:
            problems.append("decided_at has no time zone")
        if not self.actor:
            problems.append("actor is empty")
        if self.kind in ("explanation", "sign_off") and not self.file_sha256:
            problems.append(f"a {self.kind} names the return version (file_sha256)")
        if self.kind == "explanation" and not (self.rule and self.text.strip()):
            problems.append("an explanation names its rule and has text")
        if problems:
            raise DecisionInvalid("; ".join(problems))

    def as_json(self) -> dict[str, object]:
        record: dict[str, object] = {"schema_version": SCHEMA_VERSION, **asdict(self)}
        record["decided_at"] = self.decided_at.astimezone(UTC).isoformat()
        return record


def path_for(root: Path, decision: Decision) -> Path:
    day = decision.decided_at.astimezone(UTC).date().isoformat()
    return root / day / f"{decision.decision_id}.json"


def record(root: Path, decision: Decision) -> Path:
    """Write one decision file (atomically, read-only); `root` is `Paths.decisions`."""
    target = path_for(root, decision)
    if target.exists():
        raise FileExistsError(f"decision {decision.decision_id} is already recorded")
    data = json.dumps(decision.as_json(), sort_keys=True, ensure_ascii=False).encode("utf-8")
    return write_atomically(target, data, mode=0o440)


def parse(path: Path) -> Decision:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.pop("schema_version", None) != SCHEMA_VERSION:
            raise DecisionInvalid(f"{path}: schema_version is not {SCHEMA_VERSION}")
        raw["decided_at"] = datetime.fromisoformat(raw["decided_at"])
        decision = Decision(**raw)
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise DecisionInvalid(f"{path}: {error}") from error
    if path.stem != decision.decision_id:
        raise DecisionInvalid(f"{path}: the file name is not its decision_id")
    return decision


def read_all(root: Path) -> Iterator[Decision]:
    """Every decision recorded, in the order taken (time, then id)."""
    if not root.is_dir():
        return iter(())
    found = [parse(p) for p in root.glob("*/*.json") if not p.name.startswith(".")]
    return iter(sorted(found, key=lambda d: (d.decided_at, d.decision_id)))
