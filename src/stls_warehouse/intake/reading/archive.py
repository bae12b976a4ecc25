"""The XLSX zip container: entries inflated here, not by `zipfile`, so that no declared size
is trusted and every inflated byte counts against the contract's 200 MB."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Iterator

from stls_warehouse.intake.problems import Code, ReturnUnreadable
from stls_warehouse.intake.reading.grid import (
    CHUNK_IN,
    CHUNK_OUT,
    EMPTY_ZIP_MAGIC,
    MAX_XLSX_INFLATED_BYTES,
    MAX_ZIP_ENTRIES,
    ZIP_MAGIC,
)

# --- XLSX: the zip container -------------------------------------------------------------


class _Budget:
    """Counts inflated bytes across every part read from one workbook."""

    def __init__(self, limit: int) -> None:
        self.remaining = limit

    def take(self, count: int) -> None:
        self.remaining -= count
        if self.remaining < 0:
            raise too_large("inflates to more than 200 MB when read")


def too_large(how: str) -> ReturnUnreadable:
    return ReturnUnreadable(
        Code.FILE_TOO_LARGE,
        f"The workbook {how}; a monthly return is far smaller. Copy only the return's sheet "
        "into a new workbook and send that.",
    )


def corrupt(why: str) -> ReturnUnreadable:
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


class Archive:
    """The workbook's zip entries, each inflated on demand against one budget."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        count = _entry_count(data)
        if count is not None and count > MAX_ZIP_ENTRIES:
            raise corrupt(f"it lists {count} parts")
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
            raise corrupt(str(exc) or type(exc).__name__) from None
        if len(infos) > MAX_ZIP_ENTRIES:
            raise corrupt(f"it lists {len(infos)} parts")
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
            raise corrupt(f"the part {name} does not match its checksum")

    def read(self, name: str, limit: int = 32 * 1024 * 1024) -> bytes:
        if self.infos[name].file_size > limit:
            raise too_large(f"has a {name} part larger than {limit // (1024 * 1024)} MB")
        return b"".join(self.chunks(name))

    def _data_span(self, info: zipfile.ZipInfo) -> tuple[int, int]:
        offset = info.header_offset
        header = self.data[offset : offset + 30]
        if len(header) < 30 or header[:4] != ZIP_MAGIC:
            raise corrupt(f"the part {info.filename} has no local header")
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
            raise corrupt(f"the part {info.filename} is cut short")
        return start, end

    def _inflate(self, info: zipfile.ZipInfo, start: int, end: int) -> Iterator[bytes]:
        view = memoryview(self.data)[start:end]
        if info.compress_type == zipfile.ZIP_STORED:
            for at in range(0, len(view), CHUNK_OUT):
                yield bytes(view[at : at + CHUNK_OUT])
            return
        if info.compress_type != zipfile.ZIP_DEFLATED:
            raise corrupt(f"the part {info.filename} uses a compression Excel does not write")
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        try:
            for at in range(0, len(view), CHUNK_IN):
                pending = bytes(view[at : at + CHUNK_IN])
                while pending and not inflater.eof:
                    out = inflater.decompress(pending, CHUNK_OUT)
                    pending = inflater.unconsumed_tail
                    if out:
                        yield out
                if inflater.eof:
                    break
            tail = inflater.flush()
        except zlib.error as exc:
            raise corrupt(f"the part {info.filename} cannot be inflated: {exc}") from None
        if tail:
            yield tail
        if not inflater.eof:
            raise corrupt(f"the part {info.filename} is cut short")

    def _count_the_rest(self, info: zipfile.ZipInfo, start: int, end: int, produced: int) -> None:
        """A part inflating past its declared size: count (keep nothing) to see how far it goes."""
        total = 0
        for chunk in self._inflate(info, start, end):
            total += len(chunk)
            self.budget.take(len(chunk))
        raise corrupt(
            f"the part {info.filename} inflates to {total} bytes, not the {info.file_size} it declares"
        )
