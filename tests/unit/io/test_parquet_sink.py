from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dataquarantine.errors import ConfigError
from dataquarantine.io import parquet_sink
from dataquarantine.io.readers import read_batches
from dataquarantine.io.sinks import open_valid_sink


def hidden(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(".")]


def coerce(row: dict[str, str] | None, types: dict[str, str]) -> dict[str, Any] | None:
    """What the engine does to a CSV row before the sink sees it (a test double)."""
    if row is None:
        return None
    casts: dict[str, Any] = {"integer": int, "number": float, "boolean": lambda s: s == "true"}
    return {k: casts.get(types.get(k, ""), str)(v) for k, v in row.items()}


def test_parquet_input_keeps_types_and_only_valid_rows(make_parquet, tmp_path: Path) -> None:
    table = pa.table(
        {
            "id": pa.array(range(10), pa.int32()),
            "at": pa.array([i * 10**9 for i in range(10)], pa.timestamp("ns", tz="UTC")),
            "amount": pa.array([Decimal(f"{i}.25") for i in range(10)], pa.decimal128(9, 2)),
            "tags": pa.array([[str(i)] for i in range(10)], pa.list_(pa.string())),
            "meta": pa.array([{"k": i} for i in range(10)], pa.struct([("k", pa.int8())])),
        }
    )
    out = tmp_path / "valid.parquet"
    with open_valid_sink(out, "parquet") as sink:
        for batch in read_batches(make_parquet(table), batch_size=4):
            sink.write(batch, [i for i, n in enumerate(batch.lines) if n % 2 == 1])
    written = pq.read_table(out)
    assert written.schema.equals(table.schema, check_metadata=False)
    assert written.to_pylist() == table.take([0, 2, 4, 6, 8]).to_pylist()


def test_all_valid_batches_are_written_whole(make_parquet, tmp_path: Path) -> None:
    table = pa.table({"x": list(range(7))})
    out = tmp_path / "valid.parquet"
    with open_valid_sink(out, "parquet") as sink:
        for batch in read_batches(make_parquet(table), batch_size=3):
            sink.write(batch, range(len(batch)), batch.values)
    assert pq.read_table(out).to_pylist() == table.to_pylist()


def test_csv_input_typed_by_column_types_in_header_order(make_file, tmp_path: Path) -> None:
    path = make_file(
        "zip,id,price,ok,note,extra\n00123,1,9.5,true,hello,\n,2,3,false,,x\nbad,3,1,true,,\n",
        ".csv",
    )
    types = {"id": "integer", "price": "number", "ok": "boolean", "zip": "string", "x": "object"}
    out = tmp_path / "valid.parquet"
    with open_valid_sink(out, "csv", column_types=types) as sink:
        for batch in read_batches(path):
            assert batch.values is not None
            values = [coerce(v, types) for v in batch.values]
            sink.write(batch, [0, 1], values)
    written = pq.read_table(out)
    assert written.schema.names == ["zip", "id", "price", "ok", "note", "extra"]
    assert [f.type for f in written.schema] == [
        pa.string(),
        pa.int64(),
        pa.float64(),
        pa.bool_(),
        pa.string(),
        pa.string(),
    ]
    assert written.to_pylist() == [
        {"zip": "00123", "id": 1, "price": 9.5, "ok": True, "note": "hello", "extra": None},
        {"zip": None, "id": 2, "price": 3.0, "ok": False, "note": None, "extra": "x"},
    ]


def test_csv_non_string_values_in_text_columns_are_json_encoded(make_file, tmp_path) -> None:
    path = make_file("a,b\n1,2\n", ".csv")
    out = tmp_path / "valid.parquet"
    with open_valid_sink(out, "csv", column_types={"a": "array"}) as sink:
        for batch in read_batches(path):
            sink.write(batch, [0], [{"a": [1, {"k": None}], "b": 2**70}])
    assert pq.read_table(out).to_pylist() == [{"a": '[1,{"k":null}]', "b": str(2**70)}]


def test_csv_without_values_converts_the_raw_strings(make_file, tmp_path) -> None:
    path = make_file("n,x,f\n7,1.5,false\n", ".csv")
    out = tmp_path / "valid.parquet"
    types = {"n": "integer", "x": "number", "f": "boolean"}
    with open_valid_sink(out, "csv", column_types=types) as sink:
        for batch in read_batches(path):
            sink.write(batch, [0])
    assert pq.read_table(out).to_pylist() == [{"n": 7, "x": 1.5, "f": False}]


def test_csv_value_that_does_not_fit_its_column_type(make_file, tmp_path) -> None:
    path = make_file("n\n7\n", ".csv")
    sink = open_valid_sink(tmp_path / "valid.parquet", "csv", column_types={"n": "integer"})
    (batch,) = list(read_batches(path))
    with pytest.raises(ConfigError, match=r":2: column 'n' is int64"):
        sink.write(batch, [0], [{"n": "seven"}])
    sink.abort()
    assert not hidden(tmp_path)


@pytest.mark.parametrize(
    ("kind", "value"), [("integer", 3.5), ("integer", True), ("number", True), ("boolean", 1)]
)
def test_no_silent_truncation_or_coercion(make_file, tmp_path, kind, value) -> None:
    path = make_file("n\n7\n", ".csv")
    sink = open_valid_sink(tmp_path / "valid.parquet", "csv", column_types={"n": kind})
    (batch,) = list(read_batches(path))
    with pytest.raises(ConfigError, match="column 'n'"):
        sink.write(batch, [0], [{"n": value}])
    sink.abort()


