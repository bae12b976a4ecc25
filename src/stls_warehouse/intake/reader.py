"""Reading a return's bytes into a table of cells, safely.

The file's type is decided from its bytes, never its name. Every cell is read as text or as
a typed XLSX cell and converted later by the project's own parsers: no NA guessing, no
dialect sniffing, no positional mapping.

XLSX is read straight from its XML parts, so error cells, formulas without cached values
and merged ranges are seen as what they are. The zip entries are inflated here, not by
`zipfile`, so that no declared size is trusted: every inflated byte is counted against the
contract's 200 MB, and a part that inflates past the size it declares is read on only to
count (nothing kept) until it ends or passes the limit. XML is parsed by defusedxml's
parser (DTD entities refused) feeding small streaming targets that keep only the cells, so
memory follows the table, not the XML. Sheets and shared strings laid out as Excel and the
common libraries write them (no DTD, UTF-8, plain cells) take a fast path instead: expat
checks them with no handlers, a regular expression cuts them into cells, and each cell goes
through the same conversion; anything else, or a part over 64 MB, is streamed as above.
"""

from __future__ import annotations

import csv
import io
import operator
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import repeat
from typing import Any
from xml.etree.ElementTree import ParseError
from xml.parsers.expat import ExpatError, ParserCreate

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from stls_warehouse.intake.problems import Code, ReturnUnreadable
from stls_warehouse.intake.values import Cell, excel_serial_to_date

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_XLSX_INFLATED_BYTES = 200 * 1024 * 1024
MAX_ZIP_ENTRIES = 5000  # a workbook has tens of parts; more is not a workbook
MAX_CELL_CHARS = 32767  # Excel's own limit for one cell's text
MAX_EXCEL_ROW = 1_048_576
MAX_EXCEL_COLUMN = 16_384
TRIM = " \t\u00a0"

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"
VBA_CONTENT_TYPE = "application/vnd.ms-office.vbaproject"
ERROR_VALUES = frozenset(
    {
        "#REF!",
        "#DIV/0!",
        "#N/A",
        "#VALUE!",
        "#NAME?",
        "#NUM!",
        "#NULL!",
        "#SPILL!",
        "#CALC!",
        "#GETTING_DATA",
    }
)
# Built-in number formats that Excel shows as dates or times.
_DATE_FORMAT_IDS = frozenset(
    {14, 15, 16, 17, 18, 19, 20, 21, 22, *range(27, 37), *range(45, 48), *range(50, 59)}
)
_FORMAT_LITERALS = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.')
_CELL_REF = re.compile(r"^([A-Z]{1,3})([1-9]\d{0,6})$")
# What Excel writes in a numeric <v>: a finite decimal, perhaps with a small exponent.
_NUMBER = re.compile(r"^-?(?:\d{1,20}(?:\.\d{0,20})?|\.\d{1,20})(?:[eE][-+]?\d{1,3})?$")
_CHUNK_IN = 1 << 16
_CHUNK_OUT = 1 << 20


@dataclass
class Grid:
    """A sheet (or a CSV) as rows of cells: {row number: {column index (0-based): Cell}}."""

    sheet: str | None
    rows: dict[int, dict[int, Cell]]
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)  # r1, c1, r2, c2
    hidden: bool = False
    ragged_rows: list[tuple[int, int]] = field(default_factory=list)  # CSV: (row, field count)
    header_width: int | None = None  # CSV: fields in the header record


@dataclass
class Workbook:
    sheets: dict[str, Grid]  # by the sheet's name as written


def column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def cell_reference(row: int | None, column_index: int | None) -> str | None:
    """`J7` for row 7, column index 9; None when either is unknown."""
    if row is None or column_index is None:
        return None
    return f"{column_letter(column_index)}{row}"


def _column_index(letters: str) -> int:
    index = 0
    for char in letters:
        index = index * 26 + (ord(char) - 64)
    return index - 1


def sniff(data: bytes) -> str:
    """What the bytes are: ole, zip or text."""
    if data.startswith(OLE_MAGIC):
        return "ole"
    if data.startswith(ZIP_MAGIC) or data.startswith(EMPTY_ZIP_MAGIC):
        return "zip"
    return "text"


def _is_encrypted_ole(data: bytes) -> bool:
    """An Office file encrypted to open is an OLE container holding an EncryptedPackage stream."""
    return "EncryptedPackage".encode("utf-16-le") in data


