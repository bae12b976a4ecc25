"""House style of the dbt project (STYLE.md), checked without running dbt."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stls_warehouse.config import DBT_PROJECT_DIR

MODELS = DBT_PROJECT_DIR / "models"
SQL_FILES = sorted(
    path for folder in ("models", "macros", "tests") for path in (DBT_PROJECT_DIR / folder).rglob("*.sql")
)


def _models(layer: str) -> list[Path]:
    return sorted((MODELS / layer).rglob("*.sql"))


def _code(path: Path) -> str:
    """The SQL without comments and Jinja comments."""
    text = re.sub(r"\{#.*?#\}", "", path.read_text(), flags=re.S)
    return re.sub(r"--[^\n]*", "", text)


@pytest.mark.parametrize("path", SQL_FILES, ids=lambda p: p.name)
def test_sql_lines_are_under_80_characters(path: Path) -> None:
    long = [n for n, line in enumerate(path.read_text().splitlines(), 1) if len(line) >= 80]
    assert not long, f"{path.name}: lines {long}"


@pytest.mark.parametrize("path", SQL_FILES, ids=lambda p: p.name)
def test_sql_keywords_are_lowercase(path: Path) -> None:
    code = re.sub(r"'[^']*'", "''", _code(path))
    shouting = re.findall(r"\b(SELECT|FROM|WHERE|JOIN|GROUP BY|ORDER BY|CASE|WHEN|AS)\b", code)
    assert not shouting, f"{path.name}: {sorted(set(shouting))}"


@pytest.mark.parametrize("path", SQL_FILES, ids=lambda p: p.name)
def test_no_comma_before_from_or_closing_bracket(path: Path) -> None:
    """Trailing commas end lines, never a select list (Postgres rejects `a, from`)."""
    assert not re.search(r",\s*\n\s*(from|\))\b", _code(path)), path.name


@pytest.mark.parametrize("path", _models("staging"), ids=lambda p: p.name)
def test_staging_models_rename_and_cast_only(path: Path) -> None:
    code = _code(path)
    assert re.fullmatch(r"stg_[a-z]+__[a-z_]+s\.sql", path.name)
    assert "source as (" in code and "renamed as (" in code
    assert code.strip().endswith("select * from renamed")
    assert " join " not in code and "ref(" not in code


@pytest.mark.parametrize("path", _models("intermediate") + _models("marts"), ids=lambda p: p.name)
def test_models_end_with_select_from_final(path: Path) -> None:
    assert _code(path).strip().endswith("select * from final"), path.name


@pytest.mark.parametrize("path", sorted(MODELS.rglob("*.sql")), ids=lambda p: p.name)
def test_money_is_never_floating_point(path: Path) -> None:
    assert not re.search(r"\b(double|float|real)\b", _code(path)), path.name
