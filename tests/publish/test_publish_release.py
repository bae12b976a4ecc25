"""Write-audit-publish as finance, BI tools and auditors rely on it.

Releases are made from a real warehouse built by the pipeline; a test that needs different
releases changes the marts of its own copy of that warehouse, as a dbt rebuild would.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import duckdb
import pytest

from stls_warehouse import cli
from stls_warehouse.config import Paths
from stls_warehouse.publish import exports
from stls_warehouse.publish.audit import AuditFailed, canonical_checksum
from stls_warehouse.publish.release import (
    LINKS,
    NothingToRollBack,
    complete_releases,
    current_manifest,
    current_release_dir,
    publish,
    release_hold,
    rollback,
)
from tests.publish.year_fixture import copy_home

INJECTED = ("=1+1", "+SUM(A1)", "-2", "@x", "\tTAB", "plain text")


def change_warehouse(home: Paths, sql: str) -> None:
    con = duckdb.connect(str(home.warehouse))
    try:
        con.execute(sql)
    finally:
        con.close()


def test_a_release_holds_every_table_in_every_format_with_its_manifest(year_home: Path) -> None:
    home = Paths(year_home)
    manifest = current_manifest(home)
    assert manifest is not None and manifest["format"] == 2
    release = current_release_dir(home)
    assert release is not None and release.parent == home.published / "releases"
    for name in LINKS:  # the fixed reader paths all lead into the current release
        assert (home.published / name).resolve() == release / name
    warehouse = duckdb.connect(str(home.warehouse), read_only=True)
    marts = {r[0] for r in warehouse.execute("show tables from marts").fetchall()}
    assert set(manifest["tables"]) == marts | {"submission_ledger"}
    for table, entry in manifest["tables"].items():
        if table in marts:
            assert (entry["rows"], entry["checksum"]) == canonical_checksum(warehouse, f"marts.{table}")
        assert (home.parquet / f"{table}.parquet").is_file()
        assert (home.published / "csv" / f"{table}.csv").is_file()
    warehouse.close()
    for name, entry in manifest["files"].items():
        assert hashlib.sha256((release / name).read_bytes()).hexdigest() == entry["sha256"], name
    # Every return in the release names the file it came from, by the hash the raw zone stores.
    raw = {p.name for p in (home.raw).rglob("*") if p.is_file()}
    assert len(manifest["returns"]) == 14 * 12 * 2
    assert all(any(item["sha256"] in name for name in raw) for item in manifest["returns"])
    assert {i["status"] for i in manifest["inputs"]} == {"ACCEPTED"}
    assert manifest["code_version"].startswith(("git:", "stls-warehouse=="))
    assert exports.duckdb_storage_number(home.published / "stls.duckdb") == exports.DUCKDB_STORAGE_NUMBER


def test_the_published_database_opens_in_duckdb_1_0(year_home: Path, tmp_path: Path) -> None:
    """A BI tool on an old driver: DuckDB 1.0.0 in a throwaway venv, installed from the local uv cache."""
    uv = Path(sys.executable).with_name("uv")
    venv = tmp_path / "duckdb1"
    made = subprocess.run([str(uv), "venv", "-q", "--python", sys.executable, str(venv)], capture_output=True)
    installed = made.returncode == 0 and (
        subprocess.run(
            [
                str(uv),
                "pip",
                "install",
                "-q",
                "--offline",
                "--python",
                str(venv / "bin" / "python"),
                "duckdb==1.0.0",
            ],
            capture_output=True,
        ).returncode
        == 0
    )
    if not installed:
        pytest.skip(
            "duckdb==1.0.0 is not in the local uv cache (no download at test time); header checked instead"
        )
    database = Paths(year_home).published / "stls.duckdb"
    script = (
        "import duckdb, sys\n"
        "con = duckdb.connect(sys.argv[1], read_only=True)\n"
        "print(duckdb.__version__)\n"
        "print(con.execute('select count(*), sum(amount) from fct_ledger_lines').fetchone())\n"
        'print(con.execute("select sum(total_budget) from mart_service_line_budget_outturn '
        "where financial_year = '2021-22'\").fetchone())\n"
    )
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", script, str(database)],
        capture_output=True,
        text=True,
        check=True,
    )
    version, ledger, budget = done.stdout.splitlines()
    assert version == "1.0.0"
    con = duckdb.connect()
    count, total = con.execute(
        "select count(*), sum(amount) from read_parquet(?)",
        [str(Paths(year_home).parquet / "fct_ledger_lines.parquet")],
    ).fetchone()
    assert ledger == f"({count}, Decimal('{total}'))"
    assert budget == "(Decimal('8201873.00'),)"


@pytest.fixture
def probe_home(year_home: Path, tmp_path: Path) -> Paths:
    """A copy whose warehouse has a text column full of would-be formulas."""
    home = copy_home(year_home, tmp_path / "home")
    values = ", ".join(f"({i}, {exports.sql_string(v)}, -{i}.50)" for i, v in enumerate(INJECTED, start=1))
    change_warehouse(
        home,
        "create table marts.mart_formula_probe (id integer, note varchar, amount decimal(18, 2)); "
        f"insert into marts.mart_formula_probe values {values}",
    )
    publish(home)
    return home


def test_exports_never_carry_a_formula_from_data(probe_home: Paths) -> None:
    release = current_release_dir(probe_home)
    assert release is not None
    # CSV: every value a spreadsheet would run is prefixed with an apostrophe; numbers are left alone.
    lines = (release / "csv" / "mart_formula_probe.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "id,note,amount"
    notes = duckdb.execute(
        "select note, amount from read_csv(?, all_varchar = true) order by cast(id as integer)",
        [str(release / "csv" / "mart_formula_probe.csv")],
    ).fetchall()
    assert [n for n, _ in notes] == ["'=1+1", "'+SUM(A1)", "'-2", "'@x", "'\tTAB", "plain text"]
    assert [a for _, a in notes] == ["-1.50", "-2.50", "-3.50", "-4.50", "-5.50", "-6.50"]
    # XLSX: no formula element anywhere; the cells are text with Excel's quote prefix.
    with zipfile.ZipFile(release / "stls_finance.xlsx") as book:
        for name in book.namelist():
            if name.startswith("xl/worksheets/"):
                assert not re.search(r"<f[ >]", book.read(name).decode()), name
    from openpyxl import load_workbook

    sheet = load_workbook(release / "stls_finance.xlsx", read_only=True)["formula_probe"]
    rows = list(sheet.iter_rows(min_row=2))
    assert [r[1].value for r in rows] == list(INJECTED)
    assert all(r[1].data_type == "s" for r in rows)
    assert [bool(r[1].style_array.quotePrefix) for r in rows] == [True, True, True, True, True, False]
    assert rows[0][2].value == -1.5 and rows[0][2].number_format.startswith("#,##0.00")
    # Parquet and DuckDB are typed formats: the data is kept exactly as it is.
    assert [
        r[0]
        for r in duckdb.execute(
            "select note from read_parquet(?) order by id",
            [str(release / "parquet" / "mart_formula_probe.parquet")],
        ).fetchall()
    ] == list(INJECTED)


def test_the_finance_workbook_has_a_frozen_formatted_table_per_table(year_home: Path) -> None:
    from openpyxl import load_workbook

    home = Paths(year_home)
    manifest = current_manifest(home)
    assert manifest is not None
    book = load_workbook(home.published / "stls_finance.xlsx", read_only=True)
    assert book.sheetnames[:3] == ["Contents", "Budget v outturn", "Data dictionary"]
    finance = [t for t in manifest["tables"] if t != "mart_data_quality_results"]
    assert book.sheetnames[3:] == [manifest["xlsx_sheets"][t] for t in finance]
    name = manifest["xlsx_sheets"]["mart_service_line_budget_outturn"]
    rows = list(book[name].iter_rows())
    header = [c.value for c in rows[0]]
    budget = rows[1][header.index("Total budget")]  # human headers; names in the dictionary
    assert budget.number_format == "£#,##0.00;[Red]-£#,##0.00" and budget.data_type == "n"
    assert len(rows) == manifest["tables"]["mart_service_line_budget_outturn"]["rows"] + 1
    with zipfile.ZipFile(home.published / "stls_finance.xlsx") as archive:
        for index in range(4, len(book.sheetnames) + 1):  # every table sheet: header row frozen, a table
            xml = archive.read(f"xl/worksheets/sheet{index}.xml").decode()
            assert 'ySplit="1"' in xml and 'state="frozen"' in xml and "<tablePart " in xml
    # each table is an Excel Table (ListObject) over its whole range, its columns the headers
    full = load_workbook(home.published / "stls_finance.xlsx")
    for table in finance:
        sheet = full[manifest["xlsx_sheets"][table]]
        (listed,) = sheet.tables.values()
        width = len(manifest["tables"][table]["columns"])
        last = max(manifest["tables"][table]["rows"], 1) + 1
        assert listed.name == table and listed.ref == f"A1:{sheet.cell(1, width).column_letter}{last}"
        assert [c.name for c in listed.tableColumns] == [c.value for c in sheet[1]]
    # the data quality results are the auditors' own workbook, not 28k rows in finance's
    quality = load_workbook(home.published / "stls_data_quality.xlsx", read_only=True)
    assert quality.sheetnames == ["Contents", "Data dictionary", "data_quality_results"]


def test_an_unchanged_warehouse_is_not_published_again(year_home: Path, tmp_path: Path) -> None:
    home = copy_home(year_home, tmp_path / "home")
    before = (home.published / "manifest.json").read_bytes()
    assert publish(home)["release_id"] == json.loads(before)["release_id"]
    assert (home.published / "manifest.json").read_bytes() == before
    assert len(complete_releases(home)) == 1


def test_a_candidate_that_fails_its_audit_changes_nothing(
    year_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = copy_home(year_home, tmp_path / "home")
    change_warehouse(home, "delete from marts.fct_ledger_lines where sla_code = 'SWA' and period = 3")
    before = {p: p.resolve() for p in (home.published / n for n in LINKS)}
    original = exports.write_parquet

    def lossy(con: object, relation: str, target: Path, doc: object = None) -> None:  # drops a row
        if target.stem == "fct_ledger_lines":
            relation = f"(select * from {relation} order by all offset 1)"
        original(con, relation, target, doc)  # type: ignore[arg-type]

    monkeypatch.setattr(exports, "write_parquet", lossy)
    with pytest.raises(AuditFailed, match=r"parquet/fct_ledger_lines.parquet holds"):
        publish(home)
    assert {p: p.resolve() for p in before} == before
    assert [p.name for p in (home.published / "releases").iterdir()] == [current_release_dir(home).name]


def _read_release(release: Path, tables: list[str]) -> None:
    """What a careful reader does: resolve the release once, then check each table against it."""
    manifest = json.loads((release / "manifest.json").read_text())
    con = duckdb.connect()
    for table in tables:
        got = canonical_checksum(con, f"read_parquet('{release / 'parquet' / (table + '.parquet')}')")
        assert got == (manifest["tables"][table]["rows"], manifest["tables"][table]["checksum"]), table
    con.close()


def test_a_concurrent_reader_only_ever_sees_complete_releases(year_home: Path, tmp_path: Path) -> None:
    home = copy_home(year_home, tmp_path / "home")
    tables = ["fct_ledger_lines", "mart_service_line_budget_outturn", "mart_return_status"]
    first = current_manifest(home)
    assert first is not None
    counts: set[int] = {first["tables"]["fct_ledger_lines"]["rows"]}
    stop = threading.Event()
    seen: set[str] = set()
    errors: list[BaseException] = []

    def reader() -> None:
        con = duckdb.connect()
        while not stop.is_set():
            try:
                release = (home.published / "current").resolve()
                _read_release(release, tables)
                seen.add(release.name)
                # The contract path, read directly: always a whole file of some release.
                (n,) = con.execute(
                    f"select count(*) from read_parquet('{home.parquet}/fct_ledger_lines.parquet')"
                ).fetchone()
                assert n in counts, n
                database = duckdb.connect(str(home.published / "stls.duckdb"), read_only=True)
                (m,) = database.execute("select count(*) from fct_ledger_lines").fetchone()
                database.close()
                assert m in counts, m
                stop.wait(0.05)
            except BaseException as error:  # reported to the test below
                errors.append(error)
                return
        con.close()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for period in (1, 2):
            change_warehouse(
                home, f"delete from marts.fct_ledger_lines where period = {period} and sla_code = 'ASH'"
            )
            counts.add(
                duckdb.connect(str(home.warehouse), read_only=True)
                .execute("select count(*) from marts.fct_ledger_lines")
                .fetchone()[0]
            )
            publish(home)
    finally:
        stop.set()
        thread.join()
    assert not errors, errors[0]
    assert len(complete_releases(home)) == 3
    assert len(seen) >= 2  # the reader really read across swaps


def test_rollback_restores_the_previous_release_and_publish_republishes_it(
    year_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = copy_home(year_home, tmp_path / "home")
    first = current_manifest(home)
    assert first is not None
    change_warehouse(home, "delete from marts.fct_ledger_lines where sla_code = 'SWA'")
    second = publish(home)
    assert second["previous_release_id"] == first["release_id"]
    assert (
        duckdb.execute(f"select count(*) from '{home.parquet}/fct_ledger_lines.parquet'").fetchone()[0]
        == (second["tables"]["fct_ledger_lines"]["rows"])
    )
    monkeypatch.setenv("STLS_HOME", str(home.home))
    monkeypatch.delenv("STLS_POSTGRES_URL", raising=False)
    assert cli.main(["publish", "--rollback"]) == 0
    assert f"Rolled back to release {first['release_id']}" in capsys.readouterr().out
    restored = current_manifest(home)
    assert restored == json.loads(
        (home.published / "releases" / first["release_id"] / "manifest.json").read_text()
    )
    assert (
        duckdb.execute(f"select count(*) from '{home.parquet}/fct_ledger_lines.parquet'").fetchone()[0]
        == (first["tables"]["fct_ledger_lines"]["rows"])
    )
    with duckdb.connect(str(home.published / "stls.duckdb"), read_only=True) as con:
        assert (
            con.execute("select count(*) from fct_ledger_lines").fetchone()[0]
            == first["tables"]["fct_ledger_lines"]["rows"]
        )
    with pytest.raises(NothingToRollBack):
        rollback(home)
    assert cli.main(["publish"]) == 0  # the current release again, to every target
    assert (current_release_dir(home) or Path()).name == first["release_id"]
    # The rollback holds: the warehouse's newer figures are not published over it ...
    assert publish(home)["release_id"] == first["release_id"]
    # ... until an operator releases it; then the next publication publishes them.
    assert cli.main(["publish", "--release"]) == 0
    assert "Released the hold" in capsys.readouterr().out
    assert publish(home)["tables"]["fct_ledger_lines"] == second["tables"]["fct_ledger_lines"]
    assert os.readlink(home.published / "parquet") == "current/parquet"


def test_a_table_longer_than_an_excel_sheet_is_listed_but_left_to_the_other_formats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import duckdb
    from openpyxl import load_workbook

    from stls_warehouse.publish import exports

    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 2)
    con = duckdb.connect()
    con.execute("create table short as select 1 as n union all select 2")
    con.execute("create table long as select * from range(3) t(n)")
    relations = {"short": "short", "long": "long"}
    columns = {t: exports.columns_of(con, r) for t, r in relations.items()}
    target = tmp_path / "book.xlsx"
    sheets = exports.write_xlsx(con, relations, columns, target, "test")
    assert set(sheets) == {"short"}
    book = load_workbook(target, read_only=True)
    contents = [tuple(r)[:3] for r in book["Contents"].iter_rows(min_row=3, values_only=True)]
    assert ("long", "too long for Excel: use the Parquet, CSV or DuckDB file", 3) in contents
    assert sheets["short"] in book.sheetnames and book.sheetnames == ["Contents", "Data dictionary", "short"]


def test_the_checksum_counts_every_row_whatever_the_order(tmp_path: Path) -> None:
    con = duckdb.connect()
    con.execute("create table twice as select * from (values (1, 'a'), (1, 'a'), (2, 'b'), (2, 'b')) t(n, s)")
    con.execute("create table shuffled as select * from twice order by n desc")
    con.execute("create table other as select * from (values (3, 'c'), (3, 'c'), (4, 'd'), (4, 'd')) t(n, s)")
    con.execute(
        "create table skewed as select * from (values (1, 'a'), (2, 'b'), (2, 'b'), (2, 'b')) t(n, s)"
    )
    con.execute("create table once as select distinct * from twice")
    con.execute(
        "create table changed as select * from (values (1, 'a'), (1, 'a'), (2, 'b'), (2, 'B')) t(n, s)"
    )
    got = {t: canonical_checksum(con, t) for t in ("twice", "shuffled", "other", "skewed", "once", "changed")}
    assert got["twice"] == got["shuffled"]  # order does not matter
    assert got["twice"][0] == 4 and got["once"][0] == 2
    # Duplicates count: pairs never cancel out (an exclusive or would make these three equal).
    assert len({got["twice"][1], got["other"][1], got["skewed"][1], got["once"][1]}) == 4
    assert got["changed"] != got["twice"]
    assert canonical_checksum(con, "(select * from twice where false)")[0] == 0
    # The same rows read back from Parquet have the same checksum.
    con.execute(f"copy shuffled to '{tmp_path / 'rows.parquet'}' (format parquet)")
    assert canonical_checksum(con, f"read_parquet('{tmp_path / 'rows.parquet'}')") == got["twice"]
    con.close()


def test_the_workbook_audit_counts_tags_split_between_blocks(tmp_path: Path) -> None:
    from stls_warehouse.publish.audit import _count_tags

    xml = (
        b"<worksheet><sheetData>"
        + b"".join(
            b'<row r="%d"><c t="inlineStr"><is><t>x</t></is></c><c><f>A1+1</f></c></row>' % i
            for i in range(1, 41)
        )
        + b"<row><c/></row></sheetData></worksheet>"
    )
    book_path = tmp_path / "book.zip"
    with zipfile.ZipFile(book_path, "w") as book:
        book.writestr("xl/worksheets/sheet1.xml", xml)
    with zipfile.ZipFile(book_path) as book:
        for size in (1, 2, 3, 4, 5, 7, 64, 1 << 20):
            assert _count_tags(book, "xl/worksheets/sheet1.xml", size) == (40, 41), size


def test_a_release_reuses_the_files_of_unchanged_tables(year_home: Path, tmp_path: Path) -> None:
    home = copy_home(year_home, tmp_path / "home")
    first = current_manifest(home)
    first_dir = current_release_dir(home)
    assert first is not None and first_dir is not None
    change_warehouse(home, "delete from marts.fct_ledger_lines where sla_code = 'SWA' and period = 3")
    second = publish(home)
    second_dir = current_release_dir(home)
    assert second_dir is not None and second_dir != first_dir
    unchanged = {t for t in first["tables"] if t != "fct_ledger_lines"}
    assert set(second["files_reused_from"]) == unchanged
    assert set(second["files_reused_from"].values()) == {first["release_id"]}
    for table in first["tables"]:
        for name in (f"parquet/{table}.parquet", f"csv/{table}.csv"):
            same_file = os.path.samefile(first_dir / name, second_dir / name)
            assert same_file == (table in unchanged), name
            assert (second["files"][name] == first["files"][name]) == (table in unchanged), name
    # Every file of the new release holds the new figures, however it came there.
    rows = second["tables"]["fct_ledger_lines"]["rows"]
    assert rows < first["tables"]["fct_ledger_lines"]["rows"]
    with duckdb.connect(str(second_dir / "stls.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from fct_ledger_lines").fetchone()[0] == rows
        for table, entry in second["tables"].items():
            assert canonical_checksum(con, table) == (entry["rows"], entry["checksum"]), table
    csv_rows = duckdb.execute(
        "select count(*) from read_csv(?, all_varchar = true)",
        [str(second_dir / "csv" / "fct_ledger_lines.csv")],
    ).fetchone()[0]
    assert csv_rows == rows
    # The CSV and the database hold the table in the Parquet file's (sorted) order.
    parquet = str(second_dir / "parquet" / "fct_ledger_lines.parquet")
    sorted_ids = [
        r[0] for r in duckdb.execute(f"select * from read_parquet('{parquet}') order by all").fetchall()
    ]
    with duckdb.connect(str(second_dir / "stls.duckdb"), read_only=True) as con:
        assert [r[0] for r in con.execute("select * from fct_ledger_lines").fetchall()] == sorted_ids
    # A rollback to the first release still finds all its files intact.
    assert rollback(home)["release_id"] == first["release_id"]


def test_a_release_checksummed_under_an_earlier_rule_is_published_again_once(
    year_home: Path, tmp_path: Path
) -> None:
    home = copy_home(year_home, tmp_path / "home")
    release = current_release_dir(home)
    assert release is not None
    old = json.loads((release / "manifest.json").read_text())
    for entry in old["tables"].values():  # as an earlier version wrote it
        entry["checksum_rule"] = "md5 of the rows cast to text, sorted, newline-joined"
        entry["checksum"] = hashlib.md5(entry["checksum"].encode()).hexdigest()
    del old["export_layout"], old["files_reused_from"]
    for path in (release / "manifest.json", release / "parquet" / "manifest.json"):
        path.chmod(0o644)
        path.write_text(json.dumps(old, indent=1))
    again = publish(home)
    assert again["release_id"] != old["release_id"]
    assert again["previous_release_id"] == old["release_id"]
    assert again["files_reused_from"] == {}  # nothing compared across the two rules
    assert publish(home)["release_id"] == again["release_id"]  # and only once
    # The earlier release can still be rolled back to; the next publication publishes again.
    assert rollback(home)["release_id"] == old["release_id"]
    release_hold(home)
    assert publish(home)["release_id"] > again["release_id"]


def test_the_formats_read_the_sorted_parquet_back_with_the_warehouse_types(tmp_path: Path) -> None:
    con = duckdb.connect()
    con.execute(
        "create table source as select * from (values "
        "(cast(3 as hugeint), cast('{\"a\": 1}' as json), 1.50::decimal(18, 2)), "
        "(cast(1 as hugeint), cast('[2]' as json), -2.25::decimal(18, 2)), "
        "(cast(1 as hugeint), cast('[2]' as json), -2.25::decimal(18, 2))) t(n, doc, amount)"
    )
    columns = exports.columns_of(con, "source")
    exports.write_parquet(con, "source", tmp_path / "source.parquet")
    relation = exports.in_file_order(con, tmp_path / "source.parquet", columns)
    assert exports.columns_of(con, relation) == columns  # JSON and HUGEINT come back as they were
    assert canonical_checksum(con, relation) == canonical_checksum(con, "source")
    assert con.execute(f"select n from {relation}").fetchall() == [(1,), (1,), (3,)]
    exports.write_duckdb(con, {"source": relation}, tmp_path / "out.duckdb", ordered=True)
    con.execute(f"attach '{tmp_path / 'out.duckdb'}' as out (read_only)")
    assert exports.columns_of(con, "out.main.source") == columns
    assert canonical_checksum(con, "out.main.source") == canonical_checksum(con, "source")
