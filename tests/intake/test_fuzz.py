"""Fuzzing: whatever bytes arrive, checking a return ends in the project's own outcome.

`check_return` (the unguarded core, so that a bug cannot hide behind the sandbox's safety
net) must return a ValidationResult whose problems all carry a contract code; no exception
may escape. Inputs: raw bytes, and valid CSV and XLSX returns mutated at the byte level and
inside their XML.
"""

from __future__ import annotations

import io
import os
import zipfile
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stls_warehouse.intake.problems import Code
from stls_warehouse.intake.validate import ValidationResult, check_return, validate_return
from tests.factories import csv_bytes, kpi_rows, ledger_rows, xlsx_bytes
from tests.intake.hostile import rezip

CODES = {c.value for c in Code}
NAMES = [
    "LEDGER_SWA_2021-22_P07.csv",
    "LEDGER_SWA_2021-22_P07.xlsx",
    "KPI_THA_2022-10.csv",
    "KPI_THA_2022-10.xlsx",
]
# STLS_FUZZ_EXAMPLES=5000 for a long run; the default keeps the suite quick.
FUZZ = settings(
    max_examples=int(os.environ.get("STLS_FUZZ_EXAMPLES", "120")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)
NASTY = [
    b",",
    b'"',
    b"\r",
    b"\n",
    b"\x00",
    b"\xff",
    b"\xc2\xa0",
    "£".encode(),
    b"(",
    b"-",
    b"=",
    b"#REF!",
    b"1e999",
    b"NaN",
]
XML_NASTY = [
    b"<",
    b">",
    b'"',
    b"&",
    b"&amp;",
    b"<!--",
    b"]]>",
    b'r="A0"',
    b'r="XFD99999999"',
    b't="e"',
    b't="d"',
    b't="s"',
    b's="999"',
    b"<v>NaN</v>",
    b"<v>1e999</v>",
    b"<v>-0</v>",
    b"<v></v>",
    b"<f>1</f>",
    b'<mergeCell ref="A1:C3"/>',
    b'<row r="0">',
    b"\x00",
    b"\xff",
]


def _check(name: str, data: bytes) -> ValidationResult:
    result = check_return(name, data)
    assert isinstance(result, ValidationResult)
    assert {p.code for p in result.errors + result.warnings} <= CODES
    assert result.accepted == (not result.errors)
    return result


def _mutate(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    out = bytearray(data)
    for where, cut, insert in edits:
        at = where % (len(out) + 1)
        out[at : at + cut] = insert
    return bytes(out)


EDITS = st.lists(
    st.tuples(
        st.integers(0, 1 << 20), st.integers(0, 8), st.one_of(st.sampled_from(NASTY), st.binary(max_size=4))
    ),
    min_size=1,
    max_size=6,
)


@FUZZ
@given(st.sampled_from(NAMES), st.binary(max_size=3000))
def test_raw_bytes(name: str, data: bytes) -> None:
    _check(name, data)


@FUZZ
@given(st.sampled_from(NAMES), st.binary(max_size=200))
def test_raw_bytes_behind_a_zip_or_ole_signature(name: str, tail: bytes) -> None:
    for head in (b"PK\x03\x04", b"PK\x05\x06", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"\xef\xbb\xbf"):
        _check(name, head + tail)


LEDGER_CSV = csv_bytes(ledger_rows(n=4))
KPI_CSV = csv_bytes(kpi_rows())


@FUZZ
@given(st.booleans(), EDITS)
def test_mutated_csv_returns(ledger: bool, edits: list[tuple[int, int, bytes]]) -> None:
    name = NAMES[0] if ledger else NAMES[2]
    _check(name, _mutate(LEDGER_CSV if ledger else KPI_CSV, edits))


def _typed_rows() -> list[dict[str, object]]:
    rows = ledger_rows(n=3)
    for row in rows:
        row["amount"] = Decimal(str(row["amount"]))
        row["period"] = 7
    return rows


LEDGER_XLSX = xlsx_bytes(_typed_rows(), control={"control_total": Decimal("3006.75"), "line_count": 3})


@FUZZ
@given(EDITS)
def test_mutated_xlsx_bytes(edits: list[tuple[int, int, bytes]]) -> None:
    _check(NAMES[1], _mutate(LEDGER_XLSX, edits))


PARTS = [
    "xl/worksheets/sheet1.xml",
    "xl/worksheets/sheet2.xml",
    "xl/sharedStrings.xml",
    "xl/styles.xml",
    "xl/workbook.xml",
    "xl/_rels/workbook.xml.rels",
    "[Content_Types].xml",
]


@FUZZ
@given(
    st.sampled_from(PARTS),
    st.lists(
        st.tuples(
            st.integers(0, 1 << 16),
            st.integers(0, 12),
            st.one_of(st.sampled_from(XML_NASTY), st.binary(max_size=6)),
        ),
        min_size=1,
        max_size=5,
    ),
)
def test_mutated_xlsx_xml(part: str, edits: list[tuple[int, int, bytes]]) -> None:
    with zipfile.ZipFile(io.BytesIO(LEDGER_XLSX)) as archive:
        present = part in archive.namelist()
    if not present:
        return
    _check(NAMES[1], rezip(LEDGER_XLSX, edit={part: lambda body: _mutate(body, edits)}))


def test_the_guarded_entry_point_gives_the_same_outcome() -> None:
    for name in NAMES:
        assert validate_return(name, b"\x00garbage").errors == check_return(name, b"\x00garbage").errors


CELL_VALUES = st.one_of(
    st.sampled_from(
        [
            "",
            "0",
            "-0",
            "1e3",
            "1E-300",
            "44474.5",
            "-1",
            "9" * 25,
            "1.005",
            "#REF!",
            "TRUE",
            "abc",
            "2021-13-45",
        ]
    ),
    st.text(alphabet="0123456789.-eE+", max_size=12),
)
CELL_TYPES = st.sampled_from(
    ["", ' t="n"', ' t="s"', ' t="str"', ' t="b"', ' t="e"', ' t="d"', ' t="inlineStr"']
)
CELL_STYLES = st.sampled_from(["", ' s="0"', ' s="1"', ' s="2"', ' s="99"'])


@FUZZ
@given(
    st.lists(
        st.tuples(st.integers(0, 60), CELL_TYPES, CELL_STYLES, CELL_VALUES, st.booleans()),
        min_size=1,
        max_size=8,
    )
)
def test_xlsx_cells_rewritten_with_odd_types_and_values(
    changes: list[tuple[int, str, str, str, bool]],
) -> None:
    import re

    def edit(body: bytes) -> bytes:
        cells = list(re.finditer(rb"<c [^>]*?(?:/>|>.*?</c>)", body))
        out = body
        for index, kind, style, value, formula in changes:
            match = cells[index % len(cells)]
            ref = re.search(rb'r="([A-Z]+\d+)"', match.group(0))
            assert ref is not None
            inner = (b"<f>A1</f>" if formula else b"") + f"<v>{value}</v>".encode()
            new = f'<c r="{ref.group(1).decode()}"{kind}{style}>'.encode() + inner + b"</c>"
            out = out.replace(match.group(0), new, 1)
        return out

    _check(NAMES[1], rezip(LEDGER_XLSX, edit={"xl/worksheets/sheet1.xml": edit}))
