"""The shapes of what publication writes as JSON: a release's manifest, the hold, the status.

Declared once from what `release.publish()`, `release.rollback()` and `release._write_status()`
write, for every module that reads them. Keys an older manifest may lack are `NotRequired`
(readers take them with `.get`); the files themselves are plain JSON and unchanged.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict


class TableEntry(TypedDict):
    """One published table in a manifest: what the audit and the next release compare."""

    rows: int
    checksum: str
    checksum_rule: NotRequired[str]  # absent before the rule was recorded
    columns: list[list[str]]  # [name, DuckDB type]
    docs: NotRequired[str]  # catalog.docs_fingerprint; absent in older releases


class FileEntry(TypedDict):
    sha256: str
    bytes: int


class ReturnInRelease(TypedDict):
    """An accepted return whose figures the release holds (the current version of each)."""

    file: str
    sha256: str
    return_type: str
    sla_code: str
    period_key: str
    version: int
    received_at: str


class InputFile(TypedDict):
    """Every file ever received; the name only of accepted files."""

    sha256: str
    status: str
    file: str | None
    return_type: str | None
    sla_code: str | None
    period_key: str | None
    received_at: str


class Manifest(TypedDict):
    """`manifest.json` of a release, in the order `publish()` writes its keys."""

    format: NotRequired[int]  # absent in format 1
    release_id: str
    published_at: str
    code_version: str
    previous_release_id: str | None
    tables: dict[str, TableEntry]
    files: dict[str, FileEntry]
    files_reused_from: NotRequired[dict[str, str]]
    export_layout: NotRequired[int]
    duckdb_storage_version: NotRequired[str]
    csv_formula_guard: NotRequired[str]
    xlsx_sheets: dict[str, str]  # the finance workbook's sheet per table
    xlsx_workbooks: NotRequired[dict[str, dict[str, str]]]
    returns: NotRequired[list[ReturnInRelease]]
    inputs: NotRequired[list[InputFile]]


class Hold(TypedDict):
    """`published/hold.json`, written by a rollback."""

    release_id: str
    rolled_back_from: str
    at: str


class TargetState(TypedDict):
    release_id: str | None
    behind: bool
    error: NotRequired[str | None]  # PostgreSQL only


class PublicationStatus(TypedDict):
    """`published/status.json`: what each target serves after the last publication."""

    checked_at: str
    release_id: str | None
    targets: dict[str, TargetState]
    held: Hold | None
    repaired: str | None
