"""Typing text rows (CSV cells) by the contract's schema before validation.

CSV has no types, so a cell is text until the contract says otherwise. For each top-level
property whose schema type is ``integer``, ``number``, ``boolean`` or ``null`` (or a list of
types), a cell is converted when its text is an exact literal of that type; otherwise it stays
a string and the schema reports the mismatch. Text is never guessed at: ``"00123"`` for a
``string`` property stays ``"00123"``, and ``"12.5"`` for an ``integer`` stays a string.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["TextCoercer", "column_types_of", "text_coercer_for"]

_INT = re.compile(r"^-?(0|[1-9][0-9]*)\Z")
_NUM = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?\Z")
_MISSING = object()
_SCALARS = frozenset({"string", "integer", "number", "boolean", "null"})

TextCoercer = Callable[[dict[str, Any]], dict[str, Any]]


def _to_int(text: str) -> Any:
    return int(text) if _INT.match(text) else _MISSING


def _to_number(text: str) -> Any:
    if _INT.match(text):
        return int(text)
    if _NUM.match(text):
        value = float(text)
        return value if value not in (float("inf"), float("-inf")) else _MISSING
    return _MISSING


def _to_bool(text: str) -> Any:
    return {"true": True, "false": False}.get(text, _MISSING)


def _to_null(text: str) -> Any:
    return None if text == "null" else _MISSING


_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "integer": _to_int,
    "number": _to_number,
    "boolean": _to_bool,
    "null": _to_null,
}


def column_types_of(schema: Any) -> dict[str, str]:
    """Top-level property name -> its JSON Schema scalar type, for typed output columns.

    A property allowing several non-null types maps to ``string``; objects, arrays and
    untyped properties are left out (written as JSON text)."""
    if not isinstance(schema, Mapping):
        return {}
    props = schema.get("properties")
    if not isinstance(props, Mapping):
        return {}
    out: dict[str, str] = {}
    for name, sub in props.items():
        if not isinstance(sub, Mapping):
            continue
        typ = sub.get("type")
        types = [typ] if isinstance(typ, str) else [t for t in typ or () if isinstance(t, str)]
        if not types or any(t not in _SCALARS for t in types):
            continue  # objects, arrays or untyped: kept as JSON text
        kinds = [t for t in types if t != "null"] or ["string"]
        # Several non-null types share no column type: text holds any of them.
        out[str(name)] = kinds[0] if len(kinds) == 1 else "string"
    return out


def text_coercer_for(schema: Any) -> TextCoercer | None:
    """A function typing one text row in place, or ``None`` when nothing needs typing."""
    if not isinstance(schema, Mapping) or not isinstance(schema.get("properties"), Mapping):
        return None
    plan: dict[str, tuple[Callable[[str], Any], ...]] = {}
    for name, sub in schema["properties"].items():
        if not isinstance(sub, Mapping):
            continue
        typ = sub.get("type")
        types = [typ] if isinstance(typ, str) else [t for t in typ or () if isinstance(t, str)]
        if "string" in types:
            # A string is always acceptable text; try the other types only when listed first.
            types = types[: types.index("string")]
        convs = tuple(_CONVERTERS[t] for t in types if t in _CONVERTERS)
        if convs:
            plan[str(name)] = convs
    if not plan:
        return None
    items = tuple(plan.items())

    def coerce(row: dict[str, Any]) -> dict[str, Any]:
        for name, convs in items:
            text = row.get(name)
            if type(text) is not str:
                continue
            for conv in convs:
                value = conv(text)
                if value is not _MISSING:
                    row[name] = value
                    break
        return row

    return coerce
