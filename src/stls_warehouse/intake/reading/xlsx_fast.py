"""The XLSX fast path: parts laid out as Excel writes them, checked by expat without
handlers and cut into cells by regular expressions (see the section comment below)."""

from __future__ import annotations

import operator
import re
from collections.abc import Iterator
from itertools import repeat
from typing import Any
from xml.parsers.expat import ExpatError, ParserCreate

from stls_warehouse.intake.reading.grid import (
    MAX_CELL_CHARS,
    MAX_EXCEL_COLUMN,
    MAX_EXCEL_ROW,
    column_index_of,
)
from stls_warehouse.intake.reading.xlsx_stream import Sheet, make_cell, parse_row_number
from stls_warehouse.intake.values import Cell

# --- XLSX: the fast path ----------------------------------------------------------------
#
# Streaming every element through Python handlers costs several calls per cell, which is
# most of the time spent reading a large workbook. Parts laid out the way Excel and the
# common libraries write them (one <c> element per cell with r, s and t attributes and a
# plain <v> or inline <t>; shared strings as plain <si><t>) are instead checked for
# well-formedness by expat with no handlers at all, then cut into cells by one regular
# expression, in C. Every cell still goes through `make_cell`, and anything the expression
# does not account for byte for byte (a formula, rich text, a comment, a DTD, another
# encoding, an element with a prefix, whitespace inside a cell) sends the whole part to the
# streaming reader, which then reads it exactly as before.

FAST_PART_BYTES = 64 * 1024 * 1024  # larger parts stream, so memory follows the table
_XML_DECLARATION = re.compile(rb"^(?:\xef\xbb\xbf)?<\?xml\s[^>]*?\?>")
_XML_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_ROW_R = re.compile(r'(?:^|\s)r="([^"]*)"')
# One token of a <sheetData> body; the first group is the whole token, so that the tokens'
# lengths show whether they cover the body without a gap.
_SHEET_TOKEN = re.compile(
    rb"""(\s*(?:
        (<row)((?:\s+[\w:.-]+="[^"<&]*")*)\s*(/?)>
      | </row>
      | <c\ r="([A-Z]{1,3})([1-9][0-9]{0,6})"(?:\ s="([0-9]{1,6})")?(?:\ t="([a-zA-Z]{1,9})")?\s*
        (?:/>|>(?:<v>([^<]*)</v>|<v/>|<is><t(?:\ xml:space="preserve")?>([^<]*)</t></is>)?</c>)
    ))""",
    re.VERBOSE,
)
# The same cells, a whole row at a time, in the layout every writer uses: a <row> whose r
# is its first attribute, holding cells whose references all name that row (the
# backreference). Its groups: the whole token, the row's digits, its other attributes and
# its cells' bytes.
_CELL_BODY = rb"""(?:\ s="[0-9]{1,6}")?(?:\ t="[a-zA-Z]{1,9}")?\s*
    (?:/>|>(?:<v>[^<]*</v>|<v/>|<is><t(?:\ xml:space="preserve")?>[^<]*</t></is>)?</c>)"""
_ROW_TOKEN = re.compile(
    rb'(\s*<row\ r="([1-9][0-9]{0,6})"((?:\s+[\w:.-]+="[^"<&]*")*)\s*'
    rb'(?:/>|>((?:\s*<c\ r="[A-Z]{1,3}\2"' + _CELL_BODY + rb")*)\s*</row>))",
    re.VERBOSE,
)
# Splits the cells of a row matched by _ROW_TOKEN (text there holds no "<") into its
# leading space, then each cell's column letters and the rest of its element (with any
# space after it).
_ROW_CELL = re.compile(rb'<c r="([A-Z]{1,3})[0-9]+"')
# The parts of that rest: style, type, <v> text, inline text.
_CELL_PARTS = re.compile(
    rb"""(?:\ s="([0-9]{1,6})")?(?:\ t="([a-zA-Z]{1,9})")?\s*
    (?:/>|>(?:<v>([^<]*)</v>|<v/>|<is><t(?:\ xml:space="preserve")?>([^<]*)</t></is>)?</c>)\s*""",
    re.VERBOSE,
)
_SHARED_TOKEN = re.compile(rb"""\s*<si>(?:<t(?:\ xml:space="preserve")?>([^<]*)</t>|<t/>)</si>""", re.VERBOSE)
_MERGE_TOKEN = re.compile(rb'<mergeCell ref="([A-Z0-9:]*)"\s*/>')
# Elements the streaming reader acts on outside <sheetData>, with or without a prefix.
_SHEET_ELEMENTS = re.compile(rb"<(?:[\w.-]+:)?(?:c|row|mergeCell)[\s/>]")
_ANY_MERGE = re.compile(rb"<(?:[\w.-]+:)?mergeCell[\s/>]")
_ENTITY = re.compile(r"&(#x[0-9a-fA-F]+|#[0-9]+|lt|gt|amp|quot|apos);")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}


