"""What changed when a new accepted version of a return supersedes the last one.

Finance staff asking "why did Swale's October outturn move?" need more than two version
numbers: the comparison lists the lines added, removed and changed (matched by line_ref
for a ledger, by kpi_code for a KPI return) and the total before and after. Free-text
columns (description, comment) may hold personal data, so only the fact that they changed
is recorded, never their text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from stls_warehouse.intake.contract import KPI, LEDGER, PERSONAL_COLUMNS
from stls_warehouse.intake.values import format_money
from stls_warehouse.text import safe_text

LEDGER_KEY = LEDGER.key
LEDGER_FIELDS = LEDGER.compared
KPI_KEY = KPI.key
KPI_FIELDS = KPI.compared
PRIVATE_FIELDS = PERSONAL_COLUMNS


@dataclass
class Comparison:
    return_type: str
    sla_code: str
    period_key: str
    version: int
    file: str
    file_sha256: str
    previous_file: str | None
    previous_sha256: str
    lines_before: int
    lines_after: int
    total_before: Decimal | None
    total_after: Decimal | None
    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def unchanged(self) -> int:
        return self.lines_after - len(self.added) - len(self.changed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "return_type": self.return_type,
            "sla_code": self.sla_code,
            "period_key": self.period_key,
            "version": self.version,
            "file": self.file,
            "file_sha256": self.file_sha256,
            "supersedes_file": self.previous_file,
            "supersedes_sha256": self.previous_sha256,
            "lines_before": self.lines_before,
            "lines_after": self.lines_after,
            "lines_added": len(self.added),
            "lines_removed": len(self.removed),
            "lines_changed": len(self.changed),
            "lines_unchanged": self.unchanged,
            "total_before": _text(self.total_before),
            "total_after": _text(self.total_after),
            "added": self.added,
            "removed": self.removed,
            "changed": self.changed,
        }


def compare(
    return_type: str,
    before: list[dict[str, Any]],
    after: list[dict[str, Any]],
    **about: Any,
) -> Comparison:
    """Compare two versions' rows (dicts of the raw table's columns)."""
    key, fields = (LEDGER_KEY, LEDGER_FIELDS) if return_type == "ledger" else (KPI_KEY, KPI_FIELDS)
    old = {row[key]: row for row in before}
    new = {row[key]: row for row in after}
    comparison = Comparison(
        return_type=return_type,
        lines_before=len(before),
        lines_after=len(after),
        total_before=_total(return_type, before),
        total_after=_total(return_type, after),
        **about,
    )
    for ref in sorted(new.keys() - old.keys()):
        comparison.added.append(_public(key, new[ref], fields))
    for ref in sorted(old.keys() - new.keys()):
        comparison.removed.append(_public(key, old[ref], fields))
    for ref in sorted(new.keys() & old.keys()):
        differences = {
            name: _difference(name, old[ref].get(name), new[ref].get(name))
            for name in fields
            if old[ref].get(name) != new[ref].get(name)
        }
        if differences:
            comparison.changed.append({key: ref, "changes": differences})
    return comparison


def markdown(comparison: Comparison) -> str:
    """The comparison as a page a finance officer can read."""
    c = comparison
    kind = "ledger" if c.return_type == "ledger" else "KPI"
    unit = "lines" if c.return_type == "ledger" else "KPIs"
    out = [
        f"# {c.sla_code} {kind} return {c.period_key}: version {c.version}",
        "",
        f"{md(c.file)} replaces version {c.version - 1} ({md(c.previous_file)}).",
        "",
        "| | before | after |",
        "|---|---:|---:|",
        f"| {unit} | {c.lines_before} | {c.lines_after} |",
    ]
    if c.total_before is not None and c.total_after is not None:
        out.append(f"| total amount | {format_money(c.total_before)} | {format_money(c.total_after)} |")
        out.append(f"| change in total | | {format_money(c.total_after - c.total_before)} |")
    out += [
        "",
        f"{len(c.added)} added, {len(c.removed)} removed, {len(c.changed)} changed, {c.unchanged} unchanged.",
    ]
    key = LEDGER_KEY if c.return_type == "ledger" else KPI_KEY
    for title, rows in (("Added", c.added), ("Removed", c.removed)):
        if rows:
            out += ["", f"## {title}", ""]
            out += [f"- {_describe(key, row)}" for row in rows]
    if c.changed:
        out += ["", "## Changed", ""]
        for row in c.changed:
            parts = [
                f"{name} {md(d['before'])} -> {md(d['after'])}" if "before" in d else f"{name} changed"
                for name, d in row["changes"].items()
            ]
            out.append(f"- {md(row[key])}: {'; '.join(parts)}")
    return "\n".join(out) + "\n"


def _total(return_type: str, rows: list[dict[str, Any]]) -> Decimal | None:
    if return_type != "ledger":
        return None
    return sum((Decimal(row["amount"]) for row in rows), Decimal("0.00"))


def _public(key: str, row: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {key: row[key]} | {name: _text(row.get(name)) for name in fields if name not in PRIVATE_FIELDS}


def _difference(name: str, before: Any, after: Any) -> dict[str, Any]:
    if name in PRIVATE_FIELDS:
        return {"changed": True}
    return {"before": _text(before), "after": _text(after)}


def _describe(key: str, row: dict[str, Any]) -> str:
    details = ", ".join(f"{k} {md(v)}" for k, v in row.items() if k != key and v is not None)
    return f"{md(row[key])}: {details}"


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~#])")  # what could start markup inside a line


def md(value: Any) -> str:
    """Text from a school's file, shown as itself in Markdown: never a link, an image, a table
    cell break, a heading or HTML; one line."""
    text = " ".join(safe_text(str(value)).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "Y" if value else "N"
    return str(value)
