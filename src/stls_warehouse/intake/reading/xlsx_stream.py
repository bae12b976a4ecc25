"""Reading XLSX parts by streaming their XML through defusedxml's expat (DTD entities
refused) into small targets that keep only the cells; and the one conversion of a cell that
every path uses (`make_cell`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any
from xml.etree.ElementTree import ParseError
from xml.parsers.expat import ExpatError

from defusedxml.ElementTree import DefusedXMLParser

from stls_warehouse.intake.reading.archive import corrupt
from stls_warehouse.intake.reading.grid import (
    CELL_REF,
    MAX_CELL_CHARS,
    MAX_EXCEL_COLUMN,
    MAX_EXCEL_ROW,
    NUMBER,
    TRIM,
    column_index_of,
    column_letter,
)
from stls_warehouse.intake.values import Cell, excel_serial_to_date

_LOCAL_NAMES: dict[str, str] = {}


def local(tag: str) -> str:
    """The element's name without its namespace (memoised: a workbook uses a few dozen)."""
    name = _LOCAL_NAMES.get(tag)
    if name is None:
        name = tag[tag.rfind("}") + 1 :]
        if len(_LOCAL_NAMES) < 4096:
            _LOCAL_NAMES[tag] = name
    return name


def _ignore(*_: Any) -> None:
    return None


def parse_xml(chunks: Iterator[bytes], target: Any) -> None:
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


class Collect:
    """Calls `on_start(local_name, attrib)` for every element of a small metadata part."""

    def __init__(self, on_start: Callable[[str, dict[str, str]], None]) -> None:
        self.start = lambda tag, attrib: on_start(local(tag), attrib)

    def close(self) -> None:
        return None


class SharedStrings:
    """The shared-string table: the text of each <si>, phonetic guides (<rPh>) left out."""

    def __init__(self) -> None:
        self.strings: list[str] = []
        self._parts: list[str] = []
        self._length = 0
        self._capture = False
        self._phonetic = 0

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        name = local(tag)
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
                raise corrupt("a shared string is longer than Excel allows")
            self._parts.append(text)

    def end(self, tag: str) -> None:
        name = local(tag)
        if name == "t":
            self._capture = False
        elif name == "rPh":
            self._phonetic -= 1
        elif name == "si":
            self.strings.append("".join(self._parts))

    def close(self) -> None:
        return None


class Sheet:
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
        name = local(tag)
        if name == "c":
            self._start_cell(attrib)
        elif not self._in_cell:
            if name == "row":
                explicit = attrib.get("r")
                self.row_number = parse_row_number(explicit) if explicit else self.row_number + 1
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
                raise corrupt(
                    f"cell {column_letter(self.column)}{self.row_number} is longer than Excel allows"
                )
            self._capture.append(text)

    def end(self, tag: str) -> None:
        name = local(tag)
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
        if ref and (match := CELL_REF.match(ref)):
            self.column = column_index_of(match.group(1))
            self.row_number = parse_row_number(match.group(2))
        else:
            self.column += 1
        if not 0 <= self.column < MAX_EXCEL_COLUMN or self.row_number < 1:
            raise corrupt(f"a cell lies outside Excel's grid ({ref or 'no reference'})")
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
        a, b = CELL_REF.match(first), CELL_REF.match(last or first)
        if a and b:
            self.merged.append(
                (
                    parse_row_number(a.group(2)),
                    column_index_of(a.group(1)),
                    parse_row_number(b.group(2)),
                    column_index_of(b.group(1)),
                )
            )

    def _cell(self) -> Cell | None:
        raw = None if self._value is None else "".join(self._value)
        inline = "".join(self._inline or ()) if self._kind == "inlineStr" else None
        return make_cell(
            self._kind, self._style, raw, inline, self._formula, self, self.column, self.row_number
        )


def make_cell(
    kind: str,
    style: int,
    raw: str | None,
    inline: str | None,
    formula: bool,
    sheet: Sheet,
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
            raise corrupt(f"cell {column_letter(column)}{row} points at a missing string")
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


def _number(text: str, style: int, sheet: Sheet, column: int, row: int) -> Cell:
    if not NUMBER.match(text):
        raise corrupt(f"cell {column_letter(column)}{row} holds '{text[:20]}', not a number")
    if style < len(sheet.date_styles) and sheet.date_styles[style]:
        try:
            day = excel_serial_to_date(Decimal(text), date1904=sheet.date1904)
            return Cell("date", day.isoformat(), text)
        except (ValueError, OverflowError, ArithmeticError):
            return Cell("number", text)
    return Cell("number", text)


def parse_row_number(text: str) -> int:
    if not text.isdigit() or len(text) > 7 or not 1 <= int(text) <= MAX_EXCEL_ROW:
        raise corrupt(f"a row number '{text[:12]}' lies outside Excel's grid")
    return int(text)


def _iso_date_cell(text: str) -> Cell:
    """A `t="d"` cell holds an ISO 8601 date (and perhaps a time, which is ignored)."""
    try:
        return Cell("date", date.fromisoformat(text[:10]).isoformat())
    except ValueError:
        return Cell("text", text.strip(TRIM))
