"""Every CSV record carries the physical line where it starts, also after a rejected row."""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataquarantine.errors import InputError
from dataquarantine.io.csv_lines import CsvRecordLines
from dataquarantine.io.readers import read_batches


def lines_by_raw(path, **kwargs) -> dict[bytes, int]:
    out: dict[bytes, int] = {}
    for batch in read_batches(path, **kwargs):
        for raw, line in zip(batch.raws, batch.lines, strict=True):
            assert raw not in out
            out[raw] = line
    return out


def test_rows_after_a_rejected_row_keep_their_lines(make_file) -> None:
    path = make_file("a,b\n1,x\n2\n3,x,extra\n4,x\n", ".csv")
    assert lines_by_raw(path) == {
        b'{"a":"1","b":"x"}': 2,
        b"2": 3,
        b"3,x,extra": 4,
        b'{"a":"4","b":"x"}': 5,
    }


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_quoted_newlines_before_and_after_a_rejected_row(make_file, eol: str) -> None:
    text = eol.join(["a,b", '"x', 'y",1', "bad", '2,"p', "q", 'r"', "", "too,many,cells", "3,z"])
    lines = lines_by_raw(make_file(text, ".csv"))  # the last line has no terminator
    nl = eol.replace("\r", "\\r").replace("\n", "\\n").encode()  # as JSON writes it
    assert lines == {
        b'{"a":"x' + nl + b'y","b":"1"}': 2,
        b"bad": 4,
        b'{"a":"2","b":"p' + nl + b"q" + nl + b'r"}': 5,
        b"too,many,cells": 9,  # line 8 is empty: not a record, but counted
        b'{"a":"3","b":"z"}': 10,
    }


def test_rejected_first_and_last_rows(make_file) -> None:
    lines = lines_by_raw(make_file("a,b\r\nonly\r\n1,2\r\n\r\nlast,row,x", ".csv"))
    assert lines == {b"only": 2, b'{"a":"1","b":"2"}': 3, b"last,row,x": 5}


def test_many_blocks(make_file) -> None:
    rows, expected, line = ["id,name"], {}, 2
    for i in range(30_000):
        if i % 11 == 0:
            rows.append(f"{i}")
            expected[f"{i}".encode()] = line
        elif i % 13 == 0:
            rows.append(f'{i},"multi\nline {i}"')
            expected[f'{{"id":"{i}","name":"multi\\nline {i}"}}'.encode()] = line
            line += 1
        else:
            rows.append(f"{i},n{i}")
            expected[f'{{"id":"{i}","name":"n{i}"}}'.encode()] = line
        line += 1
        if i % 17 == 0:
            rows.append("")
            line += 1
    path = make_file("\n".join(rows) + "\n", ".csv")
    assert lines_by_raw(path, batch_size=500, block_size=1 << 16) == expected


def test_a_header_that_is_not_utf8_is_an_input_error(make_file) -> None:
    for head in (b"id,n\xe9\n1,2\n", b"\xff\xfe,a\n", b'"a\xff",b\n1,2\n'):
        with pytest.raises(InputError, match="not valid UTF-8"):
            list(read_batches(make_file(head, ".csv")))


# -- the line scan alone, with blocks as small as one byte, against the writer's own count

cell = st.lists(st.sampled_from(["a", "b", " ", ",", '"', "\n", "\r\n"]), max_size=6).map("".join)


def quote(value: str) -> str:
    if any(c in value for c in ',"\r\n') or not value:
        return '"' + value.replace('"', '""') + '"'
    return value


@st.composite
def csv_files(draw) -> tuple[bytes, list[tuple[int, bool]]]:
    """A CSV text and, per data record, (its start line, whether it has two cells)."""
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    out, records, line = ["a,b" + eol], [], 2
    for _ in range(draw(st.integers(0, 12))):
        if draw(st.booleans()):
            out.append(eol)  # an empty line: counted, not a record
            line += 1
            continue
        cells = draw(st.lists(cell, min_size=1, max_size=3))
        text = ",".join(quote(c) for c in cells)
        records.append((line, len(cells) == 2))
        out.append(text + eol)
        line += text.count("\n") + 1
    if records and out[-1] != eol and draw(st.booleans()):
        out[-1] = out[-1][: -len(eol)]  # no terminator on the last line
    return "".join(out).encode(), records


@settings(max_examples=200, deadline=None)
@given(csv_files(), st.integers(1, 9))
def test_line_scan_matches_the_writer(data, block_size: int) -> None:
    text, records = data
    scan = CsvRecordLines(io.BytesIO(text), block_size=block_size)
    assert scan.take(1) == [1]
    assert scan.take(len(records)) == [line for line, _ in records]


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(csv_files())
def test_reader_reports_every_record_at_its_line(make_file, data) -> None:
    text, records = data
    path = make_file(text, ".csv")
    got = sorted(
        (line, value is not None)
        for batch in read_batches(path, batch_size=3)
        for line, value in zip(batch.lines, batch.values or [], strict=True)
    )
    assert got == sorted(records)
