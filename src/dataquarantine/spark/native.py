"""The native tier: a Spark Column true only for rows the engine surely accepts.

Rows it clears are valid without leaving the JVM; every other row goes through the engine
(:mod:`~dataquarantine.spark.engine`), which decides. The translation is **conservative**, as
the load's push-down into PostgreSQL (:mod:`dataquarantine.load.pushdown`): the predicate may
be false for a row the engine accepts, never true for a row it rejects. A property whose
subschema has no exact translation makes its column "must be null" (rows where it is set go
to the engine); an unknown keyword at the root, a required property without an exact check,
or a CEL rule outside the grammar of :mod:`~dataquarantine.spark.native_rules` disables the
tier (``None``). Translated, on typed input only:

* at the root: ``type`` (object), ``required``, ``properties``, ``additionalProperties`` as a
  boolean, and annotations;
* per property, by the column's Spark type (the JSON value the engine sees):
  integral columns: ``type``, ``enum``, ``const`` and the four bounds with integer values;
  ``string`` columns (binary collation): ``type``, ``enum``, ``const``, ``minLength`` and
  ``maxLength`` (Spark's ``length`` counts code points, as JSON Schema does; a value that is
  not UTF-8 is never cleared); ``boolean`` columns: ``type``, ``enum``, ``const``;
  ``float``/``double`` columns: ``type`` and the four bounds, finite values only (NaN and the
  infinities reach the engine as strings).

Not translated, on purpose: ``pattern`` (Java regex is not ECMA-262: ``$``, ``\\d``, classes),
``format`` (Spark's casts are not RFC 3339), ``multipleOf`` on floats, nested objects and
arrays, decimals, dates and timestamps (rendered as text by the engine), and CEL rules beyond
comparisons of columns with literals, ``has()``, ``in`` a literal list and the logic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import reduce
from typing import Any, Final

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BooleanType,
    ByteType,
    DataType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    ShortType,
    StringType,
    StructType,
)

from dataquarantine.spark.columns import ref
from dataquarantine.spark.native_rules import rules_predicate
from dataquarantine.validation.contract import Contract

__all__ = ["surely_valid"]

_ANNOTATIONS: Final = frozenset(
    {"$schema", "$id", "$comment", "$defs", "definitions", "title", "description", "default"}
    | {"examples", "deprecated", "readOnly", "writeOnly"}
)
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1
#: Integers a double represents exactly (a wider bound is not compared on a double column).
_EXACT_IN_DOUBLE: Final = 2**53
_MAX_DOUBLE: Final = 1.7976931348623157e308


class _Unsupported(Exception):
    """A construct without an exact Spark translation (the message says which)."""


def _json_type(t: DataType) -> str | None:
    """The JSON type of a column's non-null values as the engine sees them (``None``: not
    translated: decimals, temporal, binary and nested values)."""
    if isinstance(t, (ByteType, ShortType, IntegerType, LongType)):
        return "integer"
    if isinstance(t, StringType):
        return "string" if t.collation == "UTF8_BINARY" else None
    if isinstance(t, BooleanType):
        return "boolean"
    if isinstance(t, (FloatType, DoubleType)):
        return "number"
    return None


def _and(parts: list[Column]) -> Column:
    return reduce(lambda a, b: a & b, parts) if parts else F.lit(True)


def surely_valid(contract: Contract, schema: StructType) -> Column | None:
    """The "surely valid" predicate of ``contract`` over typed rows of ``schema``, or ``None``
    when nothing can be cleared natively (then every row goes through the engine)."""
    if contract.kind != "json_schema":
        return None
    columns = {f.name: f.dataType for f in schema.fields}
    try:
        structure = _root(contract.schema, columns)
    except _Unsupported:
        return None
    rules = rules_predicate(contract.spec.rules, columns)
    if structure is None or rules is None:
        return None
    return F.coalesce(structure & rules, F.lit(False))


def _root(schema: Any, columns: dict[str, DataType]) -> Column | None:
    if schema is True or schema == {}:
        return F.lit(True)
    if not isinstance(schema, Mapping):
        raise _Unsupported("the schema is not an object")
    props = schema.get("properties", {})
    required = schema.get("required", [])
    if not isinstance(props, Mapping) or not isinstance(required, list):
        raise _Unsupported("properties or required of an unexpected shape")
    extra_allowed = True
    for key, value in schema.items():
        if key in _ANNOTATIONS or key in ("properties", "required"):
            continue
        if key == "type":
            types = [value] if isinstance(value, str) else value
            if not isinstance(types, list) or "object" not in types:
                return None  # no row is an acceptable non-object
        elif key == "additionalProperties" and value in (True, False, {}):
            extra_allowed = value is not False
        else:
            raise _Unsupported(f"keyword {key!r} at the root")
    parts: list[Column] = []
    for name, typ in columns.items():
        col = ref(name)
        present = (
            _value(props[name], col, typ) if name in props else _extra(extra_allowed, col, typ)
        )
        if name in required:
            if present is None:
                return None  # always set, never provable
            parts.append(col.isNotNull() & present)
        else:
            parts.append(col.isNull() if present is None else col.isNull() | present)
    if any(name not in columns for name in required):
        return None  # always absent: every row fails
    return _and(parts)


def _extra(allowed: bool, col: Column, typ: DataType) -> Column | None:
    """A column the schema does not name: acceptable when extras are and its value is flat
    (and well formed: the engine cannot read a string that is not UTF-8)."""
    jtype = _json_type(typ)
    return _well_formed(col, jtype) if allowed and jtype is not None else None


def _value(schema: Any, col: Column, typ: DataType) -> Column | None:
    """True only where the column's non-null value satisfies ``schema`` (``None``: unknown)."""
    jtype = _json_type(typ)
    if schema is True or schema == {}:
        return _well_formed(col, jtype) if jtype is not None else None
    if not isinstance(schema, Mapping) or jtype is None:
        return None
    parts: list[Column] = [_well_formed(col, jtype)]
    for key, value in schema.items():
        if key in _ANNOTATIONS:
            continue
        handler = _KEYWORDS.get(key)
        if handler is None:
            return None
        try:
            part = handler(col, jtype, value)
        except _Unsupported:
            return None
        if part is not None:
            parts.append(part)
    return _and(parts)


