"""Value fixes of the remediation actions: one function per action, value in, value out.

Each fix returns the new value, :data:`SKIP` when the action does not apply to that kind of
value (``trim`` of a number, ``coerce_int`` of an integer: left alone, nothing recorded) or
:data:`FAIL` when it applies but cannot succeed (a text that is not a number or not a phone
number). No fix raises on any JSON value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, Final

import phonenumbers

__all__ = [
    "FAIL",
    "SKIP",
    "Fix",
    "Outcome",
    "coerce_float",
    "coerce_int",
    "e164_phone",
    "lowercase",
    "number_text",
    "trim",
    "uppercase",
]


class Outcome(Enum):
    """What a fix returns instead of a value when there is nothing to set."""

    SKIP = "skip"
    FAIL = "fail"


SKIP: Final = Outcome.SKIP
FAIL: Final = Outcome.FAIL

#: A compiled fix: the current value -> the new value, SKIP or FAIL.
Fix = Callable[[Any], Any]

#: Longer texts are never numbers we coerce (and ``int()`` of huge texts is slow).
_MAX_NUMBER_TEXT: Final = 100
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
#: ``1,234`` or ``-12,345,678.5``: commas only as complete groups of three digits.
_GROUPED = re.compile(r"[+-]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?", re.ASCII)
#: Decimal exponents beyond this are refused (``int(Decimal("1e999999"))`` is slow).
_MAX_EXPONENT: Final = 400


def trim(value: Any) -> Any:
    return value.strip() if type(value) is str else SKIP


def lowercase(value: Any) -> Any:
    return value.lower() if type(value) is str else SKIP


def uppercase(value: Any) -> Any:
    return value.upper() if type(value) is str else SKIP


def number_text(text: str) -> str | None:
    """The plain number spelled by ``text`` (surrounding whitespace and ``,`` thousands
    separators removed), or ``None``. A comma that is not a group of three digits (``1,5``,
    a decimal comma) is ambiguous and refused."""
    s = text.strip()
    if len(s) > _MAX_NUMBER_TEXT:
        return None
    if "," in s:
        if not _GROUPED.fullmatch(s):
            return None
        s = s.replace(",", "")
    return s if _NUMBER.fullmatch(s) else None


def coerce_int(value: Any) -> Any:
    """``" 42 "`` / ``"1,234"`` / ``"42.0"`` / ``"1e3"`` / ``42.0`` -> an integer. A text or
    number with a fractional part fails (never rounded); integers and booleans are left alone."""
    kind = type(value)
    if kind is float:
        return int(value) if math.isfinite(value) and value.is_integer() else FAIL
    if kind is not str:
        return SKIP
    text = number_text(value)
    if text is None:
        return FAIL
    try:
        number = Decimal(text)
    except InvalidOperation:
        return FAIL
    if number.adjusted() > _MAX_EXPONENT or number != number.to_integral_value():
        return FAIL
    return int(number)


def coerce_float(value: Any) -> Any:
    """``" 3.5 "`` / ``"1,234.5"`` / ``"42"`` -> a float. Numbers are left alone (JSON does
    not tell ``1`` from ``1.0`` to a schema); a text that overflows a double fails."""
    if type(value) is not str:
        return SKIP
    text = number_text(value)
    if text is None:
        return FAIL
    number = float(text)
    return number if math.isfinite(number) else FAIL


def e164_phone(region: str | None) -> Fix:
    """A fix formatting a phone number as E.164 (``+33123456789``). Numbers without a country
    code are read in ``region``. Only numbers ``phonenumbers`` deems *valid* are rewritten."""

    def fix(value: Any) -> Any:
        if type(value) is int:
            value = str(value)
        elif type(value) is not str:
            return SKIP
        try:
            number = phonenumbers.parse(value, region)
            if not phonenumbers.is_valid_number(number):
                return FAIL
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        except Exception:  # NumberParseException, and never let a parser bug escape
            return FAIL

    return fix
