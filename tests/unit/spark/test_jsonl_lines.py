"""JSON lines by byte range: whatever the ranges, every line is read once, at its offset, and
the records are the default reader's."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.fixtures.spark import require_spark

require_spark()

from dataquarantine.io.readers import iter_jsonl
from dataquarantine.spark.jsonl_lines import is_blank, line_blocks, line_payload, lines_in_range

_LINE = st.lists(
    st.sampled_from([b"a", b"{", b"}", b"\r", b" ", b"\t", b"\xef\xbb\xbf", b"\xff", b'"x"']),
    max_size=6,
).map(b"".join)


def _records(data: bytes, split: int) -> list[tuple[int, bytes]]:
    out: list[tuple[int, bytes]] = []
    stream = io.BytesIO(data)
    for start in range(0, max(len(data), 1), split):
        for offset, line in lines_in_range(stream, start, min(start + split, len(data))):
            if not is_blank(line, offset):
                out.append((offset, line_payload(line, offset)))
    return out


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(_LINE, max_size=12),
    terminated=st.booleans(),
    crlf=st.booleans(),
    split=st.integers(1, 40),
)
def test_ranges_give_the_default_readers_records(
    lines: list[bytes], terminated: bool, crlf: bool, split: int
) -> None:
    end = b"\r\n" if crlf else b"\n"
    data = end.join(lines) + (end if terminated and lines else b"")
    expected = [raw for batch in iter_jsonl(io.BytesIO(data), "-") for raw in batch.raws]
    got = _records(data, split)
    assert [payload for _, payload in got] == expected
    assert got == _records(data, len(data) + 1), "the offsets do not depend on the ranges"
    for offset, payload in got:
        skip = 3 if offset == 0 and data.startswith(b"\xef\xbb\xbf") else 0
        assert data[offset + skip :].startswith(payload)


def test_a_line_belongs_to_the_range_it_starts_in() -> None:
    data = b"ab\ncd\n\nef"
    stream = io.BytesIO(data)
    assert list(lines_in_range(stream, 0, 3)) == [(0, b"ab\n")]
    assert list(lines_in_range(stream, 1, 4)) == [(3, b"cd\n")]
    assert list(lines_in_range(stream, 3, 7)) == [(3, b"cd\n"), (6, b"\n")]
    assert list(lines_in_range(stream, 7, 9)) == [(7, b"ef")]
    assert list(lines_in_range(stream, 8, 9)) == []
    assert line_payload(b"\xef\xbb\xbfx\r\n", 0) == b"x"
    assert line_payload(b"\xef\xbb\xbfx\r\n", 5) == b"\xef\xbb\xbfx"
    assert line_payload(b"x\r", 9) == b"x\r"


def _blocks(data: bytes, split: int, block: int) -> list[tuple[int, bytes]]:
    out: list[tuple[int, bytes]] = []
    stream = io.BytesIO(data)
    for start in range(0, max(len(data), 1), split):
        for offsets, values in line_blocks(stream, start, min(start + split, len(data)), block):
            for offset, line in zip(offsets.to_pylist(), values.to_pylist(), strict=True):
                out.append((offset, line_payload(line, offset)))
    return out


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(_LINE, max_size=12),
    terminated=st.booleans(),
    crlf=st.booleans(),
    split=st.integers(1, 40),
    block=st.integers(1, 16),
)
def test_line_blocks_give_the_lines_of_lines_in_range(
    lines: list[bytes], terminated: bool, crlf: bool, split: int, block: int
) -> None:
    end = b"\r\n" if crlf else b"\n"
    data = end.join(lines) + (end if terminated and lines else b"")
    assert _blocks(data, split, block) == _records(data, split)
