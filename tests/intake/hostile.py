"""Builders for broken and hostile return files, shared by the tests and the benchmark."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Callable, Mapping

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
SHEET_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
SHEET_TAIL = b"</sheetData></worksheet>"


def rezip(
    data: bytes,
    *,
    add: Mapping[str, bytes] | None = None,
    drop: tuple[str, ...] = (),
    edit: Mapping[str, Callable[[bytes], bytes]] | None = None,
) -> bytes:
    """A copy of a zip with parts added, dropped or rewritten."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            if info.filename in drop:
                continue
            body = source.read(info)
            if edit and info.filename in edit:
                body = edit[info.filename](body)
            target.writestr(info.filename, body)
        for name, body in (add or {}).items():
            target.writestr(name, body)
    return out.getvalue()


def ole_file(*, encrypted: bool) -> bytes:
    """An OLE/CFB container; an encrypted Office file holds an EncryptedPackage stream."""
    body = bytearray(OLE_MAGIC + b"\0" * 1016)
    if encrypted:
        body += "EncryptedInfo".encode("utf-16-le") + b"\0" * 50 + "EncryptedPackage".encode("utf-16-le")
    return bytes(body + b"\0" * 512)


def declare_size(data: bytes, part: str, size: int) -> bytes:
    """Patch a part's declared inflated size in the central directory (the bytes stay small)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo(part)
    raw = bytearray(data)
    at = 0
    name = part.encode()
    while True:
        at = raw.find(b"PK\x01\x02", at)
        if at < 0:
            raise ValueError(part)
        name_length = struct.unpack_from("<H", raw, at + 28)[0]
        if raw[at + 46 : at + 46 + name_length] == name:
            struct.pack_into("<I", raw, at + 24, size)
            assert info.file_size != size
            return bytes(raw)
        at += 4


def billion_laughs(workbook: bytes, part: str = "xl/worksheets/sheet1.xml") -> bytes:
    """The workbook with an entity-expansion bomb declared and used in one of its parts."""
    entities = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i else "lol"}">' for i in range(10))
    doctype = f"<!DOCTYPE worksheet [{entities}]>".encode()
    use = b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row>'

    def edit(body: bytes) -> bytes:
        declaration, rest = body.split(b"?>", 1) if body.startswith(b"<?xml") else (b"", body)
        return (declaration + b"?>" if declaration else b"") + doctype + rest.replace(b"<sheetData>", use, 1)

    return rezip(workbook, edit={part: edit})


def _spaces_stream(total: int, block: int = 1 << 20) -> tuple[bytes, int]:
    """Raw deflate of SHEET_HEAD + `total` spaces + SHEET_TAIL, built from one repeated block
    (a full flush resets the history, so every block of spaces compresses identically)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = compressor.compress(SHEET_HEAD) + compressor.flush(zlib.Z_FULL_FLUSH)
    spaces = b" " * block
    one = compressor.compress(spaces) + compressor.flush(zlib.Z_FULL_FLUSH)
    count = total // block
    tail = compressor.compress(SHEET_TAIL) + compressor.flush(zlib.Z_FINISH)
    crc = zlib.crc32(SHEET_HEAD)
    for _ in range(count):
        crc = zlib.crc32(spaces, crc)
    crc = zlib.crc32(SHEET_TAIL, crc)
    return head + one * count + tail, crc


def zip_bomb(workbook: bytes, inflated: int = 1 << 30, *, honest: bool = True) -> bytes:
    """The workbook with its first sheet replaced by `inflated` bytes of whitespace.

    honest: the zip declares the real inflated size; otherwise it declares 1 MB, so only a
    reader that counts what it inflates can tell.
    """
    part = "xl/worksheets/sheet1.xml"
    stream, crc = _spaces_stream(inflated)
    size = len(SHEET_HEAD) + (inflated // (1 << 20)) * (1 << 20) + len(SHEET_TAIL)
    declared = size if honest else 1 << 20
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(workbook)) as source:
        entries = [(info, source.read(info)) for info in source.infolist() if info.filename != part]
    offsets: list[tuple[bytes, int, int, int, int, int]] = []  # name, offset, method, crc, csize, usize
    for info, body in entries:
        compressed = zlib.compress(body, 9)[2:-4]
        offsets.append((info.filename.encode(), out.tell(), 8, zlib.crc32(body), len(compressed), len(body)))
        out.write(_local_header(info.filename.encode(), 8, zlib.crc32(body), len(compressed), len(body)))
        out.write(compressed)
    offsets.append((part.encode(), out.tell(), 8, crc, len(stream), declared))
    out.write(_local_header(part.encode(), 8, crc, len(stream), declared))
    out.write(stream)
    directory = out.tell()
    for name, offset, method, entry_crc, csize, usize in offsets:
        out.write(
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                20,
                20,
                0,
                method,
                0,
                0x21,
                entry_crc,
                csize,
                usize,
                len(name),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + name
        )
    end = out.tell()
    out.write(
        struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(offsets), len(offsets), end - directory, directory, 0)
    )
    return out.getvalue()


def _local_header(name: bytes, method: int, crc: int, csize: int, usize: int) -> bytes:
    return (
        struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, csize, usize, len(name), 0)
        + name
    )
