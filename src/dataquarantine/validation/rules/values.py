"""CEL values in Python, and the conversion of decoded records into them.

``int`` is a Python ``int`` within int64, ``uint`` a :class:`UInt`, ``double`` a ``float``,
``string`` a ``str``, ``bytes`` ``bytes``, ``bool`` a ``bool``, ``null`` ``None``, ``list`` a
``list``, ``map`` a ``dict`` (a ``bool`` key is held as a :class:`BoolKey`, so that ``true``
and ``1`` stay distinct keys), ``google.protobuf.Timestamp`` a :class:`Timestamp`,
``google.protobuf.Duration`` a :class:`Duration`, and a type a :class:`CelType`.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "UINT64_MAX",
    "BoolKey",
    "CelError",
    "CelType",
    "Duration",
    "Timestamp",
    "UInt",
    "format_duration",
    "format_timestamp",
    "from_record",
    "map_key",
    "to_python_key",
    "type_name",
]

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
UINT64_MAX: Final = 2**64 - 1
#: Timestamps span 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999999Z.
TS_MIN_SECONDS: Final = -62135596800
TS_MAX_SECONDS: Final = 253402300799
NANOS: Final = 1_000_000_000
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class CelError(Exception):
    """A CEL evaluation error (a value in CEL; raised here)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UInt(int):
    """A CEL ``uint`` (0 .. 2**64-1)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"{int(self)}u"


@dataclass(frozen=True, slots=True)
class BoolKey:
    """A ``bool`` map key (``True`` and ``1`` are the same Python dict key)."""

    value: bool


@dataclass(frozen=True, slots=True, order=True)
class Timestamp:
    """A point in time: ``seconds`` since the Unix epoch (UTC) plus ``nanos`` (0..1e9-1)."""

    seconds: int
    nanos: int = 0

    @staticmethod
    def checked(total_nanos: int) -> Timestamp:
        seconds, nanos = divmod(total_nanos, NANOS)
        if not TS_MIN_SECONDS <= seconds <= TS_MAX_SECONDS:
            raise CelError("timestamp out of range")
        return Timestamp(seconds, nanos)

    @property
    def total_nanos(self) -> int:
        return self.seconds * NANOS + self.nanos

    def to_datetime(self, tz: dt.tzinfo = dt.UTC) -> dt.datetime:
        """The datetime (microsecond precision) in ``tz``."""
        base = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        moment = base + dt.timedelta(seconds=self.seconds, microseconds=self.nanos // 1000)
        return moment.astimezone(tz)

    def __repr__(self) -> str:
        return f"timestamp({format_timestamp(self)!r})"


@dataclass(frozen=True, slots=True, order=True)
class Duration:
    """A signed span of time, in nanoseconds."""

    nanos: int

    @staticmethod
    def checked(nanos: int) -> Duration:
        if not INT64_MIN <= nanos <= INT64_MAX:  # about +-292 years, as the spec's tests
            raise CelError("duration out of range")
        return Duration(nanos)

    def __repr__(self) -> str:
        return f"duration({format_duration(self)!r})"


def format_timestamp(ts: Timestamp) -> str:
    """RFC 3339 in UTC, with as many fraction digits as needed (0, 3, 6 or 9)."""
    moment = _EPOCH + dt.timedelta(seconds=ts.seconds)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.year < 1000:
        text = f"{moment.year:04d}" + text[text.index("-") :]
    return text + _fraction(ts.nanos) + "Z"


def format_duration(d: Duration) -> str:
    """Seconds with a fraction as needed and an ``s`` (``1.5s``, ``-0.000000001s``)."""
    sign = "-" if d.nanos < 0 else ""
    seconds, nanos = divmod(abs(d.nanos), NANOS)
    return f"{sign}{seconds}{_fraction(nanos)}s"


def _fraction(nanos: int) -> str:
    if nanos == 0:
        return ""
    if nanos % 1_000_000 == 0:
        return f".{nanos // 1_000_000:03d}"
    if nanos % 1000 == 0:
        return f".{nanos // 1000:06d}"
    return f".{nanos:09d}"


@dataclass(frozen=True, slots=True)
class CelType:
    """A CEL type value (``type(1) == int``)."""

    name: str

    def __repr__(self) -> str:
        return self.name


def type_name(value: object) -> str:
    """The CEL type name of a value."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, UInt):
        return "uint"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bytes):
        return "bytes"
    if value is None:
        return "null_type"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "map"
    if isinstance(value, Timestamp):
        return "google.protobuf.Timestamp"
    if isinstance(value, Duration):
        return "google.protobuf.Duration"
    if isinstance(value, CelType):
        return "type"
    return type(value).__name__


def map_key(value: object) -> object:
    """The dict key for a CEL map key; :class:`CelError` if the type cannot be a key."""
    if isinstance(value, bool):
        return BoolKey(value)
    if isinstance(value, str | int):
        return value
    raise CelError(f"unsupported map key type: {type_name(value)}")


_NO_KEY: Final = object()


def lookup_key(value: object) -> object:
    """The dict key to look up ``value`` with (numbers compare by value across types)."""
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        return _NO_KEY
    return map_key(value)


def to_python_key(key: object) -> object:
    """A dict key back as its CEL value."""
    return key.value if isinstance(key, BoolKey) else key


def _number(value: int) -> int | float:
    """A decoded integer: ``int`` within int64, ``uint`` up to 2**64-1, beyond: ``double``."""
    if INT64_MIN <= value <= INT64_MAX:
        return value
    if 0 <= value <= UINT64_MAX:
        return UInt(value)
    return float(value)


def from_record(value: Any) -> Any:
    """A decoded record value as a CEL value (see the module docstring and docs/contracts.md).

    JSON numbers: an integer within int64 is an ``int``, above it up to 2**64-1 a ``uint``,
    beyond a ``double``; a number with a fraction or exponent is a ``double``. A ``Decimal``
    is a double, a UUID its string, a date a timestamp at UTC midnight, a time of day the
    duration since midnight, a naive datetime is taken as UTC. Iterative: any nesting depth."""
    root, stack = _shallow(value)
    while stack:
        source, target = stack.pop()
        if isinstance(target, list):
            for item in source:
                converted, more = _shallow(item)
                target.append(converted)
                stack += more
        else:
            for k, v in source.items():
                key = map_key(_number(k) if isinstance(k, int) and not isinstance(k, bool) else k)
                converted, more = _shallow(v)
                target[key] = converted
                stack += more
    return root


_Pending = list[tuple[Any, Any]]


def _shallow(value: Any) -> tuple[Any, _Pending]:
    """``value`` converted, with an empty container for a dict or list (and the pair to fill)."""
    if isinstance(value, dict):
        mapping: dict[object, Any] = {}
        return mapping, [(value, mapping)]
    if isinstance(value, list | tuple):
        items: list[Any] = []
        return items, [(value, items)]
    return _scalar(value), []


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, bool | str | float | bytes):
        return value
    if isinstance(value, int):
        return _number(value)
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        delta = aware - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        micros = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
        return Timestamp.checked(micros * 1000)
    if isinstance(value, dt.date):
        return _scalar(dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC))
    if isinstance(value, dt.time):
        seconds = value.hour * 3600 + value.minute * 60 + value.second
        return Duration(seconds * NANOS + value.microsecond * 1000)
    if isinstance(value, dt.timedelta):
        micros = (value.days * 86400 + value.seconds) * 1_000_000 + value.microseconds
        return Duration.checked(micros * 1000)
    if isinstance(value, Timestamp | Duration | CelType):
        return value
    raise CelError(f"record value of type {type(value).__name__} has no CEL type")
