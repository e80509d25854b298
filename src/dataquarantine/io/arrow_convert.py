"""Arrow columns to JSON-compatible Python values (imports pyarrow: load lazily).

Mapping (applied at every nesting level):

* timestamp -> RFC 3339 string: ``Z`` for UTC, ``+HH:MM`` for other zones, no offset for naive
  timestamps; the unit's full precision is kept (nanoseconds included);
* date -> ``YYYY-MM-DD``; time -> ``HH:MM:SS[.fff...]``; duration -> ISO 8601 ``PT<seconds>S``;
* decimal -> ``int`` when integral, else ``float`` (a float keeps ~15-17 significant digits, so
  a decimal with more than that is rounded: the original Parquet value is untouched and the
  valid-record Parquet sink writes the original column);
* binary -> base64 string; NaN / +-infinity -> ``"NaN"``, ``"Infinity"``, ``"-Infinity"``
  (JSON has no such numbers; a string makes a ``number`` field fail loudly instead of becoming
  ``null``);
* struct -> dict whose null fields are omitted (like an empty CSV cell); list -> list (null
  items kept, positions matter); map -> dict when all keys are strings, else ``[key, value]``
  pairs; dictionary-encoded -> the decoded values.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["column_to_python", "jsonable"]

Converter = Callable[[Any], Any]
_DURATION_SCALE = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_UTC_ZONES = frozenset(
    {"UTC", "ETC/UTC", "Z", "+00:00", "+0000", "UCT", "ETC/UCT", "ZULU", "ETC/ZULU"}
    | {"UNIVERSAL", "ETC/UNIVERSAL", "GMT", "ETC/GMT", "GMT0", "ETC/GMT0", "GREENWICH"}
    | {"ETC/GREENWICH", "GMT+0", "GMT-0", "ETC/GMT+0", "ETC/GMT-0"}
)


def column_to_python(arr: pa.Array) -> list[Any]:
    """The values of one Arrow column as JSON-compatible Python objects (``None`` for null)."""
    t = arr.type
    if pa.types.is_dictionary(t):
        arr = arr.dictionary_decode()
        t = arr.type
    if pa.types.is_timestamp(t):
        return _timestamp_text(arr).to_pylist()  # type: ignore[no-any-return]
    if pa.types.is_floating(t) and not pc.any(pc.invert(pc.is_finite(arr))).as_py():
        return arr.to_pylist()  # type: ignore[no-any-return]
    naive = _map_type(t, _utc_as_naive)
    if naive is not None:
        arr = arr.cast(naive)
    target = _map_type(arr.type, _temporal_as_text)
    if target is not None:
        arr = arr.cast(target)
    convert = _converter(t)
    if convert is None:
        return arr.to_pylist()  # type: ignore[no-any-return]
    return [None if v is None else convert(v) for v in arr.to_pylist()]


def jsonable(value: Any) -> Any:
    """Best-effort JSON-compatible form of a Python value of unknown (extension) Arrow type."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dt.datetime):
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return _iso_duration(value // dt.timedelta(microseconds=1), 1_000_000)
    if isinstance(value, Decimal):
        return _decimal(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    return str(value)


def _converter(t: pa.DataType) -> Converter | None:
    """A per-value converter for non-null values of type ``t``; ``None`` when they are fine."""
    types = pa.types
    if types.is_timestamp(t):
        if t.tz is None:
            return _naive_text
        return _utc_text if _is_utc(t.tz) else _zoned_text
    if types.is_date(t) or types.is_time(t):
        return None  # already ISO text after the cast
    if types.is_duration(t):
        scale = _DURATION_SCALE[t.unit]
        return lambda v: _iso_duration(v, scale)
    if types.is_decimal(t):
        return _decimal
    if types.is_binary(t) or types.is_large_binary(t) or types.is_fixed_size_binary(t):
        return _base64
    if types.is_floating(t):
        return _float
    if types.is_struct(t):
        return _struct_converter(t)
    if types.is_map(t):
        return _map_converter(t)
    if types.is_list(t) or types.is_large_list(t) or types.is_fixed_size_list(t):
        item = _converter(t.value_type)
        if item is None:
            return None
        return lambda v: [None if x is None else item(x) for x in v]
    if types.is_dictionary(t):
        return _converter(t.value_type) or jsonable
    if _is_plain(t):
        return None
    return jsonable


def _is_plain(t: pa.DataType) -> bool:
    types = pa.types
    return bool(
        types.is_integer(t)
        or types.is_boolean(t)
        or types.is_string(t)
        or types.is_large_string(t)
        or types.is_null(t)
    )


def _struct_converter(t: pa.StructType) -> Converter:
    fields = [(t.field(i).name, _converter(t.field(i).type)) for i in range(t.num_fields)]

    def convert(v: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, conv in fields:
            x = v.get(name)
            if x is not None:
                out[name] = x if conv is None else conv(x)
        return out

    return convert


def _map_converter(t: pa.MapType) -> Converter:
    key_conv = _converter(t.key_type)
    item_conv = _converter(t.item_type)

    def convert(v: list[tuple[Any, Any]]) -> Any:
        pairs = [
            (
                k if key_conv is None else key_conv(k),
                None if x is None else (x if item_conv is None else item_conv(x)),
            )
            for k, x in v
        ]
        if all(isinstance(k, str) for k, _ in pairs):
            return dict(pairs)
        return [[k, x] for k, x in pairs]

    return convert


def _map_type(t: pa.DataType, leaf: Callable[[pa.DataType], pa.DataType | None]) -> Any:
    """``t`` with every leaf for which ``leaf`` gives a type replaced; ``None`` if unchanged."""
    types = pa.types
    if types.is_struct(t):
        fields = [t.field(i) for i in range(t.num_fields)]
        subs = [_map_type(f.type, leaf) for f in fields]
        if all(s is None for s in subs):
            return None
        return pa.struct(
            [f if s is None else f.with_type(s) for f, s in zip(fields, subs, strict=True)]
        )
    if types.is_list(t) or types.is_large_list(t) or types.is_fixed_size_list(t):
        sub = _map_type(t.value_type, leaf)
        if sub is None:
            return None
        field = t.value_field.with_type(sub)
        if types.is_large_list(t):
            return pa.large_list(field)
        if types.is_fixed_size_list(t):
            return pa.list_(field, t.list_size)
        return pa.list_(field)
    if types.is_map(t):
        key, item = _map_type(t.key_type, leaf), _map_type(t.item_type, leaf)
        if key is None and item is None:
            return None
        return pa.map_(
            t.key_field.with_type(key or t.key_type),
            t.item_field.with_type(item or t.item_type),
            t.keys_sorted,
        )
    return leaf(t)


def _utc_as_naive(t: pa.DataType) -> pa.DataType | None:
    # Arrow formats zoned timestamps through the time zone database (~50x slower); a UTC
    # timestamp formats the same once its zone is dropped (the stored instant is UTC).
    if pa.types.is_timestamp(t) and _is_utc(t.tz):
        return pa.timestamp(t.unit)
    return None


def _temporal_as_text(t: pa.DataType) -> pa.DataType | None:
    # Arrow formats temporal values itself, which keeps nanoseconds (Python datetimes cannot).
    types = pa.types
    if types.is_timestamp(t) or types.is_date(t) or types.is_time(t):
        return pa.string()
    if types.is_duration(t):
        return pa.int64()
    return None


def _timestamp_text(arr: pa.Array) -> pa.Array:
    """RFC 3339 strings of a timestamp array, computed in Arrow."""
    t = arr.type
    if _is_utc(t.tz):
        text = arr.cast(pa.timestamp(t.unit)).cast(pa.string())
        text = pc.replace_substring(text, " ", "T", max_replacements=1)
        return pc.binary_join_element_wise(text, pa.scalar("Z"), pa.scalar(""))
    text = pc.replace_substring(arr.cast(pa.string()), " ", "T", max_replacements=1)
    if t.tz is None:
        return text
    return pc.replace_substring_regex(text, r"([+-]\d\d)(\d\d)$", r"\1:\2")


def _is_utc(tz: str | None) -> bool:
    return tz is not None and tz.upper() in _UTC_ZONES


def _utc_text(text: str) -> str:
    return text[:10] + "T" + text[11:] + "Z"


def _naive_text(text: str) -> str:
    return text[:10] + "T" + text[11:]


def _zoned_text(text: str) -> str:
    # Arrow writes "YYYY-MM-DD HH:MM:SS[.f]+HHMM".
    text = text[:10] + "T" + text[11:]
    if text[-5:-4] in ("+", "-") and text[-4:].isascii() and text[-4:].isdigit():
        return text[:-2] + ":" + text[-2:]
    return text


def _iso_duration(count: int, scale: int) -> str:
    sign = "-" if count < 0 else ""
    seconds, rest = divmod(abs(count), scale)
    frac = f".{rest:0{len(str(scale)) - 1}d}".rstrip("0") if rest else ""
    return f"{sign}PT{seconds}{frac}S"


def _decimal(value: Decimal) -> int | float:
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def _base64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _float(value: float) -> float | str:
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"
