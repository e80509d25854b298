"""CEL's standard functions: conversions, ``size``, string tests and time getters, and the
strings extension (:mod:`.strings_ext`)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, Final

from dataquarantine.validation.rules import timefmt
from dataquarantine.validation.rules.budget import Budget
from dataquarantine.validation.rules.operators import no_overload
from dataquarantine.validation.rules.regex import InvalidPattern, Pattern, compile_pattern
from dataquarantine.validation.rules.strings_ext import STRING_EXT, call_string_ext
from dataquarantine.validation.rules.values import (
    INT64_MAX,
    INT64_MIN,
    NANOS,
    UINT64_MAX,
    CelError,
    CelType,
    Duration,
    Timestamp,
    UInt,
    type_name,
)

__all__ = [
    "FUNCTIONS",
    "TYPE_NAMES",
    "call_function",
    "format_double",
    "known_function",
    "matches",
    "pattern_search",
]

#: The type identifiers a rule may use, by name.
TYPE_NAMES: Final = {
    name: CelType(name)
    for name in (
        "int",
        "uint",
        "double",
        "bool",
        "string",
        "bytes",
        "list",
        "map",
        "null_type",
        "type",
        "google.protobuf.Timestamp",
        "google.protobuf.Duration",
    )
}

_INT_TEXT = re.compile(r"[+-]?\d+\Z")
_UINT_TEXT = re.compile(r"\+?\d+\Z")
_DOUBLE_TEXT = re.compile(
    r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[iI]nf(?:inity)?|INF|[nN]a[nN])\Z"
)
_BOOL_TEXT: Final = {
    "1": True,
    "t": True,
    "true": True,
    "TRUE": True,
    "True": True,
    "0": False,
    "f": False,
    "false": False,
    "FALSE": False,
    "False": False,
}


def format_double(value: float) -> str:
    """A double as CEL's ``string()`` writes it (shortest round-trip form)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        sign = "-" if exponent.startswith("-") else "+"
        text = f"{mantissa}e{sign}{exponent.lstrip('+-').rjust(2, '0')}"
    return text


def _to_int(value: Any) -> int:
    t = type(value)
    if t is int:
        return int(value)
    if t is UInt:
        if value > INT64_MAX:
            raise CelError("range error converting uint to int")
        return int(value)
    if t is float:
        # The range check is the one of the reference implementations: strictly inside.
        if math.isnan(value) or not -(2.0**63) < value < 2.0**63:
            raise CelError("range error converting double to int")
        return int(value)
    if t is str:
        if not _INT_TEXT.match(value):
            raise CelError(f"cannot convert {value!r} to int")
        parsed = int(value)
        if not INT64_MIN <= parsed <= INT64_MAX:
            raise CelError("range error converting string to int")
        return parsed
    if t is Timestamp:
        return int(value.seconds)
    raise no_overload("int", value)


def _to_uint(value: Any) -> UInt:
    t = type(value)
    if t is UInt:
        return UInt(value)
    if t is int:
        if value < 0:
            raise CelError("range error converting int to uint")
        return UInt(value)
    if t is float:
        if math.isnan(value) or not -1.0 < value < 2.0**64:
            raise CelError("range error converting double to uint")
        return UInt(int(value))
    if t is str:
        if not _UINT_TEXT.match(value) or int(value) > UINT64_MAX:
            raise CelError(f"cannot convert {value!r} to uint")
        return UInt(int(value))
    raise no_overload("uint", value)


def _to_double(value: Any) -> float:
    t = type(value)
    if t is float:
        return float(value)
    if t is int or t is UInt:
        return float(value)
    if t is str:
        if not _DOUBLE_TEXT.match(value):
            raise CelError(f"cannot convert {value!r} to double")
        return float(value)
    raise no_overload("double", value)


def _to_string(value: Any) -> str:
    t = type(value)
    if t is str:
        return str(value)
    if t is bool:
        return "true" if value else "false"
    if t is int or t is UInt:
        return str(int(value))
    if t is float:
        return format_double(value)
    if t is bytes:
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise CelError("invalid UTF-8 in bytes, cannot convert to string") from None
    if t is Timestamp:
        return timefmt.format_timestamp(value)
    if t is Duration:
        return timefmt.format_duration(value)
    if t is CelType:
        return str(value.name)
    raise no_overload("string", value)


def _to_bytes(value: Any) -> bytes:
    if type(value) is bytes:
        return value
    if type(value) is str:
        return value.encode("utf-8")
    raise no_overload("bytes", value)


