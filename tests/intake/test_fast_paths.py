"""The XLSX reader's three ways of reading a worksheet give the same answer.

A sheet is read a row at a time when its body is in the row layout every writer uses
(`_cells_by_rows`, whose well-formedness check skips expat on the body), else a token at a
time (`_cells_by_tokens`, after expat has checked the whole part), else by the streaming
reader. Each faster way must give exactly what the slower ones give: the same cells in the
same order, the same merged ranges, or the same refusal with the same message. Compared on
every workbook of the error corpus, on workbooks written by openpyxl and xlsxwriter, on
hand-made layouts at the edges of the row layout, and on sheets mutated at random.
"""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stls_warehouse.intake import reader
from stls_warehouse.intake.problems import ReturnUnreadable
from stls_warehouse.intake.reading import xlsx, xlsx_fast
from tests.factories import ledger_rows, xlsx_bytes
from tests.intake.corpus import corpus
from tests.intake.hostile import SHEET_HEAD, SHEET_TAIL, rezip
from tests.intake.test_fuzz import FUZZ

WANTED = {"ledger", "kpi", "control"}
SHEET = "xl/worksheets/sheet1.xml"
HEADER = b'<row r="1"><c r="A1" t="inlineStr"><is><t>sla_code</t></is></c></row>'


def _read(data: bytes, how: str) -> tuple[Any, ...]:
    """What open_xlsx gives when sheets are read `how`: rows, tokens or streaming."""
    with pytest.MonkeyPatch.context() as patch:
        if how == "streaming":
            patch.setattr(xlsx, "fast_sheet", lambda data, sheet: False)
        elif how == "tokens":
            patch.setattr(xlsx_fast, "_plain_body", lambda body: False)
        try:
            book = reader.open_xlsx(data, WANTED)
        except ReturnUnreadable as exc:
            return ("unreadable", exc.problem.code, exc.problem.message)
    return (
        "read",
        [
            (name, [(n, list(cells.items())) for n, cells in grid.rows.items()], grid.merged, grid.hidden)
            for name, grid in book.sheets.items()
        ],
    )


def _same_three_ways(data: bytes) -> tuple[Any, ...]:
    streamed = _read(data, "streaming")
    assert _read(data, "tokens") == streamed
    assert _read(data, "rows") == streamed
    return streamed


def _by_rows_count(data: bytes) -> int:
    """How many sheets were read to the end by `_cells_by_rows`."""
    done = []
    original = xlsx_fast._cells_by_rows

    def spy(*args: Any) -> Any:
        rows = original(*args)
        done.append(rows)
        return rows

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(xlsx_fast, "_cells_by_rows", spy)
        reader.open_xlsx(data, WANTED)
    return len(done)


def _typed(n: int) -> list[dict[str, Any]]:
    rows = ledger_rows(n=n)
    for number, row in enumerate(rows):
        row["line_ref"] = f"R{number:05d}"
        row["period"] = 7
        row["posting_date"] = date(2021, 10, 1 + number % 28)
        row["amount"] = Decimal(row["amount"]) / 7 if number % 3 else None
        row["is_overhead_recharge"] = number % 2 == 0
        row["description"] = ["  padded  ", "", "a & b < c", "x\u00a0", "é\u4e2d\U0001f600"][number % 5]
    return rows


def _xlsxwriter_book() -> bytes:
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("Ledger")
    dated = book.add_format({"num_format": "dd/mm/yyyy"})
    styled = book.add_format({"bold": True})
    for column, name in enumerate(["sla_code", "line_ref", "posting_date", "amount", "flag", "blank"]):
        sheet.write_string(0, column, name)
    for row in range(1, 300):
        sheet.write_string(row, 0, "SWA")
        sheet.write_string(row, 1, f"L{row}" if row % 50 else " ")
        sheet.write_datetime(row, 2, date(2021, 10, 1 + row % 28), dated)
        sheet.write_number(row, 3, row / 8)
        sheet.write_boolean(row, 4, row % 2 == 0)
        sheet.write_blank(row, 5, None, styled)
    sheet.merge_range("G2:H3", "merged", styled)
    sheet.write_formula(5, 8, "=1/0", None, "#DIV/0!")
    book.add_worksheet("Control").write_string(0, 0, "line_count")
    book.close()
    return buffer.getvalue()


def test_the_row_layout_is_read_a_row_at_a_time_and_gives_what_the_others_give() -> None:
    for data in (xlsx_bytes(_typed(400), control={"line_count": 400}), _xlsxwriter_book()):
        assert _same_three_ways(data)[0] == "read"
        assert _by_rows_count(data) >= 1


@pytest.mark.parametrize("bad", [b for b in corpus() if b.name.endswith(".xlsx")], ids=lambda b: b.id)
def test_every_corpus_workbook_reads_alike_three_ways(bad: Any) -> None:
    _same_three_ways(bad.data)


X14AC = b'xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac"'


def _sheet(body: bytes) -> bytes:
    head = SHEET_HEAD.replace(b"<worksheet ", b"<worksheet " + X14AC + b" ")
    return rezip(xlsx_bytes(ledger_rows(n=1)), edit={SHEET: lambda _: head + body + SHEET_TAIL})


