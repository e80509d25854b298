"""Strict JSON decoding for the hot path.

msgspec's decoder is as fast as orjson and as strict (no trailing commas, no ``NaN`` /
``Infinity``, no invalid UTF-8 or lone surrogates, no trailing garbage, no numbers that overflow
a double, bounded nesting), and unlike orjson it keeps integers of any size exact, so a number
is never silently changed.
"""

from __future__ import annotations

from typing import Any

import msgspec
import orjson

from dataquarantine.validation.base import DecodeFailure
from dataquarantine.validation.limits import MAX_DEPTH

__all__ = [
    "DECODE_FAILURES",
    "MAX_DEPTH",
    "decode_failure_reason",
    "encoded_size",
    "json_decode",
    "nests_deeper_than",
    "parse_json",
]

_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")

#: The raw decoder, for hot loops that inline :func:`parse_json`.
json_decode = msgspec.json.Decoder().decode
#: What :data:`json_decode` raises on bad input.
DECODE_FAILURES = (msgspec.DecodeError, RecursionError, UnicodeDecodeError, ValueError, TypeError)


def decode_failure_reason(exc: BaseException) -> str:
    """A readable reason for a :data:`DECODE_FAILURES` exception."""
    if isinstance(exc, UnicodeDecodeError):
        return f"invalid JSON: invalid UTF-8 ({exc.reason} at byte {exc.start})"
    text = str(exc).removeprefix("JSON is malformed: ")
    if text.startswith("Number out of range"):
        text = "number out of range"
    elif text == "Input data was truncated":
        text = "truncated document or invalid escape"
    return f"invalid JSON: {text}"


def _deep(raw: bytes | bytearray | memoryview | str) -> Any:
    # msgspec's depth limit is the interpreter's recursion limit minus the current stack, so it
    # varies with the caller. orjson's is a fixed 1024 levels; it loses big integers, so a deep
    # document that also carries a 20-digit number is refused rather than silently changed.
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DecodeFailure(f"invalid JSON: {exc}") from None
    data = raw.encode() if isinstance(raw, str) else bytes(raw)
    if data.translate(_DIGITS_TO_ZERO).find(b"0" * 20) >= 0:
        raise DecodeFailure("invalid JSON: nested too deeply to decode big integers exactly")
    return value


def parse_json(raw: bytes | bytearray | memoryview | str) -> Any:
    """Decode one JSON document, raising :class:`DecodeFailure` with the reason when it is bad."""
    try:
        return json_decode(raw)
    except RecursionError:
        return _deep(raw)
    except DECODE_FAILURES as exc:
        raise DecodeFailure(decode_failure_reason(exc)) from None


_CONTAINERS = (dict, list, tuple)
_encode = msgspec.json.encode


def encoded_size(value: Any) -> int | None:
    """The length of ``value`` encoded as JSON (``None`` when it cannot be encoded).

    A bound computed in C: every value of a record starts at a byte of its own in the
    encoding, and every level of nesting takes two brackets. So a record of ``size`` bytes
    holds at most ``size`` values and nests at most ``size // 2`` levels deep."""
    try:
        return len(_encode(value))
    except Exception:  # not JSON (a set, a non-string key, ...) or too deep to encode
        return None


def nests_deeper_than(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests deeper than ``limit`` (iterative: no recursion to overflow).

    Level by level, keeping only the containers of each: scalars are looked at once and never
    queued, which halves the cost on a typical record. A value too short to nest that deep
    (:func:`encoded_size`) is not walked at all."""
    if not isinstance(value, _CONTAINERS):
        return False
    size = encoded_size(value)
    if size is not None and size < 2 * (limit + 1):
        return False
    level: list[Any] = [value] if isinstance(value, _CONTAINERS) else []
    depth = 0
    while level:
        if depth >= limit:
            return True
        below: list[Any] = []
        for node in level:
            children = node.values() if isinstance(node, dict) else node
            below += [child for child in children if isinstance(child, _CONTAINERS)]
        level = below
        depth += 1
    return False
