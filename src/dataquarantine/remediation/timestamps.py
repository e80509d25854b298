"""``iso_timestamp``: common date/time spellings to RFC 3339 UTC (``2024-05-01T10:00:00Z``).

Tried in order, the first that reads the value wins:

1. a JSON number, or a text of digits (optionally with a fraction): Unix epoch time, in the
   rule's ``epoch`` unit; ``auto`` guesses by magnitude (below 1e11 seconds, below 1e14
   milliseconds, below 1e17 microseconds, else nanoseconds). Exception: a text of exactly 8
   or 14 digits is ``YYYYMMDD`` or ``YYYYMMDDHHMMSS``;
2. ISO 8601 (``datetime.fromisoformat``: ``2024-05-01``, ``2024-05-01 10:00:00``,
   ``2024-05-01T10:00:00.123+02:00``, ``...Z``; fractions beyond microseconds are cut);
3. the rule's own ``formats`` (``strptime``), in order;
4. the built-in formats (:data:`BUILTIN_FORMATS`: day first, ``DD/MM/YYYY HH:MM`` etc.);
5. RFC 2822 (``Wed, 01 May 2024 10:00:00 +0200``).

A value without an offset is in the rule's ``timezone`` (UTC by default). The output has no
fraction when it is zero, else milliseconds or microseconds as needed, so it reads back to
itself (remediating twice changes nothing more).
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any, Final
from zoneinfo import ZoneInfo

from dataquarantine.contracts.model import EpochUnit
from dataquarantine.remediation.scalars import FAIL, SKIP, Fix

__all__ = ["BUILTIN_FORMATS", "format_utc", "iso_timestamp", "parse_timestamp"]

#: Day-first formats tried after ISO 8601 and the rule's formats (``%d/%m`` before US order).
BUILTIN_FORMATS: Final = (
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%d-%m-%Y",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%d %b %Y %H:%M:%S",
    "%d %b %Y",
    "%b %d, %Y %H:%M:%S",
    "%b %d, %Y",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S %z",
    "%Y-%m-%d %H:%M:%S %Z",
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UNITS: Final[dict[str, int]] = {
    "seconds": 1,
    "milliseconds": 1_000,
    "microseconds": 1_000_000,
    "nanoseconds": 1_000_000_000,
}
_MAX_TEXT: Final = 64
_EPOCH_TEXT = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?", re.ASCII)
_LONG_FRACTION = re.compile(r"(\.[0-9]{6})[0-9]+")


def _guess_unit(magnitude: Decimal) -> int:
    if magnitude < 10**11:
        return 1
    if magnitude < 10**14:
        return 1_000
    if magnitude < 10**17:
        return 1_000_000
    return 1_000_000_000


def _from_epoch(number: Decimal, unit: EpochUnit) -> datetime:
    per_second = _guess_unit(abs(number)) if unit == "auto" else _UNITS[unit]
    # Cut beyond microseconds (as for ISO texts), never rounded up into the next second.
    micros = (number * 1_000_000 / per_second).to_integral_value(rounding=ROUND_FLOOR)
    return _EPOCH + timedelta(microseconds=int(micros))


def _parse_text(text: str, formats: Sequence[str], unit: EpochUnit) -> datetime | None:
    if _EPOCH_TEXT.fullmatch(text):
        if len(text) in (8, 14) and text.isdigit():
            return datetime.strptime(text, "%Y%m%d" if len(text) == 8 else "%Y%m%d%H%M%S")
        return _from_epoch(Decimal(text), unit)
    try:
        return datetime.fromisoformat(_LONG_FRACTION.sub(r"\1", text))
    except ValueError:
        pass
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    try:
        return email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


def parse_timestamp(
    value: Any,
    *,
    formats: Sequence[str] = (),
    epoch: EpochUnit = "auto",
    zone: tzinfo = UTC,
) -> datetime | None:
    """The aware UTC datetime ``value`` spells, or ``None``. Raises nothing on any value."""
    try:
        if type(value) is int:
            parsed: datetime | None = _from_epoch(Decimal(value), epoch)
        elif type(value) is float:  # its shortest spelling: 0.123, not 0.12299999...
            parsed = _from_epoch(Decimal(repr(value)), epoch)
        elif type(value) is str:
            text = value.strip()
            if not text or len(text) > _MAX_TEXT:
                return None
            parsed = _parse_text(text, (*formats, *BUILTIN_FORMATS), epoch)
        else:
            return None
        if parsed is None:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=zone)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError, InvalidOperation, ArithmeticError):
        return None


def format_utc(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``; the fraction only as precise as needed."""
    moment = moment.astimezone(UTC).replace(tzinfo=None)
    micro = moment.microsecond
    if micro == 0:
        spec = "seconds"
    elif micro % 1000 == 0:
        spec = "milliseconds"
    else:
        spec = "microseconds"
    return moment.isoformat(timespec=spec) + "Z"


def iso_timestamp(
    formats: Sequence[str] = (), epoch: EpochUnit = "auto", timezone: str | None = None
) -> Fix:
    """The ``iso_timestamp`` fix for one rule's options."""
    zone: tzinfo = ZoneInfo(timezone) if timezone else UTC
    own = tuple(formats)

    def fix(value: Any) -> Any:
        if type(value) is not str and (type(value) is not int and type(value) is not float):
            return SKIP
        moment = parse_timestamp(value, formats=own, epoch=epoch, zone=zone)
        return FAIL if moment is None else format_utc(moment)

    return fix
