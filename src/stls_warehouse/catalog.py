"""What every published table and column means and how it is shown: one home for all of it.

The descriptions are the marts' dbt documentation (`dbt_project/models/marts/**/_*.yml`, with
their `{{ doc('...') }}` blocks resolved from `models/**/*.md`): every published table is a dbt
model, the data quality results and the submission ledger included. Each column's
`kind` (money, percentage, count, ...) is declared in its `config.meta.kind`; text, flags,
dates and times take theirs from the contract's `data_type`, a number never from a guess at
its value. Reports, the workbook and every publication target (Parquet, DuckDB, PostgreSQL)
read this catalogue, so a column added to a mart's YAML is described and formatted
everywhere without another change.

Keys for BI tools: a model's `config.meta.primary_key`, its natural keys (the columns of
its `unique_combination_of_columns` test, or a column's `unique` test) and each column's
`config.meta.references` (`dim_sla.sla_code`).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stls_warehouse.config import DBT_PROJECT_DIR
from stls_warehouse.errors import StlsError

# How a column is shown. Numbers must say which kind they are; the others follow their type.
NUMBER_KINDS = ("money", "percentage", "count", "score", "days", "fte", "ratio", "index", "number", "code")
KINDS = (*NUMBER_KINDS, "text", "flag", "date", "timestamp", "by_unit")
# `by_unit`: the row's `unit` column says the kind (a KPI's target is days for one KPI and
# per cent for another). The units of ref_kpi_definitions and mart_structure_comparison:
UNIT_KINDS = {
    "GBP": "money",
    "percent": "percentage",
    "count": "count",
    "days": "days",
    "score": "score",
    "fte": "fte",
}
_TYPE_KINDS = (("varchar", "text"), ("text", "text"), ("boolean", "flag"), ("date", "date"))
_WORDS = {
    "sla": "SLA",
    "slas": "SLAs",
    "kpi": "KPI",
    "rag": "RAG",
    "pct": "%",
    "ytd": "year to date",
    "r12": "rolling 12 months",
    "iss": "ISS",
    "fte": "FTE",
    "ons": "ONS",
    "sha256": "SHA-256",
    "fsm": "FSM",
    "idaci": "IDACI",
    "sen": "SEN",
    "pd": "PD",
    "id": "ID",
    "gbp": "GBP",
}


class CatalogError(StlsError, ValueError):
    """The marts' documentation cannot be read (a YAML file or a docs block is broken)."""


@dataclass(frozen=True)
class ColumnDoc:
    name: str
    description: str
    kind: str  # one of KINDS
    label: str  # the human header
    data_type: str = ""
    references: str | None = None  # "dim_sla.sla_code"
    kind_declared: bool = True  # False: a number without a declared kind (shown as "number")


@dataclass(frozen=True)
class TableDoc:
    name: str
    description: str
    columns: dict[str, ColumnDoc] = field(default_factory=dict)
    primary_key: tuple[str, ...] = ()
    unique_keys: tuple[tuple[str, ...], ...] = ()

    def column(self, name: str) -> ColumnDoc:
        """The column's documentation; an undocumented column says so rather than failing."""
        found = self.columns.get(name)
        if found is not None:
            return found
        return ColumnDoc(name, "", "number", human_label(name), kind_declared=False)

    def foreign_keys(self) -> list[tuple[str, str, str]]:
        """(column, referenced table, referenced column) for every declared reference."""
        out = []
        for column in self.columns.values():
            if column.references:
                table, _, target = column.references.partition(".")
                out.append((column.name, table, target))
        return out


def human_label(name: str) -> str:
    """`overhead_difference_pct` -> `Overhead difference %`, `sla_code` -> `SLA code`."""
    words = [_WORDS.get(w, w) for w in name.split("_") if w]
    if name.startswith("is_") and len(words) > 1:
        words = words[1:]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def kind_for_unit(unit: str | None) -> str:
    return UNIT_KINDS.get(str(unit or ""), "number")