def _plain_utf8_xml(data: bytes) -> bool:
    """UTF-8 (declared or by default), no DTD, and well-formed: checked by expat in C with
    no handler, so nothing is expanded and nothing is called per element."""
    return _plain_utf8(data) and _well_formed(data)


def _plain_utf8(data: bytes) -> bool:
    """UTF-8 (declared or by default) and no DTD."""
    if not data.startswith((b"<", b"\xef\xbb\xbf<")) or b"<!DOCTYPE" in data:
        return False
    declaration = _XML_DECLARATION.match(data)
    if declaration:
        encoding = _XML_ENCODING.search(declaration.group(0))
        if encoding and encoding.group(1).lower() not in (b"utf-8", b"utf8"):
            return False
    return True


def _well_formed(data: bytes) -> bool:
    parser = ParserCreate()
    try:
        parser.Parse(data, True)
    except ExpatError:
        return False
    return True


def _xml_text(raw: bytes) -> str | None:
    """Character data as expat reports it; None where the fast path would differ (a CR)."""
    if b"\r" in raw:
        return None  # expat folds line breaks; leave that to it
    text = raw.decode("utf-8")
    if "&" in text:
        text = _ENTITY.sub(_entity, text)
    return text


def _entity(match: re.Match[str]) -> str:
    name = match.group(1)
    if name[0] != "#":
        return _NAMED[name]
    return chr(int(name[2:], 16) if name[1] in "xX" else int(name[1:]))


def _covers(pattern: re.Pattern[bytes], body: bytes) -> bool:
    """Whether `body` is nothing but `pattern`'s tokens (and whitespace between them)."""
    return not pattern.sub(b"", body).strip(b" \t\r\n")


def fast_shared_strings(data: bytes) -> list[str] | None:
    if not _plain_utf8_xml(data):
        return None
    start, end = data.find(b">", data.find(b"<sst")) + 1, data.rfind(b"</sst>")
    if data.count(b"<sst") != 1 or not 0 < start <= end or data[start - 2 : start] == b"/>":
        return None
    body = data[start:end]
    if not _covers(_SHARED_TOKEN, body):
        return None
    strings: list[str] = []
    for raw in _SHARED_TOKEN.findall(body):
        if len(raw) > MAX_CELL_CHARS * 2:
            return None  # the streaming reader reports it
        text = _xml_text(raw)
        if text is None:
            return None
        strings.append(text)
    return strings


# Bytes no XML text may hold (C0 controls but tab, LF and CR) and "&", which starts a
# reference: their absence, with the row layout, makes a body well-formed.
_NOT_IN_PLAIN_TEXT = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), ord("&")])
_PLAIN_TEXT_BYTES = bytes(b for b in range(256) if b not in _NOT_IN_PLAIN_TEXT)


def _plain_body(body: bytes) -> bool:
    """Whether the body's text can hold nothing expat refuses, whatever its markup: no
    reference, no "]]>", no character XML does not allow, nothing that is not UTF-8."""
    if body.translate(None, _PLAIN_TEXT_BYTES) or b"]]>" in body:
        return False
    if body.isascii():
        return True
    if b"\xef\xbf\xbe" in body or b"\xef\xbf\xbf" in body:  # U+FFFE, U+FFFF
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def fast_sheet(data: bytes, sheet: Sheet) -> bool:
    """Fill `sheet` from a part in the common layout; False (sheet untouched) otherwise.

    The part must be well-formed, as expat says. When its <sheetData> body is in the row
    layout with plain text (`_plain_body`), the body's well-formedness follows from that
    layout, so expat checks the part without it, in a fraction of the time; any other
    body is checked by expat with the rest. A comment, CDATA section or processing
    instruction could hide a "<sheetData" that is not an element, so a part holding any
    is left to the streaming reader."""
    if not _plain_utf8(data) or b"<!--" in data or b"<![CDATA[" in data:
        return False
    declaration = _XML_DECLARATION.match(data)
    if data.find(b"<?", declaration.end() if declaration else 0) >= 0:
        return False
    opening = data.count(b"<sheetData")
    if opening > 1:
        return False
    body = (0, 0)  # where the <sheetData> body lies in `data`
    outside = data
    if opening:
        at = data.find(b"<sheetData")
        close = data.find(b">", at)
        if data[at : close + 1] == b"<sheetData/>":
            outside = data[:at] + data[close + 1 :]
        elif data[at : close + 1] == b"<sheetData>" and data.count(b"</sheetData>") == 1:
            end = data.find(b"</sheetData>")
            body = (close + 1, end)
            outside = data[:at] + data[end + len(b"</sheetData>") :]
        else:
            return False
    merges = _MERGE_TOKEN.findall(outside)
    if len(_ANY_MERGE.findall(outside)) != len(merges):
        return False
    if len(_SHEET_ELEMENTS.findall(outside)) != len(merges):
        return False
    rows = None
    if body[0] < body[1] and _plain_body(data[body[0] : body[1]]):
        if not _well_formed(data[: body[0]] + data[body[1] :]):
            return False
        try:
            rows = _cells_by_rows(data, *body, sheet)
        except _NotByRows:
            rows = None
    if rows is None:
        if not _well_formed(data):
            return False
        rows = _cells_by_tokens(data, *body, sheet)
        if rows is None:
            return False
    sheet.rows = rows
    for ref in merges:
        sheet._merge(ref.decode("ascii"))
    return True