# --- CSV -------------------------------------------------------------------------------


def read_csv(data: bytes) -> Grid:
    kind = sniff(data)
    if kind == "ole" and _is_encrypted_ole(data):
        raise ReturnUnreadable(
            Code.ENCRYPTED,
            "This is a password-protected Excel file named .csv; save the return as CSV UTF-8 "
            "without a password.",
        )
    if kind != "text":
        held = "an Excel workbook (zip)" if kind == "zip" else "an old Excel (OLE) file"
        raise ReturnUnreadable(
            Code.FILE_UNREADABLE,
            f"This file is named .csv but holds {held}; save it as 'CSV UTF-8 (Comma delimited)' "
            "or send it named .xlsx.",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReturnUnreadable(
            Code.ENCODING_INVALID,
            f"The file is not valid UTF-8 (byte {exc.start + 1} cannot be read); in Excel use "
            "Save As > 'CSV UTF-8 (Comma delimited)'.",
        ) from None
    rows: dict[int, dict[int, Cell]] = {}
    ragged: list[tuple[int, int]] = []
    cells: dict[str, Cell] = {}  # one Cell per distinct text: codes and dates recur on every line
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header_width: int | None = None
    line = 1
    try:
        for record in reader:
            start_line = line  # a record spanning lines counts from its first line
            line = reader.line_num + 1
            values = [value.strip(TRIM) for value in record]
            if not any(values):
                continue
            if header_width is None:
                header_width = len(record)
            elif len(record) != header_width:
                ragged.append((start_line, len(record)))
            row: dict[int, Cell] = {}
            for index, value in enumerate(values):
                if value:
                    cell = cells.get(value)
                    if cell is None:
                        cell = cells[value] = Cell("text", value)
                    row[index] = cell
            rows[start_line] = row
    except csv.Error as exc:
        raise ReturnUnreadable(
            Code.FILE_UNREADABLE,
            f"The CSV cannot be read near line {reader.line_num}: {exc}. Check that every double "
            'quote that opens a value also closes it, and that quotes inside a value are doubled ("").',
        ) from None
    return Grid(sheet=None, rows=rows, ragged_rows=ragged, header_width=header_width)


# --- XLSX: the zip container -------------------------------------------------------------


class _Budget:
    """Counts inflated bytes across every part read from one workbook."""

    def __init__(self, limit: int) -> None:
        self.remaining = limit

    def take(self, count: int) -> None:
        self.remaining -= count
        if self.remaining < 0:
            raise _too_large("inflates to more than 200 MB when read")


def _too_large(how: str) -> ReturnUnreadable:
    return ReturnUnreadable(
        Code.FILE_TOO_LARGE,
        f"The workbook {how}; a monthly return is far smaller. Copy only the return's sheet "
        "into a new workbook and send that.",
    )


def _corrupt(why: str) -> ReturnUnreadable:
    return ReturnUnreadable(
        Code.FILE_UNREADABLE,
        f"The workbook is corrupt or truncated ({why}); open it in Excel, save it again as an "
        "Excel Workbook (.xlsx) and send the new file.",
    )


def _entry_count(data: bytes) -> int | None:
    """Entries the end-of-central-directory record declares, read before `zipfile` lists them."""
    at = data.rfind(EMPTY_ZIP_MAGIC, max(0, len(data) - 65_557))
    if at < 0 or at + 12 > len(data):
        return None
    return int.from_bytes(data[at + 10 : at + 12], "little")


class _Archive:
    """The workbook's zip entries, each inflated on demand against one budget."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        count = _entry_count(data)
        if count is not None and count > MAX_ZIP_ENTRIES:
            raise _corrupt(f"it lists {count} parts")
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                infos = archive.infolist()
        except (
            zipfile.BadZipFile,
            zipfile.LargeZipFile,
            OSError,
            ValueError,
            EOFError,
            NotImplementedError,  # an unknown zip version
            struct.error,
            OverflowError,
        ) as exc:
            raise _corrupt(str(exc) or type(exc).__name__) from None
        if len(infos) > MAX_ZIP_ENTRIES:
            raise _corrupt(f"it lists {len(infos)} parts")
        self.infos = {info.filename: info for info in infos}
        self.declared = sum(info.file_size for info in infos)
        self.budget = _Budget(MAX_XLSX_INFLATED_BYTES)

    @property
    def names(self) -> set[str]:
        return set(self.infos)

    def chunks(self, name: str) -> Iterator[bytes]:
        """The part's inflated bytes; the CRC and the declared size are checked at its end."""
        info = self.infos[name]
        start, end = self._data_span(info)
        produced = crc = 0
        for chunk in self._inflate(info, start, end):
            self.budget.take(len(chunk))
            produced += len(chunk)
            if produced > info.file_size:
                self._count_the_rest(info, start, end, produced)
            crc = zlib.crc32(chunk, crc)
            yield chunk
        if produced != info.file_size or crc != info.CRC:
            raise _corrupt(f"the part {name} does not match its checksum")

    def read(self, name: str, limit: int = 32 * 1024 * 1024) -> bytes:
        if self.infos[name].file_size > limit:
            raise _too_large(f"has a {name} part larger than {limit // (1024 * 1024)} MB")
        return b"".join(self.chunks(name))

    def _data_span(self, info: zipfile.ZipInfo) -> tuple[int, int]:
        offset = info.header_offset
        header = self.data[offset : offset + 30]
        if len(header) < 30 or header[:4] != ZIP_MAGIC:
            raise _corrupt(f"the part {info.filename} has no local header")
        if int.from_bytes(header[6:8], "little") & 0x1:
            raise ReturnUnreadable(
                Code.ENCRYPTED,
                "The workbook's parts are encrypted; save it again without a password to open.",
            )
        start = (
            offset + 30 + int.from_bytes(header[26:28], "little") + int.from_bytes(header[28:30], "little")
        )
        end = start + info.compress_size
        if end > len(self.data):
            raise _corrupt(f"the part {info.filename} is cut short")
        return start, end

    def _inflate(self, info: zipfile.ZipInfo, start: int, end: int) -> Iterator[bytes]:
        view = memoryview(self.data)[start:end]
        if info.compress_type == zipfile.ZIP_STORED:
            for at in range(0, len(view), _CHUNK_OUT):
                yield bytes(view[at : at + _CHUNK_OUT])
            return
        if info.compress_type != zipfile.ZIP_DEFLATED:
            raise _corrupt(f"the part {info.filename} uses a compression Excel does not write")
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        try:
            for at in range(0, len(view), _CHUNK_IN):
                pending = bytes(view[at : at + _CHUNK_IN])
                while pending and not inflater.eof:
                    out = inflater.decompress(pending, _CHUNK_OUT)
                    pending = inflater.unconsumed_tail
                    if out:
                        yield out
                if inflater.eof:
                    break
            tail = inflater.flush()
        except zlib.error as exc:
            raise _corrupt(f"the part {info.filename} cannot be inflated: {exc}") from None
        if tail:
            yield tail
        if not inflater.eof:
            raise _corrupt(f"the part {info.filename} is cut short")

    def _count_the_rest(self, info: zipfile.ZipInfo, start: int, end: int, produced: int) -> None:
        """A part inflating past its declared size: count (keep nothing) to see how far it goes."""
        total = 0
        for chunk in self._inflate(info, start, end):
            total += len(chunk)
            self.budget.take(len(chunk))
        raise _corrupt(
            f"the part {info.filename} inflates to {total} bytes, not the {info.file_size} it declares"
        )


# --- XLSX: streaming XML targets ---------------------------------------------------------


_LOCAL_NAMES: dict[str, str] = {}


def _local(tag: str) -> str:
    """The element's name without its namespace (memoised: a workbook uses a few dozen)."""
    name = _LOCAL_NAMES.get(tag)
    if name is None:
        name = tag[tag.rfind("}") + 1 :]
        if len(_LOCAL_NAMES) < 4096:
            _LOCAL_NAMES[tag] = name
    return name


def _ignore(*_: Any) -> None:
    return None


def _parse_xml(chunks: Iterator[bytes], target: Any) -> None:
    """Feed a part to expat as defusedxml sets it up (DTD entities and external references
    refused); `target`'s handlers are wired to expat directly, skipping ElementTree's
    per-element Python wrappers, and only the target keeps anything."""
    expat = DefusedXMLParser().parser
    expat.ordered_attributes = False
    expat.StartElementHandler = target.start
    expat.EndElementHandler = getattr(target, "end", _ignore)
    expat.CharacterDataHandler = getattr(target, "data", _ignore)
    expat.CommentHandler = expat.ProcessingInstructionHandler = _ignore
    try:
        for chunk in chunks:
            expat.Parse(chunk, False)
        expat.Parse(b"", True)
    except ExpatError as exc:
        raise ParseError(str(exc)) from None


class _Collect:
    """Calls `on_start(local_name, attrib)` for every element of a small metadata part."""

    def __init__(self, on_start: Callable[[str, dict[str, str]], None]) -> None:
        self.start = lambda tag, attrib: on_start(_local(tag), attrib)

    def close(self) -> None:
        return None


class _SharedStrings:
    """The shared-string table: the text of each <si>, phonetic guides (<rPh>) left out."""

    def __init__(self) -> None:
        self.strings: list[str] = []
        self._parts: list[str] = []
        self._length = 0
        self._capture = False
        self._phonetic = 0

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        name = _local(tag)
        if name == "si":
            self._parts, self._length = [], 0
        elif name == "rPh":
            self._phonetic += 1
        elif name == "t" and not self._phonetic:
            self._capture = True

    def data(self, text: str) -> None:
        if self._capture:
            self._length += len(text)
            if self._length > MAX_CELL_CHARS * 2:
                raise _corrupt("a shared string is longer than Excel allows")
            self._parts.append(text)

    def end(self, tag: str) -> None:
        name = _local(tag)
        if name == "t":
            self._capture = False
        elif name == "rPh":
            self._phonetic -= 1
        elif name == "si":
            self.strings.append("".join(self._parts))

    def close(self) -> None:
        return None


class _Sheet:
    """One worksheet's cells and merged ranges, built as the XML streams past."""

    def __init__(self, shared: list[str], date_styles: list[bool], date1904: bool) -> None:
        self.shared = shared
        self.date_styles = date_styles
        self.date1904 = date1904
        self.rows: dict[int, dict[int, Cell]] = {}
        self.merged: list[tuple[int, int, int, int]] = []
        self.row_number = 0
        self.column = -1
        self._in_cell = False
        self._kind = "n"
        self._style = 0
        self._formula = False
        self._value: list[str] | None = None
        self._inline: list[str] | None = None
        self._capture: list[str] | None = None
        self._length = 0
        self._inline_depth = 0
        self._phonetic = 0

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        name = _local(tag)
        if name == "c":
            self._start_cell(attrib)
        elif not self._in_cell:
            if name == "row":
                explicit = attrib.get("r")
                self.row_number = _row_number(explicit) if explicit else self.row_number + 1
                self.column = -1
            elif name == "mergeCell":
                self._merge(attrib.get("ref") or "")
        elif name == "v":
            self._value = self._capture = []
        elif name == "f":
            self._formula = True
        elif name == "is":
            self._inline = []
            self._inline_depth += 1
        elif name == "rPh":
            self._phonetic += 1
        elif name == "t" and self._inline_depth and not self._phonetic:
            self._capture = self._inline

    def data(self, text: str) -> None:
        if self._capture is not None:
            self._length += len(text)
            if self._length > MAX_CELL_CHARS * 2:
                raise _corrupt(
                    f"cell {column_letter(self.column)}{self.row_number} is longer than Excel allows"
                )
            self._capture.append(text)

    def end(self, tag: str) -> None:
        name = _local(tag)
        if name in ("v", "t"):
            self._capture = None
        elif name == "is":
            self._inline_depth -= 1
        elif name == "rPh":
            self._phonetic -= 1
        elif name == "c" and self._in_cell:
            self._in_cell = False
            cell = self._cell()
            if cell is not None:
                self.rows.setdefault(self.row_number, {})[self.column] = cell

    def close(self) -> None:
        return None

    def _start_cell(self, attrib: dict[str, str]) -> None:
        ref = attrib.get("r")
        if ref and (match := _CELL_REF.match(ref)):
            self.column = _column_index(match.group(1))
            self.row_number = _row_number(match.group(2))
        else:
            self.column += 1
        if not 0 <= self.column < MAX_EXCEL_COLUMN or self.row_number < 1:
            raise _corrupt(f"a cell lies outside Excel's grid ({ref or 'no reference'})")
        self._in_cell = True
        self._kind = attrib.get("t") or "n"
        style = attrib.get("s") or "0"
        self._style = int(style) if style.isdigit() and len(style) < 7 else 0
        self._formula = False
        self._value = self._inline = self._capture = None
        self._length = 0
        self._inline_depth = self._phonetic = 0

    def _merge(self, ref: str) -> None:
        first, _, last = ref.partition(":")
        a, b = _CELL_REF.match(first), _CELL_REF.match(last or first)
        if a and b:
            self.merged.append(
                (
                    _row_number(a.group(2)),
                    _column_index(a.group(1)),
                    _row_number(b.group(2)),
                    _column_index(b.group(1)),
                )
            )

    def _cell(self) -> Cell | None:
        raw = None if self._value is None else "".join(self._value)
        inline = "".join(self._inline or ()) if self._kind == "inlineStr" else None
        return _make_cell(
            self._kind, self._style, raw, inline, self._formula, self, self.column, self.row_number
        )


def _make_cell(
    kind: str,
    style: int,
    raw: str | None,
    inline: str | None,
    formula: bool,
    sheet: _Sheet,
    column: int,
    row: int,
) -> Cell | None:
    """A cell from its type, style, <v> text and inline text: the one conversion both the
    streaming reader and the fast path use, so they cannot disagree."""
    if kind == "inlineStr":
        text = (inline or "").strip(TRIM)
        return Cell("text", text) if text else None
    if raw is None or (raw == "" and kind != "str"):
        return Cell("uncalculated", "") if formula else None
    if kind == "s":
        index = raw.strip()
        if not index.isdigit() or int(index) >= len(sheet.shared):
            raise _corrupt(f"cell {column_letter(column)}{row} points at a missing string")
        text = sheet.shared[int(index)].strip(TRIM)
        return Cell("text", text) if text else None
    if kind == "str":
        text = raw.strip(TRIM)
        return Cell("text", text) if text else None
    if kind == "b":
        return Cell("bool", "TRUE" if raw.strip() in ("1", "true") else "FALSE")
    if kind == "e":
        return Cell("error", raw.strip())
    if kind == "d":
        return _iso_date_cell(raw.strip())
    return _number(raw.strip(), style, sheet, column, row)


def _number(text: str, style: int, sheet: _Sheet, column: int, row: int) -> Cell:
    if not _NUMBER.match(text):
        raise _corrupt(f"cell {column_letter(column)}{row} holds '{text[:20]}', not a number")
    if style < len(sheet.date_styles) and sheet.date_styles[style]:
        try:
            day = excel_serial_to_date(Decimal(text), date1904=sheet.date1904)
            return Cell("date", day.isoformat(), text)
        except (ValueError, OverflowError, ArithmeticError):
            return Cell("number", text)
    return Cell("number", text)


def _row_number(text: str) -> int:
    if not text.isdigit() or len(text) > 7 or not 1 <= int(text) <= MAX_EXCEL_ROW:
        raise _corrupt(f"a row number '{text[:12]}' lies outside Excel's grid")
    return int(text)


def _iso_date_cell(text: str) -> Cell:
    """A `t="d"` cell holds an ISO 8601 date (and perhaps a time, which is ignored)."""
    try:
        return Cell("date", date.fromisoformat(text[:10]).isoformat())
    except ValueError:
        return Cell("text", text.strip(TRIM))


# --- XLSX: the fast path ----------------------------------------------------------------
#
# Streaming every element through Python handlers costs several calls per cell, which is
# most of the time spent reading a large workbook. Parts laid out the way Excel and the
# common libraries write them (one <c> element per cell with r, s and t attributes and a
# plain <v> or inline <t>; shared strings as plain <si><t>) are instead checked for
# well-formedness by expat with no handlers at all, then cut into cells by one regular
# expression, in C. Every cell still goes through `_make_cell`, and anything the expression
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


def _fast_shared_strings(data: bytes) -> list[str] | None:
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


def _fast_sheet(data: bytes, sheet: _Sheet) -> bool:
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


def _cells_by_rows(data: bytes, start: int, end: int, sheet: _Sheet) -> dict[int, dict[int, Cell]]:
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
    sheet: _Sheet,
) -> dict[int, Cell]:
    """One row's cells in document order: each column checked, then its cell converted."""
    cells: dict[int, Cell] = {}
    for letter, rest in zip(letters, rests, strict=True):
        column = columns.get(letter)
        if column is None:
            column = _column_index(letter.decode("ascii"))
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
    rest: bytes, column: int, row: int, converted: dict[bytes, Cell | None], sheet: _Sheet
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


