"""The base of every error a user of the warehouse can meet.

As click's `ClickException`, an error carries how the `stls` command ends on it: its message
(`format_message`) and its exit code. `cli.main` is the one place that turns an `StlsError`
into a line on stderr and an exit code; a new error only subclasses `StlsError` (keeping the
built-in base callers already catch, such as `ValueError`) and sets what differs.
"""

from __future__ import annotations

from typing import ClassVar


class StlsError(Exception):
    """An error a user can meet; `stls` prints `format_message()` and exits with `exit_code`."""

    #: 1: the command could not do what was asked; 2: it was asked wrongly (a usage error).
    exit_code: ClassVar[int] = 1
    #: When `stls run` stops on this error: the error is a stage refusing, as it should on bad
    #: data, and is named before its message.
    refusal: ClassVar[bool] = False
    #: When `stls run` stops on this error: a second line saying what the run left undone.
    run_note: ClassVar[str | None] = None

    def format_message(self) -> str:
        return str(self)
