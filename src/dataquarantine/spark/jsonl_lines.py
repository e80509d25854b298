"""JSON lines by byte range, with the default reader's rules (no Spark here).

A file is read in byte ranges; a range owns the lines that *start* inside it, so every line
is read once whatever the ranges, and its offset is its position in the file. Lines keep
their terminator; the record's payload is derived from the line as
:func:`~dataquarantine.io.readers.iter_jsonl` derives it, and blank lines are no records.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any, Final

__all__ = ["BLOCK_BYTES", "is_blank", "line_blocks", "line_payload", "lines_in_range"]

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


#: Bytes read at a time by :func:`line_blocks` (a longer line is read whole all the same).
BLOCK_BYTES: Final = 4 << 20
_NL: Final = 10
_BLANK_BYTES: Final = (9, 10, 13, 32)


def _first_line(stream: IO[bytes], start: int) -> int:
    """Where the first line starting at or after ``start`` starts."""
    if start == 0:
        return 0
    stream.seek(start - 1)
    return start - 1 + len(stream.readline())


def line_blocks(
    stream: IO[bytes], start: int, end: int, block: int = BLOCK_BYTES
) -> Iterator[tuple[Any, Any]]:
    """The non-blank lines of :func:`lines_in_range`, a block at a time, as Arrow arrays:
    ``(offsets, values)`` (``int64`` and ``binary``), split without a Python loop over the
    lines (:func:`is_blank` runs only on lines starting with a blank byte)."""
    import numpy as np
    import pyarrow as pa

    position = _first_line(stream, start)
    stream.seek(position)
    carry = b""
    while position < end:
        chunk = stream.read(max(block, len(carry)))
        buf = carry + chunk
        if not buf:
            return
        data = np.frombuffer(buf, np.uint8)
        ends = np.flatnonzero(data == _NL) + 1
        if not chunk and (not len(ends) or ends[-1] != len(buf)):
            ends = np.append(ends, len(buf))  # the last line, without terminator
        starts = np.concatenate(([0], ends[:-1])) if len(ends) else ends
        owned = position + starts < end
        starts, ends = starts[owned], ends[owned]
        if len(ends):
            # only a line starting with a blank byte (or the byte order mark) may be blank
            keep = ~np.isin(data[starts], _BLANK_BYTES)
            if position == 0:
                keep[0] = False
            for i in np.flatnonzero(~keep).tolist():
                offset = position + int(starts[i])
                keep[i] = not is_blank(buf[starts[i] : ends[i]], offset)
            bounds = pa.py_buffer(np.concatenate(([0], ends)).astype(np.int64))
            lines = pa.LargeBinaryArray.from_buffers(
                pa.large_binary(), len(ends), [None, bounds, pa.py_buffer(buf)]
            )
            yield (
                pa.array(position + starts[keep], pa.int64()),
                lines.filter(pa.array(keep)).cast(pa.binary()),
            )
        done = int(ends[-1]) if len(ends) else 0
        if not owned.all() or not chunk:
            return
        position += done
        carry = buf[done:]
