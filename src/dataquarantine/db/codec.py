"""Values as each database stores them: UTC timestamps (integer microseconds since the epoch
on SQLite, ``timestamptz`` on PostgreSQL) and the driver's bind-parameter mark."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dataquarantine.db.url import SqliteTarget, StoreTarget

__all__ = [
    "decode_ts",
    "encode_ts",
    "from_epoch_micros",
    "placeholder",
    "to_epoch_micros",
    "to_utc",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def to_utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive datetime is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def to_epoch_micros(value: datetime) -> int:
    """Exact microseconds since the Unix epoch (no float rounding)."""
    return (to_utc(value) - _EPOCH) // _MICROSECOND


def from_epoch_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def placeholder(target: StoreTarget) -> str:
    """The bind-parameter mark of the target's driver."""
    return "?" if isinstance(target, SqliteTarget) else "%s"


def encode_ts(target: StoreTarget, value: datetime) -> Any:
    return to_epoch_micros(value) if isinstance(target, SqliteTarget) else to_utc(value)


def decode_ts(value: Any) -> datetime:
    return to_utc(value) if isinstance(value, datetime) else from_epoch_micros(int(value))