def test_integral_floats_and_numeric_text_are_converted(make_file, tmp_path) -> None:
    path = make_file("i,f\n1,2\n", ".csv")
    out = tmp_path / "valid.parquet"
    types = {"i": "integer", "f": "number"}
    with open_valid_sink(out, "csv", column_types=types) as sink:
        for batch in read_batches(path):
            sink.write(batch, [0], [{"i": 3.0, "f": 2**70}])
    assert pq.read_table(out).to_pylist() == [{"i": 3, "f": float(2**70)}]


def test_several_inputs_append_with_a_fixed_schema(make_parquet, tmp_path: Path) -> None:
    first = make_parquet(pa.table({"a": pa.array([1, 2], pa.int64()), "b": ["x", "y"]}))
    second = make_parquet(pa.table({"b": ["z"], "a": pa.array([3], pa.int32())}))
    third = make_parquet(pa.table({"a": pa.array([4], pa.int64())}))
    out = tmp_path / "valid.parquet"
    with open_valid_sink(out, "parquet") as sink:
        for path in (first, second, third):
            for batch in read_batches(path):
                sink.write(batch, range(len(batch)))
    assert pq.read_table(out).to_pylist() == [
        {"a": 1, "b": "x"},
        {"a": 2, "b": "y"},
        {"a": 3, "b": "z"},
        {"a": 4, "b": None},
    ]


def test_input_with_an_unknown_column_is_refused(make_parquet, tmp_path: Path) -> None:
    first = make_parquet(pa.table({"a": [1]}))
    second = make_parquet(pa.table({"a": [2], "new": [3]}))
    sink = open_valid_sink(tmp_path / "valid.parquet", "parquet")
    for batch in read_batches(first):
        sink.write(batch, [0])
    (batch,) = list(read_batches(second))
    with pytest.raises(ConfigError, match=r"columns \['new'\]"):
        sink.write(batch, [0])
    sink.abort()


def test_row_groups_are_buffered(make_parquet, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(parquet_sink, "ROW_GROUP_ROWS", 100)
    path = make_parquet(pa.table({"i": list(range(250))}))
    out = tmp_path / "valid.parquet"
    with open_valid_sink(out, "parquet") as sink:
        for batch in read_batches(path, batch_size=30):
            sink.write(batch, range(len(batch)))
    meta = pq.ParquetFile(out).metadata
    assert meta.num_rows == 250
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [120, 120, 10]


def test_temp_then_rename_and_abort(make_parquet, tmp_path: Path) -> None:
    out = tmp_path / "valid.parquet"
    (batch,) = list(read_batches(make_parquet(pa.table({"a": [1]}))))
    sink = open_valid_sink(out, "parquet")
    sink.write(batch, [0])
    assert not out.exists()
    assert len(hidden(tmp_path)) == 1
    sink.close()
    assert pq.read_table(out).to_pylist() == [{"a": 1}]
    assert not hidden(tmp_path)
    with pytest.raises(KeyError), open_valid_sink(out, "parquet") as sink:
        sink.write(batch, [])
        raise KeyError("boom")
    assert pq.read_table(out).to_pylist() == [{"a": 1}]  # the previous output survives
    assert not hidden(tmp_path)


def test_no_valid_rows_still_gives_the_columns(make_file, make_parquet, tmp_path) -> None:
    out = tmp_path / "valid.parquet"
    with open_valid_sink(out, "csv", column_types={"a": "integer"}) as sink:
        for batch in read_batches(make_file("a,b\n", ".csv")):
            sink.write(batch, [])
    written = pq.read_table(out)
    assert written.num_rows == 0
    assert written.schema == pa.schema([("a", pa.int64()), ("b", pa.string())])
    out2 = tmp_path / "nothing.parquet"
    open_valid_sink(out2, "parquet").close()
    assert pq.read_table(out2).num_columns == 0


def test_parquet_sink_usage_errors(make_file, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="written as Parquet"):
        open_valid_sink(tmp_path / "valid.jsonl", "csv")
    with pytest.raises(ConfigError, match="give a file path"):
        open_valid_sink("-", "parquet")
    sink = open_valid_sink(tmp_path / "valid.pq", "parquet")
    (batch,) = list(read_batches(make_file(b"{}\n")))
    with pytest.raises(ConfigError, match="needs CSV or Parquet input"):
        sink.write(batch, [0])
    sink.abort()


def test_arrow_type_mapping() -> None:
    assert parquet_sink.arrow_type("integer") == pa.int64()
    assert parquet_sink.arrow_type("number") == pa.float64()
    assert parquet_sink.arrow_type("boolean") == pa.bool_()
    assert parquet_sink.arrow_type("string") == pa.string()
    assert parquet_sink.arrow_type("object") == pa.string()
    assert parquet_sink.arrow_type(None) == pa.string()


def test_parquet_dates_survive_the_round_trip(make_parquet, tmp_path: Path) -> None:
    table = pa.table({"d": pa.array([dt.date(2024, 1, 1), None], pa.date32())})
    out = tmp_path / "valid.parquet"
    with open_valid_sink(out, "parquet") as sink:
        for batch in read_batches(make_parquet(table)):
            assert batch.values == [{"d": "2024-01-01"}, {}]
            sink.write(batch, [0, 1])
    assert pq.read_table(out).equals(table)
