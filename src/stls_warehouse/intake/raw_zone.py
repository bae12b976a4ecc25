"""The raw zone: every file received, stored once and immutably by its SHA-256.

A school's file name is kept only as data (in receipts and the submission ledger); it is
never used to build a path. Objects are written when a file is first staged; the receipt
that says "this name with these bytes was received" is written only after the submission
ledger has committed, so a crash between the two makes the next run process it again.
"""

from __future__ import annotations

import json
from pathlib import Path

from stls_warehouse.files import UMASK_MODE, write_atomically, write_text_atomically


class RawZone:
    def __init__(self, root: Path) -> None:
        self.root = root

    def object_path(self, sha256: str) -> Path:
        return self.root / "objects" / sha256[:2] / sha256

    def _receipt(self, sha256: str) -> Path:
        return self.root / "receipts" / sha256[:2] / f"{sha256}.json"

    def put_object(self, sha256: str, data: bytes) -> Path:
        target = self.object_path(sha256)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
            write_atomically(target, data, mode=UMASK_MODE)
            target.chmod(0o440)  # immutable; readable by the owner and group only
        return target

    def read_object(self, sha256: str) -> bytes:
        return self.object_path(sha256).read_bytes()

    def names(self, sha256: str) -> list[str]:
        receipt = self._receipt(sha256)
        if not receipt.exists():
            return []
        return list(json.loads(receipt.read_text(encoding="utf-8")))

    def has(self, sha256: str, name: str) -> bool:
        return name in self.names(sha256)

    def record_receipt(self, sha256: str, name: str) -> None:
        names = self.names(sha256)
        if name in names:
            return
        receipt = self._receipt(sha256)
        write_text_atomically(receipt, json.dumps([*names, name]))