def _well_formed(col: Column, jtype: str) -> Column:
    """Values the engine receives as what the column's type promises: UTF-8 text, finite
    numbers (a NaN or an infinity reaches the engine as a string)."""
    if jtype == "string":
        return F.is_valid_utf8(col)
    if jtype == "number":
        return col.between(-_MAX_DOUBLE, _MAX_DOUBLE)  # false for NaN (above all) and +-inf
    return F.lit(True)


_Handler = Callable[[Column, str, Any], Column | None]


def _type(col: Column, jtype: str, value: Any) -> Column | None:
    types = [value] if isinstance(value, str) else value
    if not isinstance(types, list):
        raise _Unsupported(f"type {value!r}")
    ok = jtype in types or (jtype == "integer" and "number" in types)
    return None if ok else F.lit(False)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _members(values: Any, jtype: str) -> list[Any]:
    if not isinstance(values, list):
        raise _Unsupported(f"enum {values!r}")
    if jtype == "integer":
        found = [v for v in values if _is_int(v)]
        found += [int(v) for v in values if isinstance(v, float) and v.is_integer()]
        return [v for v in found if _LONG_MIN <= v <= _LONG_MAX]
    if jtype == "boolean":
        return [v for v in values if isinstance(v, bool)]
    if jtype == "string":
        return [v for v in values if isinstance(v, str)]
    raise _Unsupported(f"enum on {jtype} values")


def _enum(col: Column, jtype: str, value: Any) -> Column | None:
    members = _members(value, jtype)
    return col.isin(members) if members else F.lit(False)


def _const(col: Column, jtype: str, value: Any) -> Column | None:
    return _enum(col, jtype, [value])


def _bound(op: str) -> _Handler:
    def handler(col: Column, jtype: str, value: Any) -> Column | None:
        if jtype not in ("integer", "number"):
            return None  # applies to numbers only
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Unsupported("a boolean exclusive bound (draft-04)")
        if jtype == "integer":
            integral = _is_int(value) or (isinstance(value, float) and value.is_integer())
            if not integral or not _LONG_MIN <= value <= _LONG_MAX:
                raise _Unsupported(f"bound {value!r} on an integer column")
            bound: Any = int(value)
        else:
            if _is_int(value) and abs(value) > _EXACT_IN_DOUBLE:
                raise _Unsupported(f"bound {value!r} on a floating-point column")
            bound = float(value)
        compare: dict[str, Callable[[Column, Any], Column]] = {
            ">=": lambda c, b: c >= b,
            "<=": lambda c, b: c <= b,
            ">": lambda c, b: c > b,
            "<": lambda c, b: c < b,
        }
        return compare[op](col, F.lit(bound))

    return handler


def _length(op: str) -> _Handler:
    def handler(col: Column, jtype: str, value: Any) -> Column | None:
        if jtype != "string":
            return None
        if not _is_int(value) or value < 0:
            raise _Unsupported(f"length {value!r}")
        length = F.length(col)  # code points of UTF-8 text
        result: Column = length >= value if op == ">=" else length <= value
        return result

    return handler


_KEYWORDS: Final[dict[str, _Handler]] = {
    "type": _type,
    "enum": _enum,
    "const": _const,
    "minimum": _bound(">="),
    "maximum": _bound("<="),
    "exclusiveMinimum": _bound(">"),
    "exclusiveMaximum": _bound("<"),
    "minLength": _length(">="),
    "maxLength": _length("<="),
}
