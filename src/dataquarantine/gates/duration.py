"""Durations as people write them in gate files and options: ``24h``, ``30m``, ``1h30m``, ``7d``."""

from __future__ import annotations

import math
import re
from datetime import timedelta

__all__ = [
    "MAX_STATEMENT_TIMEOUT",
    "format_duration",
    "parse_duration",
    "parse_statement_timeout",
]

_UNITS: dict[str, timedelta] = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
# Far beyond any sensible timeout or age, and well inside timedelta's range.
_MAX = timedelta(days=36_500)
#: PostgreSQL's largest ``statement_timeout``: INT_MAX milliseconds (about 24.8 days).
MAX_STATEMENT_TIMEOUT = timedelta(milliseconds=2**31 - 1)


def parse_duration(text: str | float) -> timedelta:
    """``"24h"`` -> 24 hours. Units ms, s, m, h, d, w, combinable (``1h30m``); a bare number is
    seconds. Raises ValueError unless the result is positive and at most 100 years."""
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a duration")
    try:
        value = _parse(text)
    except OverflowError:
        # Larger than timedelta can hold (or infinite): far beyond the limit below.
        raise ValueError(f"duration {text!r} is too long (at most 100 years)") from None
    if value <= timedelta(0):
        raise ValueError(f"duration {text!r} must be positive")
    if value > _MAX:
        raise ValueError(f"duration {text!r} is too long (at most 100 years)")
    return value


def _parse(text: str | float) -> timedelta:
    if isinstance(text, int | float):
        if math.isnan(text):
            raise ValueError(f"{text!r} is not a duration")
        return timedelta(seconds=text)
    compact = text.strip().lower().replace(" ", "")
    if _NUMBER.fullmatch(compact):
        return timedelta(seconds=float(compact))
    if _WHOLE.fullmatch(compact):
        return sum((float(n) * _UNITS[unit] for n, unit in _PART.findall(compact)), timedelta())
    raise ValueError(
        f"{text!r} is not a duration: use a number and a unit (ms, s, m, h, d, w), "
        "e.g. 30s, 24h, 7d or 1h30m"
    )


def parse_statement_timeout(text: str | float | timedelta) -> timedelta:
    """A duration usable as PostgreSQL's ``statement_timeout``: positive, at least 1 ms and at
    most :data:`MAX_STATEMENT_TIMEOUT` (INT_MAX ms, about 24.8 days). ValueError otherwise."""
    value = text if isinstance(text, timedelta) else parse_duration(text)
    if value < timedelta(milliseconds=1):
        raise ValueError(f"statement timeout {format_duration(value)} is below 1ms")
    if value > MAX_STATEMENT_TIMEOUT:
        raise ValueError(
            f"statement timeout {text!r} is too long: PostgreSQL allows at most "
            f"{format_duration(MAX_STATEMENT_TIMEOUT)} (2147483647 ms, about 24.8 days)"
        )
    return value


def format_duration(value: timedelta) -> str:
    """The shortest exact spelling in the units above: 86400 s -> ``1d``, 5400 s -> ``1h30m``."""
    micros = value // timedelta(microseconds=1)
    if micros % 1000:
        return f"{value.total_seconds():g}s"
    ms = micros // 1000
    parts: list[str] = []
    for unit in ("w", "d", "h", "m", "s", "ms"):
        size = _UNITS[unit] // timedelta(milliseconds=1)
        n, ms = divmod(ms, size)
        if n:
            parts.append(f"{n}{unit}")
    return "".join(parts) or "0s"
