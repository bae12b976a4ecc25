"""Who to write to about an SLA's returns: the contacts the returns service publishes.

The returns service knows the schools' users (its own database, which the pipeline never
reads). It publishes each SLA's contacts, the active users with a school role for it, as
`$STLS_HOME/contacts/sla_contacts.json`, rewritten atomically whenever a user, a role or an
SLA changes. The monthly close reads that file to mail each school about its overdue
returns, so the school hears from the close what county finance's chase would tell it.

    {"written_at": "2026-12-05T07:00:00+00:00",
     "slas": {"SWA": [{"name": "A Person", "email": "a.person@example.org"}], "THA": []}}

Every SLA of the register is a key (an empty list: nobody to write to), so a missing key
means the file predates the SLA.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stls_warehouse.config import Paths
from stls_warehouse.errors import StlsError
from stls_warehouse.files import write_atomically

FILE = Path("contacts") / "sla_contacts.json"


class ContactsFileInvalid(StlsError, ValueError):
    """The contacts file exists but is not what the returns service writes."""


@dataclass(frozen=True, order=True)
class Contact:
    email: str
    name: str = ""

    @property
    def address(self) -> str:
        """`Name <email>` for a To: header, or the bare address."""
        from email.utils import formataddr

        return formataddr((self.name, self.email)) if self.name else self.email


def contacts_file(home: Paths) -> Path:
    return home.home / FILE


def write_contacts(home: Paths, by_sla: dict[str, list[Contact]], *, now: datetime | None = None) -> Path:
    """Replace the contacts file (by rename: a reader never sees half of it)."""
    document = {
        "written_at": (now or datetime.now(UTC)).isoformat(),
        "slas": {
            sla: [{"name": c.name, "email": c.email} for c in sorted(set(contacts))]
            for sla, contacts in sorted(by_sla.items())
        },
    }
    data = json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"
    return write_atomically(contacts_file(home), data, mode=0o640)


def read_contacts(home: Paths) -> dict[str, list[Contact]] | None:
    """Each SLA's contacts; None when the service has not published the file."""
    path = contacts_file(home)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        document = json.loads(raw)
        return {str(sla): [_contact(entry) for entry in people] for sla, people in document["slas"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ContactsFileInvalid(f"{path} is not a contacts file: {exc}") from exc


def _contact(entry: Any) -> Contact:
    email = str(entry["email"]).strip()
    if "@" not in email:
        raise ValueError(f"{email!r} is not an e-mail address")
    return Contact(email=email, name=str(entry.get("name") or "").strip())
