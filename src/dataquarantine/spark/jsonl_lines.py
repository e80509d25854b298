"""JSON lines by byte range, with the default reader's rules (no Spark here).

A file is read in byte ranges; a range owns the lines that *start* inside it, so every line
is read once whatever the ranges, and its offset is its position in the file. Lines keep
their terminator; the record's payload is derived from the line as
:func:`~dataquarantine.io.readers.iter_jsonl` derives it, and blank lines are no records.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Final

__all__ = ["is_blank", "line_payload", "lines_in_range"]

_BOM: Final = b"\xef\xbb\xbf"
_WS: Final = b" \t\r"


def line_payload(line: bytes, offset: int) -> bytes:
    """The record's bytes as the default reader hands them to the engine: the line without
    its ``\\n`` (or ``\\r\\n``), and without a byte order mark at the start of the file."""
    # A last line without terminator keeps a trailing \r, as in iter_jsonl.
    end = 2 if line.endswith(b"\r\n") else 1 if line.endswith(b"\n") else 0
    raw = line[: len(line) - end]
    if offset == 0 and raw.startswith(_BOM):
        raw = raw[3:]
    return raw


def is_blank(line: bytes, offset: int) -> bool:
    """Whether the line holds only spaces, tabs and ``\\r`` (skipped, as by the default reader)."""
    return not line_payload(line, offset).strip(_WS)


def lines_in_range(stream: IO[bytes], start: int, end: int) -> Iterator[tuple[int, bytes]]:
    """``(offset, line)`` of each line of ``stream`` starting in ``[start, end)``, blank lines
    included. A line starts at offset 0 or right after a ``\\n``."""
    if start > 0:
        stream.seek(start - 1)
        position = start - 1 + len(stream.readline())  # the rest of the line before `start`
    else:
        stream.seek(0)
        position = 0
    while position < end:
        line = stream.readline()
        if not line:
            return
        yield position, line
        position += len(line)
