"""Durations as people write them in gate files and options: ``24h``, ``30m``, ``1h30m``, ``7d``."""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["format_duration", "parse_duration"]

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


def parse_duration(text: str | float) -> timedelta:
    """``"24h"`` -> 24 hours. Units ms, s, m, h, d, w, combinable (``1h30m``); a bare number is
    seconds. Raises ValueError unless the result is positive and at most 100 years."""
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a duration")
    if isinstance(text, int | float):
        value = timedelta(seconds=text)
    else:
        compact = text.strip().lower().replace(" ", "")
        if _NUMBER.fullmatch(compact):
            value = timedelta(seconds=float(compact))
        elif _WHOLE.fullmatch(compact):
            value = sum(
                (float(n) * _UNITS[unit] for n, unit in _PART.findall(compact)), timedelta()
            )
        else:
            raise ValueError(
                f"{text!r} is not a duration: use a number and a unit (ms, s, m, h, d, w), "
                "e.g. 30s, 24h, 7d or 1h30m"
            )
    if value <= timedelta(0):
        raise ValueError(f"duration {text!r} must be positive")
    if value > _MAX:
        raise ValueError(f"duration {text!r} is too long (at most 100 years)")
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
