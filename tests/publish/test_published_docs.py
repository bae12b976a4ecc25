"""What a BI user relies on: every published column described and of a declared kind, the
descriptions readable wherever BI tools look (Parquet, DuckDB, the workbook; PostgreSQL in
test_publish_postgres.py), keys that hold, and each kind formatted as its kind."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from stls_warehouse.catalog import published_docs, table_doc
from stls_warehouse.config import Paths
from stls_warehouse.publish import exports
from stls_warehouse.publish.release import current_manifest, current_release_dir


def test_every_documented_column_has_a_description_and_a_declared_kind() -> None:
    """A number's kind (money, percentage, count, ...) is declared in the marts' YAML, never guessed."""
    problems = [
        f"{table}.{column.name}: "
        + ("no description" if not column.description else f"no kind ({column.data_type})")
        for table, doc in published_docs().items()
        for column in doc.columns.values()
        if not column.description or not column.kind_declared
    ]
    assert not problems, "\n".join(problems)
    assert all(doc.description for doc in published_docs().values())


def test_every_published_column_is_documented(year_home: Path) -> None:
    """Columns added to a mart later are covered too: the release's own columns are checked."""
    manifest = current_manifest(Paths(year_home))
    assert manifest is not None
    undocumented = [
        f"{table}.{name}"
        for table, entry in manifest["tables"].items()
        for name, _ in entry["columns"]
        if name not in table_doc(table).columns
    ]
    assert not undocumented, undocumented
    assert {"dim_sla", "dim_account", "dim_period", "dim_kpi"} <= set(manifest["tables"])
    assert ["line_ref", "VARCHAR"] in manifest["tables"]["fct_ledger_lines"]["columns"]


def test_descriptions_are_read_back_from_duckdb_parquet_and_the_workbook(year_home: Path) -> None:
    from openpyxl import load_workbook

    release = current_release_dir(Paths(year_home))
    assert release is not None
    manifest = current_manifest(Paths(year_home))
    assert manifest is not None
    con = duckdb.connect(str(release / "stls.duckdb"), read_only=True)
    tables = dict(con.execute("select table_name, comment from duckdb_tables()").fetchall())
    columns = {
        (t, c): comment
        for t, c, comment in con.execute(
            "select table_name, column_name, comment from duckdb_columns()"
        ).fetchall()
    }
    book = load_workbook(release / "stls_finance.xlsx", read_only=True)
    dictionary = {
        (row[0], row[2]): row for row in book["Data dictionary"].iter_rows(min_row=2, values_only=True)
    }
    quality = load_workbook(release / "stls_data_quality.xlsx", read_only=True)
    dictionary |= {
        (row[0], row[2]): row for row in quality["Data dictionary"].iter_rows(min_row=2, values_only=True)
    }
    checked = 0
    for table in manifest["tables"]:
        doc = table_doc(table)
        assert tables[table] == doc.description, table
        schema = pq.read_schema(release / "parquet" / f"{table}.parquet")
        assert schema.metadata[b"description"].decode() == doc.description
        in_file = json.loads(schema.metadata[b"columns"])
        for name, column in doc.columns.items():
            assert columns[(table, name)] == column.description, (table, name)
            field = schema.field(name)
            assert field.metadata[b"description"].decode() == column.description
            assert field.metadata[b"kind"].decode() == column.kind
            assert in_file[name]["description"] == column.description
            _, _, _, header, kind, _, description = dictionary[(table, name)]
            assert (header, kind, description) == (column.label, column.kind, column.description)
            checked += 1
    assert checked > 300


