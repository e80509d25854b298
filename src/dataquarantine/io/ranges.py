"""A JSONL file cut into byte ranges that start on line starts, read range by range.

``validate --workers N`` validates the ranges of a large file in separate processes. A record
keeps the line number it has in a whole-file read (its quarantine id depends on it): the line
number of a range's first line is 1 + the line ends before the range, which
:func:`count_line_ends` counts range by range (a cheap pass, ``bytes.count`` at memory speed),
before any range is validated.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

from dataquarantine.errors import InputError
from dataquarantine.io.readers import DEFAULT_BATCH_SIZE, DEFAULT_BLOCK_SIZE, iter_jsonl
from dataquarantine.io.records import RecordBatch

__all__ = ["MIN_RANGE_BYTES", "ByteRange", "count_line_ends", "read_jsonl_range", "split_lines"]

#: A file smaller than twice this is one range: a process per few lines costs more than it saves.
MIN_RANGE_BYTES: Final = 4 << 20


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Bytes ``[start, end)`` of a file; ``start`` is 0 or just after a ``\\n``."""

    start: int
    end: int


def split_lines(
    path: str | Path, parts: int, *, min_bytes: int = MIN_RANGE_BYTES
) -> list[ByteRange]:
    """Cut the file into at most ``parts`` ranges of about equal size, each at least
    ``min_bytes`` (except a last short one), every cut just after a ``\\n``."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            count = max(1, min(parts, size // max(1, min_bytes)))
            cuts = [0]
            for k in range(1, count):
                nominal = max(size * k // count, cuts[-1])
                cut = _next_line_start(f, nominal, size)
                if cut >= size:
                    break
                if cut > cuts[-1]:
                    cuts.append(cut)
    except OSError as exc:
        raise InputError(f"cannot read input {str(path)!r}: {exc.strerror or exc}") from exc
    cuts.append(size)
    return [ByteRange(a, b) for a, b in itertools.pairwise(cuts) if b > a] or [ByteRange(0, size)]


def _next_line_start(f: IO[bytes], offset: int, size: int) -> int:
    """The offset just after the first ``\\n`` at or after ``offset`` (``size`` if none)."""
    f.seek(offset)
    position = offset
    while position < size:
        block = f.read(DEFAULT_BLOCK_SIZE)
        if not block:
            break
        found = block.find(b"\n")
        if found >= 0:
            return position + found + 1
        position += len(block)
    return size


def count_line_ends(path: str | Path, span: ByteRange) -> int:
    """How many ``\\n`` bytes the range holds."""
    total = 0
    try:
        with open(path, "rb", buffering=0) as f:
            f.seek(span.start)
            left = span.end - span.start
            while left > 0:
                block = f.read(min(DEFAULT_BLOCK_SIZE, left))
                if not block:
                    break
                total += block.count(b"\n")
                left -= len(block)
    except OSError as exc:
        raise InputError(f"error reading input {str(path)!r}: {exc.strerror or exc}") from exc
    return total


class _Window:
    """A binary file read from ``start`` up to ``end`` only."""

    def __init__(self, path: str | Path, span: ByteRange) -> None:
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by close()
        self._file.seek(span.start)
        self._left = span.end - span.start

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        n = self._left if size < 0 else min(size, self._left)
        data = self._file.read(n)
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._file.close()


def read_jsonl_range(
    path: str | Path,
    span: ByteRange,
    first_line: int,
    uri: str,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> Iterator[RecordBatch]:
    """The record batches of one range, numbered as in a read of the whole file
    (``first_line``: 1 + the line ends before ``span.start``)."""
    try:
        window = _Window(path, span)
    except OSError as exc:
        raise InputError(f"cannot read input {str(path)!r}: {exc.strerror or exc}") from exc
    try:
        yield from iter_jsonl(
            window,  # type: ignore[arg-type]  # a read()-only stream is all iter_jsonl uses
            uri,
            batch_size=batch_size,
            block_size=block_size,
            first_line=first_line,
        )
    except OSError as exc:
        raise InputError(f"error reading input {str(path)!r}: {exc.strerror or exc}") from exc
    finally:
        window.close()
