"""Text from a school's file, made safe for every place it is stored or published.

A file can hold any character: a NUL byte (which PostgreSQL text cannot hold), other control
characters (which XML, so every workbook, cannot hold), lone surrogates (which UTF-8 cannot
encode). Each becomes U+FFFD, as the workbook writers already show them, so one hostile
header never stops a target (issue 13, case 5). Tab, line feed and carriage return stay.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def safe_text(value: str) -> str:
    return _UNSAFE.sub("\ufffd", value)


def safe_optional(value: str | None) -> str | None:
    return None if value is None else safe_text(value)
