"""Opening a workbook: the parts it names, its date styles, and each wanted sheet read by
the fast path or, failing that, streamed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException

from stls_warehouse.intake.problems import Code, ReturnUnreadable
from stls_warehouse.intake.reading.archive import Archive, corrupt, too_large
from stls_warehouse.intake.reading.grid import (
    DATE_FORMAT_IDS,
    FORMAT_LITERALS,
    MAX_XLSX_INFLATED_BYTES,
    TRIM,
    VBA_CONTENT_TYPE,
    Grid,
    Workbook,
    is_encrypted_ole,
    sniff,
)
from stls_warehouse.intake.reading.xlsx_fast import FAST_PART_BYTES, fast_shared_strings, fast_sheet
from stls_warehouse.intake.reading.xlsx_stream import Collect, SharedStrings, Sheet, local, parse_xml

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
    stripped = FORMAT_LITERALS.sub("", code).lower()
    return stripped not in ("general", "") and any(ch in stripped for ch in "dmyhs")


def declared_inflated_size(data: bytes) -> int | None:
    """What a zip's entries declare they inflate to, or None when it is not a readable zip."""
    try:
        return Archive(data).declared
    except ReturnUnreadable:
        return None


def open_xlsx(data: bytes, wanted: set[str]) -> Workbook:
    """Read the sheets whose trimmed, lower-cased names are in `wanted` (others are skipped)."""
    kind = sniff(data)
    if kind == "ole":
        if is_encrypted_ole(data):
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
    archive = Archive(data)
    if any(name.lower().rsplit("/", 1)[-1] == "vbaproject.bin" for name in archive.names):
        raise _macros()
    if archive.declared > MAX_XLSX_INFLATED_BYTES:
        raise too_large(f"declares {archive.declared // (1024 * 1024)} MB of content when opened")
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
        raise corrupt(f"{type(exc).__name__}: {exc}") from None


def _macros() -> ReturnUnreadable:
    return ReturnUnreadable(
        Code.MACRO_NOT_ALLOWED,
        "The workbook contains macros (a VBA project); save it as an Excel Workbook (.xlsx), "
        "not a macro-enabled workbook, and send that.",
    )


def _read_workbook(archive: Archive, wanted: set[str]) -> Workbook:
    names = archive.names
    if "[Content_Types].xml" in names:

        def content_type(tag: str, attrib: dict[str, str]) -> None:
            if VBA_CONTENT_TYPE in (attrib.get("ContentType") or "").lower():
                raise _macros()

        parse_xml(iter([archive.read("[Content_Types].xml")]), Collect(content_type))
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
            rel_id = next((v for k, v in attrib.items() if local(k) == "id"), "")
            hidden = (attrib.get("state") or "visible") != "visible"
            sheets.append((attrib.get("name") or "", rel_id, hidden))

    parse_xml(iter([archive.read("xl/workbook.xml")]), Collect(workbook))
    targets: dict[str, str] = {}

    def relationship(tag: str, attrib: dict[str, str]) -> None:
        if tag == "Relationship" and (attrib.get("TargetMode") or "") != "External":
            targets[attrib.get("Id") or ""] = _resolve_target(attrib.get("Target") or "")

    if "xl/_rels/workbook.xml.rels" in names:
        parse_xml(iter([archive.read("xl/_rels/workbook.xml.rels")]), Collect(relationship))
    chosen = [s for s in sheets if s[0].strip(TRIM).lower() in wanted]
    shared = SharedStrings()
    if chosen and "xl/sharedStrings.xml" in names:
        _read_part(archive, "xl/sharedStrings.xml", shared, _fast_shared_strings_into)
    date_styles = _date_styles(archive) if chosen else []
    result: dict[str, Grid] = {}
    for name, rel_id, hidden in chosen:
        target = targets.get(rel_id)
        if not target or target not in names:
            raise corrupt(f"the sheet '{name}' is missing from the workbook")
        sheet = Sheet(shared.strings, date_styles, date1904)
        _read_part(archive, target, sheet, fast_sheet)
        result[name] = Grid(sheet=name, rows=sheet.rows, merged=sheet.merged, hidden=hidden)
    return Workbook(result)


def _read_part(archive: Archive, name: str, target: Any, fast: Callable[[bytes, Any], bool]) -> None:
    """Read a part into `target`: by the fast path when its layout allows, else streaming."""
    if archive.infos[name].file_size > FAST_PART_BYTES:
        parse_xml(archive.chunks(name), target)
        return
    data = archive.read(name, FAST_PART_BYTES)
    if not fast(data, target):
        parse_xml(iter([data]), target)


def _fast_shared_strings_into(data: bytes, target: SharedStrings) -> bool:
    strings = fast_shared_strings(data)
    if strings is None:
        return False
    target.strings.extend(strings)
    return True


def _date_styles(archive: Archive) -> list[bool]:
    """For each cell style (the `s` of a cell), whether its number format shows a date."""
    if "xl/styles.xml" not in archive.names:
        return []
    custom: dict[int, str] = {}
    formats: list[int] = []
    depth = {"cellXfs": 0}

    class Styles:
        def start(self, tag: str, attrib: dict[str, str]) -> None:
            name = local(tag)
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
            if local(tag) == "cellXfs":
                depth["cellXfs"] -= 1

        def close(self) -> None:
            return None

    parse_xml(iter([archive.read("xl/styles.xml")]), Styles())
    return [fmt in DATE_FORMAT_IDS or (fmt in custom and _is_date_format(custom[fmt])) for fmt in formats]
