from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest

from dataquarantine.errors import InputError
from dataquarantine.io.arrow_convert import column_to_python, jsonable
from dataquarantine.io.readers import read_batches
from dataquarantine.validation.parsing import parse_json


def only_batch(path):
    (batch,) = list(read_batches(path))
    assert batch.format == "parquet"
    assert batch.originals is None
    for value, raw in zip(batch.values, batch.raws, strict=True):
        assert parse_json(raw) == value
    return batch


def test_timestamps_to_rfc3339(make_parquet) -> None:
    ns = 1_700_000_000_123_456_789
    table = pa.table(
        {
            "utc_ns": pa.array([ns], pa.timestamp("ns", tz="UTC")),
            "utc_s": pa.array([1_700_000_000], pa.timestamp("s", tz="+00:00")),
            "ny_us": pa.array([ns // 1000], pa.timestamp("us", tz="America/New_York")),
            "plus2_ms": pa.array([ns // 10**6], pa.timestamp("ms", tz="+02:00")),
            "naive_us": pa.array([ns // 1000], pa.timestamp("us")),
        }
    )
    batch = only_batch(make_parquet(table))
    assert batch.values == [
        {
            "utc_ns": "2023-11-14T22:13:20.123456789Z",
            "utc_s": "2023-11-14T22:13:20.000Z",  # Parquet stores seconds as milliseconds
            "ny_us": "2023-11-14T17:13:20.123456-05:00",
            "plus2_ms": "2023-11-15T00:13:20.123+02:00",
            "naive_us": "2023-11-14T22:13:20.123456",
        }
    ]
    # the strings parse back to the same instants
    value = batch.values[0]
    assert dt.datetime.fromisoformat(value["ny_us"]) == dt.datetime(
        2023, 11, 14, 17, 13, 20, 123456, tzinfo=ZoneInfo("America/New_York")
    )


def test_dates_times_durations_decimals_binary(make_parquet) -> None:
    table = pa.table(
        {
            "d32": pa.array([dt.date(2024, 2, 29)], pa.date32()),
            "d64": pa.array([dt.date(1999, 12, 31)], pa.date64()),
            "t_ns": pa.array([3_723_000_000_001], pa.time64("ns")),
            "t_ms": pa.array([dt.time(1, 2, 3, 4000)], pa.time32("ms")),
            "dur": pa.array([90_061_500_000], pa.duration("us")),
            "neg": pa.array([-5], pa.duration("s")),
            "dec_int": pa.array([Decimal("12.00")], pa.decimal128(10, 2)),
            "dec_big": pa.array([Decimal("123456789012345678901234567")], pa.decimal128(38, 0)),
            "dec_frac": pa.array([Decimal("1.25")], pa.decimal128(5, 2)),
            "bin": pa.array([b"\x00\xffhi"], pa.binary()),
            "fbin": pa.array([b"ab"], pa.binary(2)),
        }
    )
    batch = only_batch(make_parquet(table))
    assert batch.values == [
        {
            "d32": "2024-02-29",
            "d64": "1999-12-31",
            "t_ns": "01:02:03.000000001",
            "t_ms": "01:02:03.004",
            "dur": "PT90061.5S",
            "neg": "-PT5S",
            "dec_int": 12,
            "dec_big": 123456789012345678901234567,
            "dec_frac": 1.25,
            "bin": "AP9oaQ==",
            "fbin": "YWI=",
        }
    ]
    assert b'"dec_big":123456789012345678901234567' in batch.raws[0]


def test_nested_structs_lists_maps_and_nulls(make_parquet) -> None:
    point = pa.struct(
        [("at", pa.timestamp("ns", tz="UTC")), ("tag", pa.string()), ("n", pa.int64())]
    )
    table = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "points": pa.array([[{"at": 0, "tag": "a", "n": None}], [], None], pa.list_(point)),
            "props": pa.array(
                [[("k", Decimal("1.5"))], None, []], pa.map_(pa.string(), pa.decimal128(4, 1))
            ),
            "codes": pa.array([[(1, "x")], None, None], pa.map_(pa.int32(), pa.string())),
            "dates": pa.array([[dt.date(2020, 1, 1), None], None, None], pa.list_(pa.date32())),
            "cat": pa.array(["red", "blue", None]).dictionary_encode(),
            "name": pa.array(["x", None, ""]),
        }
    )
    batch = only_batch(make_parquet(table))
    assert batch.values == [
        {
            "id": 1,
            "points": [{"at": "1970-01-01T00:00:00.000000000Z", "tag": "a"}],
            "props": {"k": 1.5},
            "codes": [[1, "x"]],
            "dates": ["2020-01-01", None],
            "cat": "red",
            "name": "x",
        },
        {"id": 2, "points": [], "cat": "blue"},
        {"id": 3, "props": {}, "name": ""},
    ]
    assert batch.lines == [1, 2, 3]
    assert batch.table.num_rows == 3


def test_non_finite_floats_become_strings(make_parquet) -> None:
    table = pa.table({"x": [1.5, math.nan, math.inf, -math.inf, None]})
    values = only_batch(make_parquet(table)).values
    assert values == [{"x": 1.5}, {"x": "NaN"}, {"x": "Infinity"}, {"x": "-Infinity"}, {}]


def test_arrow_seconds_and_zero_offset() -> None:
    arr = pa.array([1_700_000_000, None], pa.timestamp("s", tz="+00:00"))
    assert column_to_python(arr) == ["2023-11-14T22:13:20Z", None]


@pytest.mark.parametrize("nested", [False, True])
@pytest.mark.parametrize(
    ("tz", "expected"),
    [
        (None, "2024-01-15T12:00:00.000001"),
        ("UTC", "2024-01-15T12:00:00.000001Z"),
        ("Etc/GMT", "2024-01-15T12:00:00.000001Z"),
        ("Europe/London", "2024-01-15T12:00:00.000001+00:00"),
        ("Asia/Kolkata", "2024-01-15T17:30:00.000001+05:30"),
        ("-03:00", "2024-01-15T09:00:00.000001-03:00"),
    ],
)
def test_timestamp_zones_top_level_and_nested(tz, expected, nested) -> None:
    instant = int(dt.datetime(2024, 1, 15, 12, tzinfo=dt.UTC).timestamp()) * 10**6 + 1
    arr = pa.array([instant, None], pa.timestamp("us", tz=tz))
    if nested:
        arr = pa.StructArray.from_arrays([arr], names=["t"])
        assert column_to_python(arr) == [{"t": expected}, {}]
    else:
        assert column_to_python(arr) == [expected, None]


def test_finite_floats_fast_path() -> None:
    assert column_to_python(pa.array([1.0, None, 2.5])) == [1.0, None, 2.5]


def test_many_lazy_batches_across_row_groups(make_parquet) -> None:
    path = make_parquet({"i": list(range(1000))}, row_group_size=300)
    iterator = read_batches(path, batch_size=64)
    first = next(iterator)
    assert len(first) == 64
    batches = [first, *iterator]
    assert len(batches) >= 1000 // 64
    assert all(1 <= len(b) <= 64 for b in batches)
    assert [v["i"] for b in batches for v in b.values] == list(range(1000))
    assert [n for b in batches for n in b.lines] == list(range(1, 1001))


def test_empty_parquet_yields_one_empty_batch_with_schema(make_parquet) -> None:
    path = make_parquet(pa.table({"a": pa.array([], pa.int32()), "b": pa.array([], pa.string())}))
    (batch,) = list(read_batches(path))
    assert len(batch) == 0
    assert batch.table.schema.names == ["a", "b"]
    assert batch.table.schema.field("a").type == pa.int32()


def test_not_a_parquet_file(make_file) -> None:
    with pytest.raises(InputError, match="cannot read Parquet input"):
        list(read_batches(make_file(b"not parquet at all", ".parquet")))


def test_jsonable_fallback_for_python_values() -> None:
    value = {
        "when": dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        "naive": dt.datetime(2024, 1, 1, 12),
        "day": dt.date(2024, 1, 2),
        "span": dt.timedelta(seconds=1, microseconds=5),
        "dec": Decimal("2.0"),
        "raw": b"\x01",
        "nan": math.nan,
        "items": (1, None),
        "none": None,
        "other": complex(1, 2),
    }
    assert jsonable(value) == {
        "when": "2024-01-01T00:00:00Z",
        "naive": "2024-01-01T12:00:00",
        "day": "2024-01-02",
        "span": "PT1.000005S",
        "dec": 2,
        "raw": "AQ==",
        "nan": "NaN",
        "items": [1, None],
        "other": "(1+2j)",
    }
