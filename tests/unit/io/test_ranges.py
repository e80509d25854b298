"""JSONL byte ranges: cut on line starts, read range by range, the records and their line
numbers are those of a read of the whole file."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from dataquarantine.io.ranges import ByteRange, count_line_ends, read_jsonl_range, split_lines
from dataquarantine.io.readers import read_batches


def _records(batches: object) -> list[tuple[bytes, int, bytes]]:
    out = []
    for batch in batches:  # type: ignore[attr-defined]
        assert batch.originals is not None
        out.extend(zip(batch.raws, batch.lines, batch.originals, strict=True))
    return out


def _by_ranges(path: Path, parts: int, min_bytes: int) -> list[tuple[bytes, int, bytes]]:
    spans = split_lines(path, parts, min_bytes=min_bytes)
    out = []
    line = 1
    for span in spans:
        out += _records(read_jsonl_range(path, span, line, "u", batch_size=7))
        line += count_line_ends(path, span)
    return out


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    """A byte order mark, CRLF and LF lines, blank lines, a BOM-like line in the middle,
    long and short lines, no final line end."""
    lines = [b'\xef\xbb\xbf{"a":0}\r\n']
    for i in range(1, 400):
        if i % 17 == 0:
            lines.append(b"   \r\n")
        elif i % 29 == 0:
            lines.append(b'\xef\xbb\xbf{"mid":1}\n')
        else:
            lines.append(
                b'{"i":%d,"pad":"%s"}%s' % (i, b"x" * (i % 50), b"\r\n" if i % 3 else b"\n")
            )
    lines.append(b'{"last":true}')
    path = tmp_path / "messy.jsonl"
    path.write_bytes(b"".join(lines))
    return path


@pytest.mark.parametrize("parts", [1, 2, 3, 8, 50])
def test_ranges_read_as_the_whole_file(messy: Path, parts: int) -> None:
    whole = _records(read_batches(messy, batch_size=7))
    assert _by_ranges(messy, parts, min_bytes=64) == [(r, n, o) for r, n, o in whole]


def test_ranges_cover_the_file_on_line_starts(messy: Path) -> None:
    data = messy.read_bytes()
    spans = split_lines(messy, 8, min_bytes=64)
    assert len(spans) == 8
    assert spans[0].start == 0 and spans[-1].end == len(data)
    for before, after in itertools.pairwise(spans):
        assert before.end == after.start
        assert data[after.start - 1 : after.start] == b"\n"


def test_a_small_file_is_one_range(messy: Path) -> None:
    assert split_lines(messy, 4) == [ByteRange(0, messy.stat().st_size)]


def test_one_long_line_is_not_cut(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    path.write_bytes(b'{"x":"' + b"y" * 10_000 + b'"}\n{"z":1}\n')
    spans = split_lines(path, 4, min_bytes=100)
    assert [s.start for s in spans] == [0, 10_009]  # never inside the long line
    assert _by_ranges(path, 4, 100) == _records(read_batches(path))


def test_an_empty_file_is_one_empty_range(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    assert split_lines(path, 4, min_bytes=1) == [ByteRange(0, 0)]
    assert _by_ranges(path, 4, 1) == []
