"""Reading a return's bytes into a table of cells, safely.

The file's type is decided from its bytes, never its name. Every cell is read as text or as
a typed XLSX cell and converted later by the project's own parsers: no NA guessing, no
dialect sniffing, no positional mapping. XLSX is read straight from its XML parts with
defusedxml, so error cells, formulas without cached values and merged ranges are seen as
what they are, and inflated sizes are counted as the parts are read.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from defusedxml import ElementTree as SafeET

from stls_warehouse.intake.problems import Code, ReturnUnreadable
from stls_warehouse.intake.values import Cell, excel_serial_to_date

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_XLSX_INFLATED_BYTES = 200 * 1024 * 1024
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
    {
        14,
        15,
        16,
        17,
        18,
        19,
        20,
        21,
        22,
        27,
        28,
        29,
        30,
        31,
        32,
        33,
        34,
        35,
        36,
        45,
        46,
        47,
        50,
        51,
        52,
        53,
        54,
        55,
        56,
        57,
        58,
    }
)
_FORMAT_LITERALS = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.')
_CELL_REF = re.compile(r"^([A-Z]+)(\d+)$")


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


# --- CSV -------------------------------------------------------------------------------


def read_csv(data: bytes) -> Grid:
    kind = sniff(data)
    if kind != "text":
        raise ReturnUnreadable(
            Code.FILE_UNREADABLE,
            f"This file is named .csv but holds {'an Excel workbook' if kind == 'zip' else 'an old Excel (OLE) file'}; save it as CSV UTF-8 or name it .xlsx.",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReturnUnreadable(
            Code.ENCODING_INVALID,
            f"The file is not valid UTF-8 (byte {exc.start + 1}); save it as 'CSV UTF-8 (Comma delimited)'.",
        ) from None
    rows: dict[int, dict[int, Cell]] = {}
    ragged: list[tuple[int, int]] = []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header_width: int | None = None
    line = 1
    try:
        for record in reader:
            start_line = line
            line = reader.line_num + 1
            if not any(value.strip(TRIM) for value in record):
                continue
            if header_width is None:
                header_width = len(record)
            elif len(record) != header_width:
                ragged.append((start_line, len(record)))
            rows[start_line] = {
                index: Cell("text", value.strip(TRIM))
                for index, value in enumerate(record)
                if value.strip(TRIM)
            }
    except csv.Error as exc:
        raise ReturnUnreadable(
            Code.FILE_UNREADABLE,
            f"The CSV cannot be read near line {reader.line_num}: {exc}. Check the double quotes.",
        ) from None
    return Grid(sheet=None, rows=rows, ragged_rows=ragged, header_width=header_width)


# --- XLSX ------------------------------------------------------------------------------


class _Budget:
    """Counts inflated bytes across every part read from one workbook."""

    def __init__(self, limit: int) -> None:
        self.remaining = limit

    def take(self, count: int) -> None:
        self.remaining -= count
        if self.remaining < 0:
            raise ReturnUnreadable(
                Code.FILE_TOO_LARGE,
                "The workbook inflates to more than 200 MB when opened; remove unused sheets or ranges.",
            )


class _LimitedPart(io.RawIOBase):
    def __init__(self, stream: IO[bytes], budget: _Budget) -> None:
        self._stream = stream
        self._budget = budget

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._stream.read(len(buffer))
        self._budget.take(len(chunk))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _iter_elements(archive: zipfile.ZipFile, name: str, budget: _Budget) -> Iterator[Any]:
    with archive.open(name) as raw:
        stream = io.BufferedReader(_LimitedPart(raw, budget), buffer_size=1 << 16)
        for _event, element in SafeET.iterparse(stream, events=("end",)):
            yield element


def _read_part(archive: zipfile.ZipFile, name: str, budget: _Budget) -> Any:
    with archive.open(name) as raw:
        data = _LimitedPart(raw, budget).read()
    return SafeET.fromstring(data)


def _resolve_target(target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    parts: list[str] = ["xl"]
    for piece in target.split("/"):
        if piece == "..":
            parts.pop()
        elif piece and piece != ".":
            parts.append(piece)
    return "/".join(parts)


def _is_date_format(code: str) -> bool:
    stripped = _FORMAT_LITERALS.sub("", code).lower()
    return stripped not in ("general", "") and any(ch in stripped for ch in "dmyhs")


def open_xlsx(data: bytes, wanted: set[str]) -> Workbook:
    """Read the sheets whose lower-cased names are in `wanted` (others are skipped)."""
    kind = sniff(data)
    if kind == "ole":
        if "EncryptedPackage".encode("utf-16-le") in data:
            raise ReturnUnreadable(
                Code.ENCRYPTED,
                "The workbook is password-protected; save it again without a password to open.",
            )
        raise ReturnUnreadable(
            Code.FILE_UNREADABLE,
            "This is an old-format Excel file (.xls) named .xlsx; save it as an Excel Workbook (.xlsx).",
        )
    if kind != "zip":
        raise ReturnUnreadable(Code.FILE_UNREADABLE, "This file is named .xlsx but is not an Excel workbook.")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ReturnUnreadable(
            Code.FILE_UNREADABLE, f"The workbook is corrupt or truncated ({exc})."
        ) from None
    with archive:
        names = {info.filename for info in infos}
        if any(name.lower().endswith("vbaproject.bin") for name in names):
            raise ReturnUnreadable(
                Code.MACRO_NOT_ALLOWED,
                "The workbook contains macros (VBA); save it as an Excel Workbook (.xlsx) without macros.",
            )
        if sum(info.file_size for info in infos) > MAX_XLSX_INFLATED_BYTES:
            raise ReturnUnreadable(
                Code.FILE_TOO_LARGE,
                "The workbook declares more than 200 MB of content; remove unused sheets or ranges.",
            )
        budget = _Budget(MAX_XLSX_INFLATED_BYTES)
        try:
            return _read_workbook(archive, names, wanted, budget)
        except ReturnUnreadable:
            raise
        except (
            KeyError,
            zipfile.BadZipFile,
            OSError,
            ValueError,
            EOFError,
            IndexError,
            InvalidOperation,
            SafeET.ParseError,
        ) as exc:
            raise ReturnUnreadable(
                Code.FILE_UNREADABLE, f"The workbook is corrupt or truncated ({type(exc).__name__}: {exc})."
            ) from None
        except Exception as exc:  # defusedxml's refusals (entities, DTDs) and zlib errors
            if type(exc).__module__.startswith(("defusedxml", "zlib")) or "zlib" in str(type(exc)):
                raise ReturnUnreadable(
                    Code.FILE_UNREADABLE, f"The workbook holds unsafe or corrupt XML ({type(exc).__name__})."
                ) from None
            raise


def _read_workbook(archive: zipfile.ZipFile, names: set[str], wanted: set[str], budget: _Budget) -> Workbook:
    if "[Content_Types].xml" in names:
        types = _read_part(archive, "[Content_Types].xml", budget)
        for element in types.iter():
            if VBA_CONTENT_TYPE in (element.get("ContentType") or "").lower():
                raise ReturnUnreadable(
                    Code.MACRO_NOT_ALLOWED,
                    "The workbook contains macros (VBA); save it as an Excel Workbook (.xlsx) without macros.",
                )
    if "xl/workbook.xml" not in names:
        raise ReturnUnreadable(Code.FILE_UNREADABLE, "The file is a zip archive but not an Excel workbook.")
    workbook = _read_part(archive, "xl/workbook.xml", budget)
    date1904 = False
    sheets: list[tuple[str, str, bool]] = []
    for element in workbook.iter():
        tag = _local(element.tag)
        if tag == "workbookPr":
            date1904 = (element.get("date1904") or "").lower() in ("1", "true")
        elif tag == "sheet":
            rel_id = next((v for k, v in element.attrib.items() if _local(k) == "id"), "")
            hidden = (element.get("state") or "visible") != "visible"
            sheets.append((element.get("name") or "", rel_id, hidden))
    targets: dict[str, str] = {}
    if "xl/_rels/workbook.xml.rels" in names:
        rels = _read_part(archive, "xl/_rels/workbook.xml.rels", budget)
        for element in rels.iter():
            if _local(element.tag) == "Relationship":
                targets[element.get("Id") or ""] = _resolve_target(element.get("Target") or "")
    shared: list[str] = []
    if "xl/sharedStrings.xml" in names:
        for element in _iter_elements(archive, "xl/sharedStrings.xml", budget):
            if _local(element.tag) == "si":
                shared.append(
                    "".join(
                        t.text or ""
                        for t in element.iter()
                        if _local(t.tag) == "t" and not _inside_phonetic(element, t)
                    )
                )
                element.clear()
    date_styles = _date_styles(archive, names, budget)
    result: dict[str, Grid] = {}
    for name, rel_id, hidden in sheets:
        if name.strip(TRIM).lower() not in wanted:
            continue
        target = targets.get(rel_id)
        if not target or target not in names:
            raise ReturnUnreadable(Code.FILE_UNREADABLE, f"The sheet '{name}' is missing from the workbook.")
        grid = _read_sheet(archive, target, budget, shared, date_styles, date1904)
        grid.sheet = name
        grid.hidden = hidden
        result[name] = grid
    return Workbook(result)


def _inside_phonetic(si: Any, target: Any) -> bool:
    return any(_local(child.tag) == "rPh" and any(t is target for t in child.iter()) for child in si)


def _date_styles(archive: zipfile.ZipFile, names: set[str], budget: _Budget) -> list[bool]:
    if "xl/styles.xml" not in names:
        return []
    styles = _read_part(archive, "xl/styles.xml", budget)
    custom: dict[int, str] = {}
    flags: list[bool] = []
    for element in styles.iter():
        if _local(element.tag) == "numFmt":
            custom[int(element.get("numFmtId") or -1)] = element.get("formatCode") or ""
    for element in styles.iter():
        if _local(element.tag) == "cellXfs":
            for xf in element:
                fmt = int(xf.get("numFmtId") or 0)
                flags.append(fmt in _DATE_FORMAT_IDS or (fmt in custom and _is_date_format(custom[fmt])))
    return flags


def _read_sheet(
    archive: zipfile.ZipFile,
    part: str,
    budget: _Budget,
    shared: list[str],
    date_styles: list[bool],
    date1904: bool,
) -> Grid:
    rows: dict[int, dict[int, Cell]] = {}
    merged: list[tuple[int, int, int, int]] = []
    row_number = 0
    column = -1
    for element in _iter_elements(archive, part, budget):
        tag = _local(element.tag)
        if tag == "c":
            ref = element.get("r")
            if ref and (match := _CELL_REF.match(ref)):
                column = _column_index(match.group(1))
                row_number = int(match.group(2))
            else:
                column += 1
            cell = _cell(element, shared, date_styles, date1904)
            if cell is not None:
                rows.setdefault(row_number, {})[column] = cell
            element.clear()
        elif tag == "row":
            explicit = element.get("r")
            row_number = int(explicit) if explicit else row_number + 1
            column = -1
            element.clear()
        elif tag == "mergeCell":
            ref = element.get("ref") or ""
            first, _, last = ref.partition(":")
            a, b = _CELL_REF.match(first), _CELL_REF.match(last or first)
            if a and b:
                merged.append(
                    (int(a.group(2)), _column_index(a.group(1)), int(b.group(2)), _column_index(b.group(1)))
                )
    return Grid(sheet=None, rows=rows, merged=merged)


def _cell(element: Any, shared: list[str], date_styles: list[bool], date1904: bool) -> Cell | None:
    kind = element.get("t") or "n"
    formula = value = inline = None
    for child in element:
        tag = _local(child.tag)
        if tag == "f":
            formula = child
        elif tag == "v":
            value = child.text
        elif tag == "is":
            inline = "".join(t.text or "" for t in child.iter() if _local(t.tag) == "t")
    if kind == "inlineStr":
        text = (inline or "").strip(TRIM)
        return Cell("text", text) if text else None
    if value is None or value == "":
        if formula is not None:
            return Cell("uncalculated", "")
        return None
    if kind == "s":
        text = shared[int(value)].strip(TRIM)
        return Cell("text", text) if text else None
    if kind == "str":
        text = value.strip(TRIM)
        return Cell("text", text) if text else None
    if kind == "b":
        return Cell("bool", "TRUE" if value.strip() in ("1", "true") else "FALSE")
    if kind == "e":
        return Cell("error", value.strip())
    if kind == "d":
        return Cell("date", value.strip()[:10])
    number = Decimal(value.strip())
    style = int(element.get("s") or 0)
    if style < len(date_styles) and date_styles[style]:
        try:
            day = excel_serial_to_date(number, date1904=date1904)
            return Cell("date", day.isoformat(), value.strip())
        except (ValueError, OverflowError):
            return Cell("number", value.strip())
    return Cell("number", value.strip())