_UNSET = object()
_FAST_CHUNK = 1 << 20
_WHOLE_TOKEN = operator.itemgetter(0)


def _body_chunks(
    data: bytes, start: int, end: int, pattern: re.Pattern[bytes] = _SHEET_TOKEN
) -> Iterator[list[tuple[bytes, ...]]]:
    """The body's tokens, about a megabyte of XML at a time (cut after a </row>, which can
    only be an end tag: text and attribute values here hold no "<"), so that the token
    lists stay small whatever the sheet's size. Stops at the first chunk with a gap."""
    while start < end:
        cut = data.find(b"</row>", min(start + _FAST_CHUNK, end), end)
        cut = end if cut < 0 else cut + len(b"</row>")
        chunk = data[start:cut]
        tokens = pattern.findall(chunk)
        # Tokens end with ">" and are never whitespace, so equal lengths mean no gap.
        if sum(map(len, map(_WHOLE_TOKEN, tokens))) != len(chunk.rstrip(b" \t\r\n")):
            yield []
            return
        yield tokens
        start = cut


class _NotByRows(Exception):
    """The body is not in the row layout `_ROW_TOKEN` knows: read it cell by cell instead."""


def _cells_by_rows(data: bytes, start: int, end: int, sheet: Sheet) -> dict[int, dict[int, Cell]]:
    """`_cells_by_tokens` for a body in the row layout, a row at a time, with C-level
    lookups: a cell (its bytes after the reference) met before is not converted again, and
    only the others are, in document order, so that the first bad cell is the one named.
    Raises _NotByRows wherever that reader would decide something this one does not (a gap
    in the layout, a row or column beyond Excel's grid, a cell the streaming reader must
    read), so that it then reads the whole body."""
    rows: dict[int, dict[int, Cell]] = {}
    converted: dict[bytes, Cell | None] = {}  # by the cell's bytes after its reference
    columns: dict[bytes, int] = {}
    attributes = {b""}  # a row's other attributes, once expat has found them well-formed
    for tokens in _body_chunks(data, start, end, _ROW_TOKEN):
        if not tokens:
            raise _NotByRows
        for _, digits, others, body in tokens:
            if others not in attributes:  # names that are not XML names, or given twice
                if not _well_formed(b'<row r="1"' + others + b"/>"):
                    raise _NotByRows
                attributes.add(others)
            if not body:
                continue  # no cells: its number is of no use (every cell names its row)
            number = int(digits)
            if number > MAX_EXCEL_ROW:
                raise _NotByRows
            parts = _ROW_CELL.split(body)
            letters, rests = parts[1::2], parts[2::2]
            indexes: list[Any] = list(map(columns.get, letters))
            if None in indexes:  # a column not met before: check each cell in order
                cells = _row_cells(letters, rests, number, converted, columns, sheet)
            else:
                values: list[Any] = list(map(converted.get, rests, repeat(_UNSET)))
                at = 0
                for _ in range(values.count(_UNSET)):  # cells not met before, in order
                    at = values.index(_UNSET, at)
                    values[at] = _row_cell(rests[at], indexes[at], number, converted, sheet)
                if None in values:  # an empty cell: it does not replace an earlier one
                    cells = {c: v for c, v in zip(indexes, values, strict=True) if v is not None}
                else:
                    cells = dict(zip(indexes, values, strict=True))
            if cells:
                known = rows.get(number)
                if known is None:
                    rows[number] = cells
                else:
                    known.update(cells)
    return rows