def _to_bool(value: Any) -> bool:
    if type(value) is bool:
        return value
    if type(value) is str:
        if value in _BOOL_TEXT:
            return _BOOL_TEXT[value]
        raise CelError(f"cannot convert {value!r} to bool")
    raise no_overload("bool", value)


def _to_timestamp(value: Any) -> Timestamp:
    if isinstance(value, Timestamp):
        return value
    t = type(value)
    if t is str:
        return timefmt.parse_timestamp(value)
    if t is int:
        return Timestamp.checked(value * NANOS)
    raise no_overload("timestamp", value)


def _to_duration(value: Any) -> Duration:
    if type(value) is Duration:
        return value
    if type(value) is str:
        return timefmt.parse_duration(value)
    raise no_overload("duration", value)


def _type_of(value: Any) -> CelType:
    return TYPE_NAMES.get(type_name(value)) or CelType(type_name(value))


def _size(value: Any) -> int:
    if type(value) in (str, bytes, list, dict):
        return len(value)  # a string's size counts code points
    raise no_overload("size", value)


def _dyn(value: Any) -> Any:
    return value


def _strings(name: str, a: Any, b: Any) -> tuple[str, str]:
    if type(a) is str and type(b) is str:
        return a, b
    raise no_overload(name, a, b)


def _contains(a: Any, b: Any) -> bool:
    s, part = _strings("contains", a, b)
    return part in s


def _starts(a: Any, b: Any) -> bool:
    s, prefix = _strings("startsWith", a, b)
    return s.startswith(prefix)


def _ends(a: Any, b: Any) -> bool:
    s, suffix = _strings("endsWith", a, b)
    return s.endswith(suffix)


def matches(a: Any, b: Any) -> bool:
    """``a.matches(b)``: RE2 ``b`` found anywhere in ``a``."""
    s, pattern = _strings("matches", a, b)
    try:
        compiled = compile_pattern(pattern)
    except InvalidPattern as exc:
        raise CelError(str(exc)) from None
    return pattern_search(compiled, s)


def pattern_search(pattern: Pattern, text: str) -> bool:
    """Whether ``pattern`` matches somewhere in ``text``."""
    try:
        return pattern.search(text)
    except UnicodeEncodeError:
        raise CelError("the string is not valid Unicode (a lone surrogate)") from None


_UNARY: Final[dict[str, Callable[[Any], Any]]] = {
    "int": _to_int,
    "uint": _to_uint,
    "double": _to_double,
    "string": _to_string,
    "bytes": _to_bytes,
    "bool": _to_bool,
    "timestamp": _to_timestamp,
    "duration": _to_duration,
    "type": _type_of,
    "dyn": _dyn,
    "size": _size,
}
_BINARY: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "contains": _contains,
    "startsWith": _starts,
    "endsWith": _ends,
    "matches": matches,
}
_GETTERS: Final = frozenset(
    {
        "getFullYear",
        "getMonth",
        "getDayOfYear",
        "getDayOfMonth",
        "getDate",
        "getDayOfWeek",
        "getHours",
        "getMinutes",
        "getSeconds",
        "getMilliseconds",
    }
)
#: Every function name, for the compile-time check.
FUNCTIONS: Final = frozenset({*_UNARY, *_BINARY, *_GETTERS, *STRING_EXT})


def call_function(
    name: str, target: Any, args: list[Any], has_target: bool, budget: Budget | None = None
) -> Any:
    """Call a standard function; ``has_target`` for the receiver style ``target.name()``.

    ``budget`` is charged for what a strings-extension call builds."""
    if has_target:
        if name in STRING_EXT:
            return call_string_ext(name, target, args, budget)
        if name in _GETTERS:
            if len(args) > 1 or (args and type(args[0]) is not str):
                raise no_overload(name, target, *args)
            if type(target) is Timestamp:
                return timefmt.timestamp_field(target, name, args[0] if args else None)
            if type(target) is Duration and not args:
                return timefmt.duration_field(target, name)
            raise no_overload(name, target, *args)
        if name == "size" and not args:
            return _size(target)
        if name in _BINARY and len(args) == 1:
            return _BINARY[name](target, args[0])
        raise CelError(f"no such overload: {type_name(target)}.{name}")
    if len(args) == 1 and name in _UNARY:
        return _UNARY[name](args[0])
    if len(args) == 2 and name in _BINARY:
        return _BINARY[name](args[0], args[1])
    raise CelError(f"no such overload: {name}({', '.join(type_name(a) for a in args)})")


def known_function(name: str) -> bool:
    """Whether ``name`` is a standard function (else the expression does not compile)."""
    return name in FUNCTIONS
