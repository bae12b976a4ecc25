"""The audit log's hash chain.

Every audit event is sealed as it is written: its seal holds the hash of the event before it
and its own hash, sha256 of the previous hash and the event's fields as canonical JSON. The
first event's previous hash is GENESIS. `verify` walks the log in order and names the first
event whose fields or link do not match, so a changed, removed or reordered entry is found.

An exported year (`export_year`) is one JSON object per line with the same fields and hashes,
so it can be checked without this service: `verify_entries` needs only the standard library.

    $STLS_HOME/audit/audit_log_<financial year>.jsonl        every event of that year, in order
    $STLS_HOME/audit/audit_log_<financial year>.check.json   the result of checking that file
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
FIELDS = (
    "id",
    "at",
    "actor",
    "actor_role",
    "action",
    "sla_code",
    "target",
    "detail",
    "ip_address",
    "user_agent",
)


def entry_of(event: Any) -> dict[str, Any]:
    """An audit event's fields as the chain hashes them (times in UTC, ISO 8601)."""
    return {
        "id": event.pk,
        "at": event.at.astimezone(UTC).isoformat(),
        "actor": event.actor,
        "actor_role": event.actor_role,
        "action": event.action,
        "sla_code": event.sla_code,
        "target": event.target,
        "detail": event.detail,
        "ip_address": event.ip_address,
        "user_agent": event.user_agent,
    }


def digest(previous_hash: str, entry: dict[str, Any]) -> str:
    body = json.dumps(
        {k: entry.get(k) for k in FIELDS}, sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(f"{previous_hash}\n{body}".encode()).hexdigest()


def seal(event: Any) -> None:
    """Chain one newly written event onto the log (called as it is saved)."""
    from django.db import transaction

    from stls_portal.county.models import AuditChainHead, AuditSeal

    with transaction.atomic():
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(id=1, defaults={"hash": GENESIS})
        position = head.position + 1
        value = digest(head.hash, entry_of(event))
        AuditSeal.objects.create(event=event, position=position, previous_hash=head.hash, hash=value)
        head.position, head.hash = position, value
        head.save(update_fields=["position", "hash"])


@dataclass(frozen=True)
class Verdict:
    entries: int
    first_broken: int | None  # the id of the first event that does not match
    reason: str
    last_hash: str

    @property
    def intact(self) -> bool:
        return self.first_broken is None

    def as_json(self) -> dict[str, Any]:
        return {
            "entries": self.entries,
            "intact": self.intact,
            "first_broken_event_id": self.first_broken,
            "reason": self.reason,
            "last_hash": self.last_hash,
        }


def verify_entries(entries: Iterable[dict[str, Any]], previous_hash: str = GENESIS) -> Verdict:
    """Check entries carrying `previous_hash` and `hash` in order, from the given start."""
    count = 0
    for entry in entries:
        count += 1
        if entry.get("previous_hash") != previous_hash:
            return Verdict(
                count, entry.get("id"), "its link to the entry before it does not match", previous_hash
            )
        if digest(previous_hash, entry) != entry.get("hash"):
            return Verdict(
                count, entry.get("id"), "its fields do not match its hash (it was changed)", previous_hash
            )
        previous_hash = str(entry["hash"])
    return Verdict(count, None, "every entry matches", previous_hash)


def _sealed(events: Iterable[Any]) -> Iterator[dict[str, Any]]:
    from django.core.exceptions import ObjectDoesNotExist

    for event in events:
        entry = entry_of(event)
        try:
            entry["previous_hash"], entry["hash"] = event.seal.previous_hash, event.seal.hash
            entry["position"] = event.seal.position
        except ObjectDoesNotExist:
            entry["previous_hash"] = entry["hash"] = None
        yield entry


def _in_order(queryset: Any) -> Any:
    return queryset.select_related("seal").order_by("seal__position", "id")


def verify() -> Verdict:
    """Walk the whole log from its first event (an event without a seal breaks the chain)."""
    from stls_portal.models import AuditEvent

    entries = list(_sealed(_in_order(AuditEvent.objects.all()).iterator(chunk_size=2000)))
    verdict = verify_entries(entries)
    if verdict.intact:
        positions = [e.get("position") for e in entries]
        if positions != list(range(1, len(entries) + 1)):
            missing = next((e["id"] for n, e in enumerate(entries, start=1) if e.get("position") != n), None)
            return Verdict(len(entries), missing, "an entry before it is missing", verdict.last_hash)
    return verdict


def financial_year_bounds(year: str) -> tuple[datetime, datetime]:
    start = int(year[:4])
    return (
        datetime.combine(date(start, 4, 1), time(), tzinfo=UTC),
        datetime.combine(date(start + 1, 4, 1), time(), tzinfo=UTC),
    )


def export_year(home: Path, year: str) -> tuple[Path, Path, Verdict]:
    """Write a financial year's log and the check of it under $STLS_HOME/audit/."""
    from stls_portal.models import AuditEvent
    from stls_warehouse.config import Paths
    from stls_warehouse.files import write_atomically

    start, end = financial_year_bounds(year)
    events = _in_order(AuditEvent.objects.filter(at__gte=start, at__lt=end))
    entries = list(_sealed(events))
    first_previous = entries[0]["previous_hash"] if entries else GENESIS
    verdict = verify_entries(entries, first_previous or GENESIS)
    whole = verify()
    folder = Paths(home).audit
    log = write_atomically(
        folder / f"audit_log_{year}.jsonl",
        "".join(json.dumps(e, sort_keys=True, ensure_ascii=False) + "\n" for e in entries).encode("utf-8"),
    )
    check = {
        "financial_year": year,
        "file": log.name,
        "sha256": hashlib.sha256(log.read_bytes()).hexdigest(),
        "first_previous_hash": first_previous,
        "checked_at": datetime.now(UTC).isoformat(),
        "this_year": verdict.as_json(),
        "whole_log": whole.as_json(),
        "how_to_check": "each line's hash is sha256 of its previous_hash, a newline and the JSON of "
        f"the fields {', '.join(FIELDS)} (keys sorted, no spaces); the first line's previous_hash "
        "is first_previous_hash, each next line's is the hash of the line before it",
    }
    check_path = write_atomically(
        folder / f"audit_log_{year}.check.json", json.dumps(check, indent=1, sort_keys=True).encode("utf-8")
    )
    return log, check_path, verdict