def test_every_foreign_key_holds_in_the_published_data(year_home: Path) -> None:
    """What Power BI's relationship detection needs: each key unique, each reference found."""
    release = current_release_dir(Paths(year_home))
    assert release is not None
    con = duckdb.connect()
    for table in current_manifest(Paths(year_home))["tables"]:  # type: ignore[index]
        con.execute(
            f"create view {table} as select * from read_parquet('{release / 'parquet' / table}.parquet')"
        )
    relations = 0
    for table, doc in published_docs().items():
        for key in [doc.primary_key, *doc.unique_keys]:
            if key:
                cols = ", ".join(key)
                dupes = con.execute(
                    f"select count(*) from (select {cols} from {table} group by all having count(*) > 1)"
                )
                assert dupes.fetchone()[0] == 0, (table, key)
        for column, target, target_column in doc.foreign_keys():
            missing = con.execute(
                f"select distinct {column} from {table} where {column} is not null "
                f"and {column} not in (select {target_column} from {target})"
            ).fetchall()
            assert not missing, f"{table}.{column} -> {target}.{target_column}: {missing[:5]}"
            relations += 1
    assert relations >= 15


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("money", Decimal("-44757.76"), "£#,##0.00;[Red]-£#,##0.00"),
        ("percentage", Decimal("5.9"), '0.0"%";[Red]-0.0"%"'),
        ("count", 12, "#,##0"),
        ("days", Decimal("10.0"), '#,##0.0" days"'),
        ("score", Decimal("4.2"), "0.00"),
        ("code", 2021, "0"),
    ],
)
def test_each_kind_gets_its_number_format(kind: str, value: object, expected: str) -> None:
    column = exports.Column("x", "DECIMAL(18,2)" if isinstance(value, Decimal) else "INTEGER")
    assert exports.number_format(kind, column) == expected


def test_the_workbook_formats_each_column_by_its_kind(year_home: Path) -> None:
    from openpyxl import load_workbook

    release = current_release_dir(Paths(year_home))
    assert release is not None
    manifest = current_manifest(Paths(year_home))
    assert manifest is not None
    book = load_workbook(release / "stls_finance.xlsx", read_only=True)
    seen: set[str] = set()
    for table in ("mart_service_line_budget_outturn", "mart_expenditure_breakdown", "mart_kpi_monthly"):
        doc = table_doc(table)
        rows = list(book[manifest["xlsx_sheets"][table]].iter_rows(min_row=1, max_row=60))
        headers = [c.value for c in rows[0]]
        names = [c[0] for c in manifest["tables"][table]["columns"]]
        for row in rows[1:]:
            values = {n: cell for n, cell in zip(names, row, strict=False)}
            for name, cell in values.items():
                column = doc.column(name)
                if cell.value is None or column.kind in ("text", "flag"):
                    continue
                kind = column.kind
                if kind == "by_unit":
                    kind = {"count": "count", "days": "days", "percent": "percentage", "score": "score"}.get(
                        values["unit"].value, "fte"
                    )
                types = dict(manifest["tables"][table]["columns"])
                expected = (
                    exports.KIND_FORMATS[kind]
                    if column.kind == "by_unit"
                    else exports.number_format(kind, exports.Column(name, types[name]))
                )
                assert cell.number_format == expected, (table, name, kind, cell.number_format)
                seen.add(kind)
        assert headers[0] == doc.column(names[0]).label
    assert {"money", "percentage", "count", "days", "score"} <= seen


def test_the_dimensions_label_the_codes_the_facts_carry(year_home: Path) -> None:
    release = current_release_dir(Paths(year_home))
    assert release is not None
    con = duckdb.connect()

    def rows(sql: str, table: str) -> list[tuple[object, ...]]:
        return con.execute(
            sql.replace(table, f"read_parquet('{release / 'parquet' / table}.parquet')")
        ).fetchall()

    assert rows(
        "select sla_label, holder_school, service_line_name from dim_sla where sla_code = 'ASH'", "dim_sla"
    ) == [("Ashford STLS (ASH)", "Goldwyn School", "District STLS")]
    assert rows(
        "select period_start, period_end, period_label from dim_period where period_key = '2021-22-P13'",
        "dim_period",
    ) == [(date(2022, 3, 1), date(2022, 4, 30), "2021-22 P13 (year-end adjustments)")]
    assert rows(
        "select date_key, period_label from dim_period where period_key = '2021-22-P07'", "dim_period"
    ) == [(date(2021, 10, 1), "2021-22 P07 (October 2021)")]
    assert rows("select unit, target from dim_kpi where kpi_code = 'FC_DAYS_MED'", "dim_kpi") == [
        ("days", Decimal("10.00"))
    ]
    assert rows(
        "select expenditure_category_name from dim_account where account_code = 'E01'", "dim_account"
    ) == [("Direct staffing",)]
    # the school's own reference travels with every line, for an auditor's sample
    assert rows("select count(*) = count(line_ref) from fct_ledger_lines", "fct_ledger_lines") == [(True,)]
