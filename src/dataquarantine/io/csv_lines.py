"""The physical line where each CSV record starts, found by a scan of the file's bytes.

pyarrow's CSV reader numbers records (header = 1, empty lines not counted) but gives no
line numbers, and a quoted cell may span several physical lines. :class:`CsvRecordLines`
reads the file a second time, in blocks, and follows the same tokenising rules:

* a record ends at ``\\n``, ``\\r\\n`` or ``\\r`` outside quotes; an empty line is no record;
* a ``"`` opens a quoted cell only at the start of a cell (after ``,``, a line break or the
  start of the file); inside one, ``""`` is a quote and a lone ``"`` closes it; line breaks
  inside it belong to the record.

Blocks without a quote are split in C; only blocks holding quotes are walked token by token.
"""

from __future__ import annotations

import re
from typing import IO, Final

__all__ = ["CsvRecordLines"]

_TOKEN: Final = re.compile(rb'"|\r\n|\r|\n')
_LINE_BREAK: Final = re.compile(rb"\r\n|\r|\n")
_CELL_START: Final = frozenset(b",\r\n")
_QUOTE: Final = ord('"')


class CsvRecordLines:
    """Start lines of the records of a CSV stream, in order (the header is the first record)."""

    def __init__(self, stream: IO[bytes], *, block_size: int = 1 << 20) -> None:
        self._stream = stream
        self._block_size = block_size
        self._ready: list[int] = []
        self._taken = 0  # index into _ready of the next line to hand out
        self._line = 1  # physical line at the current scan position
        self._in_quote = False
        self._row_line = 0  # start line of the record being scanned, 0 = between records
        self._prev = ord("\n")  # the byte before the current block (start of file: a break)
        self._closed_at = -2  # position of the last closing quote in the current block
        self._held = b""  # a trailing "\r" that may pair with the next block's "\n"
        self._eof = False

    def take(self, n: int) -> list[int]:
        """The start lines of the next ``n`` records. Should the scan find fewer records than
        pyarrow did (it never should), the missing ones get the line after the last known."""
        while len(self._ready) - self._taken < n and not self._eof:
            self._read_block()
        out = self._ready[self._taken : self._taken + n]
        self._taken += len(out)
        if self._taken > 1 << 16:  # drop what was handed out, keeping memory bounded
            del self._ready[: self._taken]
            self._taken = 0
        last = out[-1] if out else self._line
        while len(out) < n:
            last += 1
            out.append(last)
        return out

    def _read_block(self) -> None:
        block = self._stream.read(self._block_size)
        data = self._held + block if self._held else block
        self._held = b""
        if not block:
            self._eof = True
        elif data.endswith(b"\r"):
            data, self._held = data[:-1], b"\r"
        if data:
            if self._in_quote or b'"' in data:
                self._scan_tokens(data)
            else:
                self._scan_lines(data)
            self._prev = data[-1]
        if self._eof and self._row_line:
            self._ready.append(self._row_line)
            self._row_line = 0

    def _scan_lines(self, data: bytes) -> None:
        """A block without quotes (and not inside a quoted cell): each line is a record."""
        parts = _LINE_BREAK.split(data) if b"\r" in data else data.split(b"\n")
        tail = parts.pop()
        line = self._line
        self._closed_at = -2
        if parts:
            first = parts[0]
            if self._row_line:
                self._ready.append(self._row_line)
            elif first:
                self._ready.append(line)
            rest = parts[1:]
            if b"" in rest:
                self._ready.extend(line + 1 + i for i, p in enumerate(rest) if p)
            else:
                self._ready.extend(range(line + 1, line + 1 + len(rest)))
            self._row_line = 0
            line += len(parts)
        if tail and not self._row_line:
            self._row_line = line
        self._line = line

    def _scan_tokens(self, data: bytes) -> None:
        """The general case: follow quotes and line breaks one token at a time."""
        line = self._line
        in_quote = self._in_quote
        row_line = self._row_line
        ready = self._ready
        closed_at = self._closed_at
        pos = 0
        for match in _TOKEN.finditer(data):
            start = match.start()
            if start > pos and not row_line:
                row_line = line
            if data[start] == _QUOTE:
                if not row_line:
                    row_line = line
                if in_quote:
                    in_quote = False
                    closed_at = start
                elif (
                    start == closed_at + 1  # "" inside a quoted cell: still quoted
                    or (data[start - 1] if start else self._prev) in _CELL_START
                ):
                    in_quote = True
            elif in_quote:
                line += 1
            else:
                if row_line:
                    ready.append(row_line)
                    row_line = 0
                line += 1
            pos = match.end()
        if pos < len(data) and not row_line:
            row_line = line
        # A block ending in a closing quote: the next block may start with its twin.
        self._closed_at = -1 if closed_at == len(data) - 1 else -2
        self._line, self._in_quote, self._row_line = line, in_quote, row_line
