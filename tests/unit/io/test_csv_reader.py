from __future__ import annotations

import csv
import io

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataquarantine.errors import ConfigError, InputError
from dataquarantine.io.readers import read_batches
from dataquarantine.io.records import RecordBatch


def records(batches: list[RecordBatch]) -> list[tuple[int, object, bytes]]:
    out = []
    for batch in batches:
        assert batch.format == "csv"
        assert batch.originals is None
        assert batch.values is not None
        out.extend(zip(batch.lines, batch.values, batch.raws, strict=True))
    return out


def test_cells_stay_text_and_empty_cells_are_absent(make_file) -> None:
    path = make_file(
        'id,zip,name,note\n1,00123,"Smith, J",\n2,,"say ""hi""",NULL\n3,1e5,"",true\n',
        ".csv",
    )
    rows = records(list(read_batches(path)))
    assert rows == [
        (2, {"id": "1", "zip": "00123", "name": "Smith, J"}, rows[0][2]),
        (3, {"id": "2", "name": 'say "hi"', "note": "NULL"}, rows[1][2]),
        (4, {"id": "3", "zip": "1e5", "note": "true"}, rows[2][2]),
    ]
    for _, value, raw in rows:
        assert orjson.loads(raw) == value


def test_quoted_newlines_and_crlf(make_file) -> None:
    path = make_file('a,b\r\n"line1\nline2","x\r\ny"\r\n2,3\r\n', ".csv")
    rows = records(list(read_batches(path)))
    assert [v for _, v, _ in rows] == [{"a": "line1\nline2", "b": "x\r\ny"}, {"a": "2", "b": "3"}]
    # physical lines: the first record spans lines 2-4
    assert [n for n, _, _ in rows] == [2, 5]


def test_batches_hold_at_most_batch_size_rows_lazily(make_file) -> None:
    body = "".join(f"{i},name{i}\n" for i in range(5000))
    path = make_file("id,name\n" + body, ".csv")
    iterator = read_batches(path, batch_size=64, block_size=1 << 16)
    first = next(iterator)
    assert len(first) == 64
    batches = [first, *iterator]
    assert len(batches) >= 5000 // 64
    assert all(1 <= len(b) <= 64 for b in batches)
    rows = records(batches)
    assert [n for n, _, _ in rows] == list(range(2, 5002))
    assert [v["id"] for _, v, _ in rows] == [str(i) for i in range(5000)]  # type: ignore[index]
    assert batches[0].table.schema.names == ["id", "name"]


def test_rows_with_wrong_field_count_become_decode_errors(make_file) -> None:
    path = make_file("a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n", ".csv")
    batches = list(read_batches(path))
    rows = records(batches)
    good = [v for _, v, _ in rows if v is not None]
    assert good == [{"a": "1", "b": "2", "c": "3"}, {"a": "10", "b": "11", "c": "12"}]
    bad = {raw: n for n, v, raw in rows if v is None}
    assert set(bad) == {b"4,5", b"6,7,8,9"}
    errors = {
        batch.raws[i]: reason
        for batch in batches
        for i, reason in (batch.decode_errors or {}).items()
    }
    assert errors == {
        b"4,5": "CSV row has 2 fields, expected 3",
        b"6,7,8,9": "CSV row has 4 fields, expected 3",
    }
    assert sorted(n for n, _, _ in rows) == [2, 3, 4, 5]


def test_file_of_only_bad_rows_loses_none(make_file) -> None:
    path = make_file("a,b\n1\n2,3,4\n", ".csv")
    rows = records(list(read_batches(path)))
    assert [(v, raw) for _, v, raw in rows] == [(None, b"1"), (None, b"2,3,4")]
    assert [n for n, _, _ in rows] == [2, 3]


def test_bad_rows_across_many_blocks_are_all_kept(make_file) -> None:
    lines = [f"{i},x{i}" if i % 7 else f"{i}" for i in range(20_000)]
    path = make_file("id,name\n" + "\n".join(lines) + "\n", ".csv")
    batches = list(read_batches(path, batch_size=1000, block_size=1 << 16))
    rows = records(batches)
    assert len(rows) == 20_000
    assert sorted(n for n, _, _ in rows) == list(range(2, 20_002))
    good = sorted(int(v["id"]) for _, v, _ in rows if v is not None)  # type: ignore[index]
    bad = sorted(int(raw) for _, v, raw in rows if v is None)
    assert good == [i for i in range(20_000) if i % 7]
    assert bad == [i for i in range(20_000) if not i % 7]
    assert sum(len(b.decode_errors or {}) for b in batches) == len(bad)


def test_invalid_utf8_cell_is_a_decode_error_not_a_crash(make_file) -> None:
    path = make_file(b'id,name\n1,ok\n2,bad\xff"x\n3,"a,\xfe"\n', ".csv")
    (batch,) = list(read_batches(path))
    assert batch.values is not None
    assert batch.values[0] == {"id": "1", "name": "ok"}
    assert batch.values[1] is None and batch.values[2] is None
    assert batch.raws[1] == b'2,"bad\xff""x"'
    assert batch.raws[2] == b'3,"a,\xfe"'
    assert batch.decode_errors == {
        1: "CSV column 'name' is not valid UTF-8",
        2: "CSV column 'name' is not valid UTF-8",
    }


def test_header_only_yields_one_empty_batch_with_columns(make_file) -> None:
    path = make_file("a,b\n", ".csv")
    (batch,) = list(read_batches(path))
    assert len(batch) == 0
    assert batch.table.schema.names == ["a", "b"]


def test_empty_file_yields_nothing(make_file) -> None:
    assert list(read_batches(make_file("", ".csv"))) == []


def test_bom_and_quoted_header(make_file) -> None:
    path = make_file(b'\xef\xbb\xbf"first, name","x\ny"\nA,B\n', ".csv")
    rows = records(list(read_batches(path)))
    assert [v for _, v, _ in rows] == [{"first, name": "A", "x\ny": "B"}]


def test_duplicate_header_is_refused(make_file) -> None:
    with pytest.raises(InputError, match="two columns named 'a'"):
        list(read_batches(make_file("a,b,a\n1,2,3\n", ".csv")))


def test_missing_csv_file(tmp_path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        list(read_batches(tmp_path / "nope.csv"))


cell = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=8,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(st.lists(cell, min_size=3, max_size=3), max_size=20),
    batch_size=st.integers(1, 7),
    quoting=st.sampled_from([csv.QUOTE_ALL, csv.QUOTE_MINIMAL]),
    terminator=st.sampled_from(["\n", "\r\n"]),
)
def test_any_text_round_trips_through_python_csv_writer(
    make_file, rows, batch_size, quoting, terminator
) -> None:
    if quoting == csv.QUOTE_MINIMAL:
        terminator = "\r\n"  # with "\n", Python's writer leaves a lone "\r" unquoted
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, quoting=quoting, lineterminator=terminator)
    writer.writerow(["a", "b", "c"])
    writer.writerows(rows)
    path = make_file(buf.getvalue(), ".csv")
    got = [v for _, v, _ in records(list(read_batches(path, batch_size=batch_size)))]
    expected = [{k: v for k, v in zip("abc", row, strict=True) if v} for row in rows]
    assert got == expected