def _row_cells(
    letters: list[bytes],
    rests: list[bytes],
    row: int,
    converted: dict[bytes, Cell | None],
    columns: dict[bytes, int],
    sheet: Sheet,
) -> dict[int, Cell]:
    """One row's cells in document order: each column checked, then its cell converted."""
    cells: dict[int, Cell] = {}
    for letter, rest in zip(letters, rests, strict=True):
        column = columns.get(letter)
        if column is None:
            column = column_index_of(letter.decode("ascii"))
            if column >= MAX_EXCEL_COLUMN:
                raise _NotByRows
            columns[letter] = column
        cell = converted.get(rest, _UNSET)
        if cell is _UNSET:
            cell = _row_cell(rest, column, row, converted, sheet)
        if cell is not None:
            cells[column] = cell  # type: ignore[assignment]
    return cells


def _row_cell(
    rest: bytes, column: int, row: int, converted: dict[bytes, Cell | None], sheet: Sheet
) -> Cell | None:
    """Convert (and remember) a cell from its bytes after the reference."""
    parts = _CELL_PARTS.fullmatch(rest)
    if parts is None:
        raise _NotByRows
    style, kind, value, inline = (group or b"" for group in parts.groups())
    cell = _fast_cell(kind, style, value, inline, sheet, column, row)
    if cell is _UNSET:
        raise _NotByRows
    converted[rest] = cell
    return cell  # type: ignore[no-any-return]


def _cells_by_tokens(data: bytes, start: int, end: int, sheet: Sheet) -> dict[int, dict[int, Cell]] | None:
    """The cells of the body, one token (a row tag or a cell) at a time; None when the body
    holds anything but the tokens `_SHEET_TOKEN` knows.

    Cells with the same type, style and text give the same Cell, so each distinct one is
    converted once (a posting date, an account code or a shared string recurs on many rows).
    """
    rows: dict[int, dict[int, Cell]] = {}
    converted: dict[tuple[bytes, bytes, bytes, bytes], Cell | None] = {}
    columns: dict[bytes, int] = {}
    row_number = 0
    row_digits = b""  # the digits row_number was read from ("" after a <row> element)
    row_cells: dict[int, Cell] | None = None  # rows[row_number], once it exists
    for tokens in _body_chunks(data, start, end):
        if not tokens:
            return None
        for _, row_tag, row_attrs, _, letters, digits, style, kind, value, inline in tokens:
            if letters:
                if digits != row_digits:
                    row_number, row_digits, row_cells = int(digits), digits, None
                    if row_number > MAX_EXCEL_ROW:
                        return None  # the streaming reader names it
                column = columns.get(letters)
                if column is None:
                    column = columns[letters] = column_index_of(letters.decode("ascii"))
                    if column >= MAX_EXCEL_COLUMN:
                        return None
                key = (kind, style, value, inline)
                cell = converted.get(key, _UNSET)
                if cell is _UNSET:
                    cell = _fast_cell(kind, style, value, inline, sheet, column, row_number)
                    if cell is _UNSET:
                        return None
                    converted[key] = cell
                if cell is not None:
                    if row_cells is None:
                        row_cells = rows.get(row_number)
                        if row_cells is None:
                            row_cells = rows[row_number] = {}
                    row_cells[column] = cell  # type: ignore[assignment]
            elif row_tag:
                explicit = _ROW_R.search(row_attrs.decode("utf-8")) if row_attrs else None
                if explicit and explicit.group(1):
                    row_number = parse_row_number(explicit.group(1))
                else:
                    row_number += 1
                row_digits, row_cells = b"", None
    return rows


def _fast_cell(
    kind: bytes, style: bytes, value: bytes, inline: bytes, sheet: Sheet, column: int, row: int
) -> Any:
    """`make_cell` for one token; _UNSET when the streaming reader must decide."""
    if len(value) > MAX_CELL_CHARS * 2 or len(inline) > MAX_CELL_CHARS * 2:
        return _UNSET
    raw, text = _xml_text(value), _xml_text(inline)
    if raw is None or text is None:
        return _UNSET
    kind_text = kind.decode("ascii") or "n"
    # A missing <v> and an empty one read alike here (see make_cell), so "" stands for both.
    return make_cell(
        kind_text,
        int(style) if style else 0,
        raw,
        text if kind_text == "inlineStr" else None,
        False,
        sheet,
        column,
        row,
    )