EDGES = {
    "row repeated": HEADER
    + b'<row r="2"><c r="A2"><v>1</v></c></row><row r="2"><c r="B2"><v>2</v></c></row>',
    "column repeated, then empty": HEADER + b'<row r="2"><c r="A2"><v>1</v></c><c r="A2"/></row>',
    "column repeated": HEADER + b'<row r="2"><c r="A2"><v>1</v></c><c r="A2"><v>3</v></c></row>',
    "cell naming another row": HEADER + b'<row r="2"><c r="A3"><v>1</v></c></row>',
    "row without r": HEADER + b'<row><c r="A2"><v>1</v></c></row>',
    "row r not first": HEADER + b'<row spans="1:2" r="2"><c r="A2"><v>1</v></c></row>',
    "row attributes": HEADER + b'<row r="2" spans="1:2" x14ac:dyDescent="0.25"><c r="A2"><v>1</v></c></row>',
    "row attribute twice": HEADER + b'<row r="2" ht="1" ht="2"><c r="A2"><v>1</v></c></row>',
    "row attribute not a name": HEADER + b'<row r="2" -x="1"><c r="A2"><v>1</v></c></row>',
    "empty rows": HEADER + b'<row r="2"/><row r="3"></row><row r="4"><c r="A4"/></row>',
    "spaces between": HEADER + b'\n <row r="2">\n  <c r="A2"><v>1</v></c>\t<c r="B2"/>\n </row>\n',
    "entity": HEADER + b'<row r="2"><c r="A2" t="inlineStr"><is><t>a &amp; b</t></is></c></row>',
    "bare ampersand": HEADER + b'<row r="2"><c r="A2" t="inlineStr"><is><t>a & b</t></is></c></row>',
    "cdata end": HEADER + b'<row r="2"><c r="A2" t="inlineStr"><is><t>a ]]> b</t></is></c></row>',
    "control character": HEADER + b'<row r="2"><c r="A2" t="inlineStr"><is><t>a\x01b</t></is></c></row>',
    "vertical tab between": HEADER + b'<row r="2">\x0b<c r="A2"><v>1</v></c></row>',
    "carriage return": HEADER + b'<row r="2"><c r="A2" t="inlineStr"><is><t>a\r\nb</t></is></c></row>',
    "U+FFFE": HEADER + b'<row r="2"><c r="A2" t="inlineStr"><is><t>a\xef\xbf\xbe</t></is></c></row>',
    "U+FFFD": HEADER + b'<row r="2"><c r="A2" t="inlineStr"><is><t>a\xef\xbf\xbd</t></is></c></row>',
    "not UTF-8": HEADER + b'<row r="2"><c r="A2" t="inlineStr"><is><t>a\xff</t></is></c></row>',
    "row beyond the grid": HEADER + b'<row r="1048577"><c r="A1048577"><v>1</v></c></row>',
    "column beyond the grid": HEADER + b'<row r="2"><c r="XFE2"><v>1</v></c></row>',
    "bad number, then bad column": HEADER
    + b'<row r="2"><c r="A2"><v>x</v></c><c r="XFE2"><v>1</v></c></row>',
    "bad column, then bad number": HEADER
    + b'<row r="2"><c r="XFE2"><v>1</v></c><c r="A2"><v>x</v></c></row>',
    "missing shared string": HEADER + b'<row r="2"><c r="A2" t="s"><v>99</v></c></row>',
    "error and formula": HEADER + b'<row r="2"><c r="A2" t="e"><v>#REF!</v></c><c r="B2"><f>1</f></c></row>',
    "unclosed row": HEADER + b'<row r="2"><c r="A2"><v>1</v></c>',
    "stray end tag": HEADER + b'<row r="2"><c r="A2"><v>1</v></c></row></row>',
    "comment": HEADER + b'<!-- a note --><row r="2"><c r="A2"><v>1</v></c></row>',
    "processing instruction": HEADER + b'<?note x?><row r="2"><c r="A2"><v>1</v></c></row>',
}


@pytest.mark.parametrize("body", EDGES.values(), ids=EDGES.keys())
def test_layouts_at_the_edge_of_the_row_layout_read_alike_three_ways(body: bytes) -> None:
    _same_three_ways(_sheet(body))


def test_sheet_data_inside_a_comment_is_not_read() -> None:
    head = SHEET_HEAD.replace(b"<sheetData>", b"")
    sheet = head + b"<!--<sheetData>" + HEADER + b"</sheetData>--></worksheet>"
    data = rezip(xlsx_bytes(ledger_rows(n=1)), edit={SHEET: lambda _: sheet})
    assert _same_three_ways(data)[1][0][1] == []


BASE = xlsx_bytes(_typed(12), control={"line_count": 12})
PIECES = [
    b"<",
    b">",
    b"&",
    b"&amp;",
    b"]]>",
    b"\x00",
    b"\x0b",
    b"\r",
    b"\xff",
    b"\xef\xbf\xbe",
    b'"',
    b" ",
    b"/>",
    b"</row>",
    b'<row r="3">',
    b'<c r="A3">',
    b"<v>1</v>",
    b'<c r="B99"/>',
    b' ht="2"',
    b"<!--x-->",
]


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.integers(0, 1 << 16),
            st.integers(0, 10),
            st.one_of(st.sampled_from(PIECES), st.binary(max_size=4)),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_mutated_sheets_read_alike_three_ways(edits: list[tuple[int, int, bytes]]) -> None:
    def mutate(body: bytes) -> bytes:
        start = body.find(b"<sheetData>") + len(b"<sheetData>")
        out = bytearray(body)
        for where, cut, insert in edits:
            at = start + where % (body.find(b"</sheetData>") - start)
            out[at : at + cut] = insert
        return bytes(out)

    _same_three_ways(rezip(BASE, edit={SHEET: mutate}))