def _cells_by_tokens(data: bytes, start: int, end: int, sheet: _Sheet) -> dict[int, dict[int, Cell]] | None:
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
                    column = columns[letters] = _column_index(letters.decode("ascii"))
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
                    row_number = _row_number(explicit.group(1))
                else:
                    row_number += 1
                row_digits, row_cells = b"", None
    return rows


def _fast_cell(
    kind: bytes, style: bytes, value: bytes, inline: bytes, sheet: _Sheet, column: int, row: int
) -> Any:
    """`_make_cell` for one token; _UNSET when the streaming reader must decide."""
    if len(value) > MAX_CELL_CHARS * 2 or len(inline) > MAX_CELL_CHARS * 2:
        return _UNSET
    raw, text = _xml_text(value), _xml_text(inline)
    if raw is None or text is None:
        return _UNSET
    kind_text = kind.decode("ascii") or "n"
    # A missing <v> and an empty one read alike here (see _make_cell), so "" stands for both.
    return _make_cell(
        kind_text,
        int(style) if style else 0,
        raw,
        text if kind_text == "inlineStr" else None,
        False,
        sheet,
        column,
        row,
    )


# --- XLSX: the workbook ------------------------------------------------------------------


def _resolve_target(target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    parts: list[str] = ["xl"]
    for piece in target.split("/"):
        if piece == "..":
            if parts:
                parts.pop()
        elif piece and piece != ".":
            parts.append(piece)
    return "/".join(parts)


def _is_date_format(code: str) -> bool:
    stripped = _FORMAT_LITERALS.sub("", code).lower()
    return stripped not in ("general", "") and any(ch in stripped for ch in "dmyhs")


def declared_inflated_size(data: bytes) -> int | None:
    """What a zip's entries declare they inflate to, or None when it is not a readable zip."""
    try:
        return _Archive(data).declared
    except ReturnUnreadable:
        return None


def open_xlsx(data: bytes, wanted: set[str]) -> Workbook:
    """Read the sheets whose trimmed, lower-cased names are in `wanted` (others are skipped)."""
    kind = sniff(data)
    if kind == "ole":
        if _is_encrypted_ole(data):
            raise ReturnUnreadable(
                Code.ENCRYPTED,
                "The workbook is password-protected; save it again without a password to open "
                "(File > Info > Protect Workbook > Encrypt with Password, clear the password).",
            )
        raise ReturnUnreadable(
            Code.FILE_UNREADABLE,
            "This is an old-format Excel file (.xls) named .xlsx; open it in Excel and save it as "
            "an Excel Workbook (.xlsx).",
        )
    if kind != "zip":
        raise ReturnUnreadable(
            Code.FILE_UNREADABLE,
            "This file is named .xlsx but is not an Excel workbook (it looks like text); send a "
            "CSV named .csv, or save the file from Excel as an Excel Workbook (.xlsx).",
        )
    archive = _Archive(data)
    if any(name.lower().rsplit("/", 1)[-1] == "vbaproject.bin" for name in archive.names):
        raise _macros()
    if archive.declared > MAX_XLSX_INFLATED_BYTES:
        raise _too_large(f"declares {archive.declared // (1024 * 1024)} MB of content when opened")
    try:
        return _read_workbook(archive, wanted)
    except DefusedXmlException:
        raise ReturnUnreadable(
            Code.FILE_UNREADABLE,
            "The workbook's XML declares entities or external references, which Excel never "
            "writes, so it was not read; open the return in Excel, save it as a new Excel "
            "Workbook (.xlsx) and send that.",
        ) from None
    except (ParseError, UnicodeError) as exc:
        raise _corrupt(f"{type(exc).__name__}: {exc}") from None


def _macros() -> ReturnUnreadable:
    return ReturnUnreadable(
        Code.MACRO_NOT_ALLOWED,
        "The workbook contains macros (a VBA project); save it as an Excel Workbook (.xlsx), "
        "not a macro-enabled workbook, and send that.",
    )


def _read_workbook(archive: _Archive, wanted: set[str]) -> Workbook:
    names = archive.names
    if "[Content_Types].xml" in names:

        def content_type(tag: str, attrib: dict[str, str]) -> None:
            if VBA_CONTENT_TYPE in (attrib.get("ContentType") or "").lower():
                raise _macros()

        _parse_xml(iter([archive.read("[Content_Types].xml")]), _Collect(content_type))
    if "xl/workbook.xml" not in names:
        raise ReturnUnreadable(
            Code.FILE_UNREADABLE,
            "The file is a zip archive but not an Excel workbook; save the return from Excel as "
            "an Excel Workbook (.xlsx).",
        )
    date1904 = False
    sheets: list[tuple[str, str, bool]] = []

    def workbook(tag: str, attrib: dict[str, str]) -> None:
        nonlocal date1904
        if tag == "workbookPr":
            date1904 = (attrib.get("date1904") or "").lower() in ("1", "true")
        elif tag == "sheet":
            rel_id = next((v for k, v in attrib.items() if _local(k) == "id"), "")
            hidden = (attrib.get("state") or "visible") != "visible"
            sheets.append((attrib.get("name") or "", rel_id, hidden))

    _parse_xml(iter([archive.read("xl/workbook.xml")]), _Collect(workbook))
    targets: dict[str, str] = {}

    def relationship(tag: str, attrib: dict[str, str]) -> None:
        if tag == "Relationship" and (attrib.get("TargetMode") or "") != "External":
            targets[attrib.get("Id") or ""] = _resolve_target(attrib.get("Target") or "")

    if "xl/_rels/workbook.xml.rels" in names:
        _parse_xml(iter([archive.read("xl/_rels/workbook.xml.rels")]), _Collect(relationship))
    chosen = [s for s in sheets if s[0].strip(TRIM).lower() in wanted]
    shared = _SharedStrings()
    if chosen and "xl/sharedStrings.xml" in names:
        _read_part(archive, "xl/sharedStrings.xml", shared, _fast_shared_strings_into)
    date_styles = _date_styles(archive) if chosen else []
    result: dict[str, Grid] = {}
    for name, rel_id, hidden in chosen:
        target = targets.get(rel_id)
        if not target or target not in names:
            raise _corrupt(f"the sheet '{name}' is missing from the workbook")
        sheet = _Sheet(shared.strings, date_styles, date1904)
        _read_part(archive, target, sheet, _fast_sheet)
        result[name] = Grid(sheet=name, rows=sheet.rows, merged=sheet.merged, hidden=hidden)
    return Workbook(result)


def _read_part(archive: _Archive, name: str, target: Any, fast: Callable[[bytes, Any], bool]) -> None:
    """Read a part into `target`: by the fast path when its layout allows, else streaming."""
    if archive.infos[name].file_size > FAST_PART_BYTES:
        _parse_xml(archive.chunks(name), target)
        return
    data = archive.read(name, FAST_PART_BYTES)
    if not fast(data, target):
        _parse_xml(iter([data]), target)


def _fast_shared_strings_into(data: bytes, target: _SharedStrings) -> bool:
    strings = _fast_shared_strings(data)
    if strings is None:
        return False
    target.strings.extend(strings)
    return True


def _date_styles(archive: _Archive) -> list[bool]:
    """For each cell style (the `s` of a cell), whether its number format shows a date."""
    if "xl/styles.xml" not in archive.names:
        return []
    custom: dict[int, str] = {}
    formats: list[int] = []
    depth = {"cellXfs": 0}

    class Styles:
        def start(self, tag: str, attrib: dict[str, str]) -> None:
            name = _local(tag)
            if name == "numFmt":
                number = attrib.get("numFmtId") or ""
                if number.isdigit() and len(number) < 7:
                    custom[int(number)] = attrib.get("formatCode") or ""
            elif name == "cellXfs":
                depth["cellXfs"] += 1
            elif name == "xf" and depth["cellXfs"]:
                number = attrib.get("numFmtId") or "0"
                formats.append(int(number) if number.isdigit() and len(number) < 7 else 0)

        def end(self, tag: str) -> None:
            if _local(tag) == "cellXfs":
                depth["cellXfs"] -= 1

        def close(self) -> None:
            return None

    _parse_xml(iter([archive.read("xl/styles.xml")]), Styles())
    return [fmt in _DATE_FORMAT_IDS or (fmt in custom and _is_date_format(custom[fmt])) for fmt in formats]
