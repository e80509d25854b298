"""Timestamps and durations: RFC 3339 and duration strings, time zones, field getters.

The two formatters live in :mod:`~dataquarantine.validation.rules.values` (the values' ``repr``
uses them) and are re-exported here.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from functools import lru_cache
from typing import Final

from dataquarantine.validation.rules.values import (
    NANOS,
    CelError,
    Duration,
    Timestamp,
    format_duration,
    format_timestamp,
)

__all__ = [
    "duration_field",
    "format_duration",
    "format_timestamp",
    "parse_duration",
    "parse_timestamp",
    "timestamp_field",
]

_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))\Z"
)
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_NANOS: Final = {
    "ns": 1,
    "us": 1000,
    "µs": 1000,
    "μs": 1000,
    "ms": 1_000_000,
    "s": NANOS,
    "m": 60 * NANOS,
    "h": 3600 * NANOS,
}
_OFFSET = re.compile(r"([+-])?(\d{1,2}):(\d{2})\Z")


def parse_timestamp(text: str) -> Timestamp:
    """An RFC 3339 timestamp (``2024-01-02T03:04:05.123456789Z``, or with an offset)."""
    m = _RFC3339.match(text)
    if m is None:
        raise CelError(f"invalid timestamp {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    try:
        moment = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)
    except ValueError as exc:
        raise CelError(f"invalid timestamp {text!r}: {exc}") from None
    fraction = m.group(7) or ""
    nanos = int(fraction.ljust(9, "0")) if fraction else 0
    offset = 0
    if m.group(9):
        offset = (int(m.group(10)) * 60 + int(m.group(11))) * 60
        if m.group(9) == "-":
            offset = -offset
    delta = moment - _EPOCH
    seconds = delta.days * 86400 + delta.seconds - offset
    return Timestamp.checked(seconds * NANOS + nanos)


def parse_duration(text: str) -> Duration:
    """A duration string: an optional sign, then decimal numbers with units
    (``h``, ``m``, ``s``, ``ms``, ``us``, ``ns``), e.g. ``-1h30m``, ``1.5s``."""
    body = text
    sign = 1
    if body[:1] in "+-" and body:
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if body == "0":
        return Duration(0)
    if not body:
        raise CelError(f"invalid duration {text!r}")
    total = 0
    pos = 0
    while pos < len(body):
        m = _DURATION_PART.match(body, pos)
        if m is None:
            raise CelError(f"invalid duration {text!r}")
        number, unit = m.groups()
        whole, _, frac = number.partition(".")
        scale = _UNIT_NANOS[unit]
        total += int(whole or "0") * scale
        if frac:
            total += int(frac) * scale // 10 ** len(frac)
        pos = m.end()
    return Duration.checked(sign * total)


@lru_cache(maxsize=64)
def _zone(name: str) -> dt.tzinfo:
    m = _OFFSET.match(name)
    if m is not None:
        minutes = int(m.group(2)) * 60 + int(m.group(3))
        if minutes >= 24 * 60:
            raise CelError(f"invalid time zone offset {name!r}")
        sign = -1 if m.group(1) == "-" else 1
        return dt.timezone(dt.timedelta(minutes=sign * minutes))
    if name in ("UTC", "Z"):
        return dt.UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise CelError(f"unknown time zone {name!r}") from exc


def timestamp_field(ts: Timestamp, field: str, zone: str | None) -> int:
    """``getFullYear()`` and the other timestamp getters, in UTC or in ``zone``."""
    try:
        moment = ts.to_datetime(_zone(zone) if zone is not None else dt.UTC)
    except OverflowError:
        raise CelError("timestamp out of range in that time zone") from None
    match field:
        case "getFullYear":
            return moment.year
        case "getMonth":
            return moment.month - 1
        case "getDayOfYear":
            return moment.timetuple().tm_yday - 1
        case "getDayOfMonth":
            return moment.day - 1
        case "getDate":
            return moment.day
        case "getDayOfWeek":
            return (moment.weekday() + 1) % 7  # Sunday is 0
        case "getHours":
            return moment.hour
        case "getMinutes":
            return moment.minute
        case "getSeconds":
            return moment.second
        case "getMilliseconds":
            return ts.nanos // 1_000_000
    raise CelError(f"no such function: {field}")


def duration_field(d: Duration, field: str) -> int:
    """``getHours()`` and the other duration getters (whole units, truncated)."""
    units = {
        "getHours": 3600 * NANOS,
        "getMinutes": 60 * NANOS,
        "getSeconds": NANOS,
        "getMilliseconds": 1_000_000,
    }
    scale = units.get(field)
    if scale is None:
        raise CelError(f"no such function: {field}")
    whole = abs(d.nanos) // scale
    if field == "getMilliseconds":
        whole = abs(d.nanos) % NANOS // scale
    return -whole if d.nanos < 0 else whole