@functools.cache
def published_docs(dbt_dir: Path = DBT_PROJECT_DIR) -> dict[str, TableDoc]:
    """Every documented published table: every model of the marts."""
    docs = _docs_blocks(dbt_dir / "models")
    tables: dict[str, TableDoc] = {}
    for path in sorted((dbt_dir / "models" / "marts").rglob("*.yml")):
        for model in _load_yaml(path).get("models") or []:
            tables[model["name"]] = _table(model, docs, path)
    return dict(sorted(tables.items()))


def table_doc(name: str) -> TableDoc:
    return published_docs().get(name) or TableDoc(name, "")


def _load_yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise CatalogError(f"{path}: {error}") from error
    return loaded if isinstance(loaded, dict) else {}


def _docs_blocks(models: Path) -> dict[str, str]:
    blocks: dict[str, str] = {}
    for path in sorted(models.rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        for name, body in re.findall(r"\{%-?\s*docs\s+(\w+)\s*-?%\}(.*?)\{%-?\s*enddocs\s*-?%\}", text, re.S):
            blocks[name] = body.strip()
    return blocks


def _resolve(text: str | None, docs: dict[str, str], where: str) -> str:
    def block(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in docs:
            raise CatalogError(f"{where}: no docs block {name!r}")
        return docs[name]

    resolved = re.sub(r"\{\{\s*doc\(\s*['\"](\w+)['\"]\s*\)\s*\}\}", block, text or "")
    return " ".join(resolved.split())  # one paragraph: what COMMENT ON and metadata hold


def _meta(node: dict[str, Any]) -> dict[str, Any]:
    config = node.get("config") or {}
    return {**(node.get("meta") or {}), **(config.get("meta") or {})}


def _kind(meta: dict[str, Any], data_type: str, where: str) -> tuple[str, bool]:
    declared = meta.get("kind")
    if declared is not None:
        if declared not in KINDS:
            raise CatalogError(f"{where}: kind {declared!r} is not one of {', '.join(KINDS)}")
        return str(declared), True
    lowered = data_type.lower()
    if lowered.startswith("timestamp"):
        return "timestamp", True
    for prefix, kind in _TYPE_KINDS:
        if lowered.startswith(prefix):
            return kind, True
    if not lowered:  # a column that states no type: text unless a kind says otherwise
        return "text", True
    return "number", False


def _table(model: dict[str, Any], docs: dict[str, str], path: Path) -> TableDoc:
    name = model["name"]
    columns: dict[str, ColumnDoc] = {}
    unique: list[tuple[str, ...]] = []
    for test in model.get("data_tests") or model.get("tests") or []:
        if isinstance(test, dict) and "unique_combination_of_columns" in test:
            spec = test["unique_combination_of_columns"]
            spec = spec.get("arguments", spec)
            unique.append(tuple(spec["combination_of_columns"]))
    for column in model.get("columns") or []:
        where = f"{path.name}: {name}.{column['name']}"
        meta = _meta(column)
        data_type = str(column.get("data_type") or "")
        kind, declared = _kind(meta, data_type, where)
        description = _resolve(column.get("description"), docs, where)
        if kind == "timestamp" and "UTC" not in description:
            description = f"{description} The time is UTC.".strip()
        columns[column["name"]] = ColumnDoc(
            name=column["name"],
            description=description,
            kind=kind,
            label=str(meta.get("label") or human_label(column["name"])),
            data_type=data_type,
            references=meta.get("references"),
            kind_declared=declared,
        )
        if "unique" in (column.get("data_tests") or []):
            unique.append((column["name"],))
    primary_key = tuple(_meta(model).get("primary_key") or ())
    return TableDoc(
        name=name,
        description=_resolve(model.get("description"), docs, f"{path.name}: {name}"),
        columns=columns,
        primary_key=primary_key,
        unique_keys=tuple(k for k in unique if k != primary_key),
    )


def docs_fingerprint(name: str) -> str:
    """A hash of a table's published documentation: a release whose docs changed is written anew."""
    import hashlib
    import json
    from dataclasses import asdict

    return hashlib.sha256(json.dumps(asdict(table_doc(name)), sort_keys=True).encode()).hexdigest()
