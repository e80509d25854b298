"""Contract checks pushed down into PostgreSQL: a predicate true only for rows the engine accepts.

The check pass of a load asks the engine about every staging row, and most of its time goes to
turning rows into Python values. When a contract's JSON Schema and CEL rules only use
constructs with an exact SQL counterpart for the staging columns' types, they are translated
into one SQL predicate, and PostgreSQL sends only the *suspects*: rows with a missing parent,
a null key, or for which the predicate is not true. The engine then judges each suspect as
before (:mod:`.checks`), so the violations reported are the engine's own.

The translation is **conservative**: the predicate may be false for a row the engine accepts
(it is then checked by the engine and loaded), but never true for a row the engine rejects.
Whatever has no exact translation (an unknown keyword, a regex construct, a float column, a
CEL function) disables the push-down for the whole contract, with the reason logged; the load
then checks every row in Python, as without it. Supported:

* staging columns of integer, text, boolean, ``timestamptz``, ``date`` and ``uuid`` types, and
  no text column the contract types as a number or boolean (those need typing first);
* at the root: ``type`` (object), ``required``, ``properties``, ``additionalProperties`` as a
  boolean, and annotations;
* per property: ``type``, ``enum``, ``const``; ``minimum``, ``maximum``, ``exclusiveMinimum``,
  ``exclusiveMaximum`` and ``multipleOf`` with integer bounds on integer columns;
  ``minLength``, ``maxLength`` and ``pattern`` (a plain subset of regex syntax, see
  :func:`pattern_to_sql`) on text columns; ``format`` ``date-time`` on ``timestamptz``,
  ``date`` on ``date`` and ``uuid`` on ``uuid`` columns (as PostgreSQL renders them);
* CEL rules of severity ``error`` made of ``record.<column>`` (integer, text or boolean
  columns), ``has(record.<column>)``, int, string and bool literals, ``!``, ``&&``, ``||``,
  the relations ``== != < <= > >=`` between operands of one type and ``in`` a list literal.
  CEL's errors (a missing field) become SQL NULL, which ``&&``, ``||`` and ``!`` absorb the
  same way, and a rule holds only where its predicate ``IS TRUE``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from psycopg import sql

from dataquarantine.kernel.results import Severity
from dataquarantine.load.plan import LoadPlan, base_type
from dataquarantine.validation.contract import Contract
from dataquarantine.validation.rules.nodes import (
    Binary,
    Has,
    Ident,
    ListLit,
    Literal,
    Node,
    Select,
    Unary,
)
from dataquarantine.validation.rules.parser import CelSyntaxError, parse

__all__ = ["Pushdown", "pattern_to_sql", "pushdown"]

_INTEGER: Final = frozenset({"smallint", "integer", "bigint"})
_TEXT: Final = frozenset({"text", "character varying", "character", "name"})
#: Staging column type -> the JSON type of its value as the engine receives it.
_JSON_TYPE: Final = {
    **dict.fromkeys(_INTEGER, "integer"),
    **dict.fromkeys(_TEXT, "string"),
    "boolean": "boolean",
    "timestamp with time zone": "string",
    "date": "string",
    "uuid": "string",
}
_ANNOTATIONS: Final = frozenset(
    {
        "$schema",
        "$id",
        "$comment",
        "$defs",
        "definitions",
        "title",
        "description",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
    }
)
_TRUE, _FALSE = sql.SQL("TRUE"), sql.SQL("FALSE")
#: Session time zones whose offset is always zero (the offset check is then left out).
_UTC_ZONES: Final = frozenset(
    {"utc", "etc/utc", "gmt", "etc/gmt", "uct", "etc/uct", "universal", "etc/universal", "zulu"}
    | {"etc/zulu", "greenwich", "etc/greenwich"}
)
#: Rendered years must have four digits, whatever the session's time zone (offsets < 1 day).
_TS_RANGE: Final = (
    " > timestamptz '0001-01-02 00:00:00+00' AND {0} < timestamptz '9999-12-31 00:00:00+00'"
)


class Unsupported(Exception):
    """A construct without an exact SQL translation (the message says which)."""


@dataclass(frozen=True, slots=True)
class Pushdown:
    """The predicate over staging alias ``s`` (``None``: not pushed down, see ``reason``)."""

    predicate: sql.Composable | None
    reason: str = ""


def pushdown(plan: LoadPlan, contract: Contract, *, text_mode: bool, zone: str = "") -> Pushdown:
    """The "surely valid" predicate of ``contract`` over ``plan``'s staging columns.

    ``zone`` is the session's ``TimeZone``, in which ``timestamptz`` values are rendered."""
    if text_mode:
        return Pushdown(None, "text columns must be typed by the contract first")
    if contract.kind != "json_schema":
        return Pushdown(None, f"a {contract.kind} contract")
    try:
        columns = _columns(plan)
        parts = [_Schema(columns, utc=zone.lower() in _UTC_ZONES).root(contract.schema)]
        for spec in contract.spec.rules:
            if spec.severity is Severity.ERROR:
                parts.append(_rule(spec.id, spec.expr, columns))
    except Unsupported as exc:
        return Pushdown(None, str(exc))
    return Pushdown(sql.SQL(" AND ").join(parts))


def _columns(plan: LoadPlan) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, typ in plan.staging_columns:
        base = base_type(typ)
        if base not in _JSON_TYPE:
            raise Unsupported(f"staging column {name!r} is of type {typ}")
        out[name] = base
    return out


def _col(name: str) -> sql.Composable:
    return sql.SQL("s.{}").format(sql.Identifier(name))


def _literal(v: Any) -> sql.Composable:
    # A literal is inlined into a query that also has placeholders, where a "%" would be one.
    if isinstance(v, str) and "%" in v:
        raise Unsupported(f"the literal {v!r} holds a '%'")
    return sql.Literal(v)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _int_bound(keyword: str, v: Any) -> int:
    if _is_int(v):
        return int(v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    raise Unsupported(f"{keyword} {v!r} is not an integer")


class _Schema:
    def __init__(self, columns: dict[str, str], *, utc: bool) -> None:
        self.columns = columns
        self.utc = utc

    def root(self, schema: Any) -> sql.Composable:
        if schema is True or schema == {}:
            return _TRUE
        if not isinstance(schema, Mapping):
            raise Unsupported("the schema is not an object")
        parts: list[sql.Composable] = []
        props = schema.get("properties", {})
        if not isinstance(props, Mapping):
            raise Unsupported("properties is not an object")
        for key, value in schema.items():
            if key in _ANNOTATIONS or key in ("properties", "required"):
                continue
            if key == "type":
                types = [value] if isinstance(value, str) else value
                if "object" not in types:
                    return _FALSE
            elif key == "additionalProperties":
                if value is False:
                    extra = [c for c in self.columns if c not in props]
                    parts += [sql.SQL("{} IS NULL").format(_col(c)) for c in extra]
                elif value is not True and value != {}:
                    raise Unsupported("additionalProperties is a schema")
            else:
                raise Unsupported(f"keyword {key!r} at the root")
        for name in schema.get("required", ()):
            if name not in self.columns:
                return _FALSE  # always absent: every row fails, and goes to the engine
            parts.append(sql.SQL("{} IS NOT NULL").format(_col(name)))
        for name, sub in props.items():
            if name not in self.columns:
                continue  # never present: the subschema never applies
            present = self.value(name, sub)
            if present is not _TRUE:
                parts.append(sql.SQL("({} IS NULL OR ({}))").format(_col(name), present))
        return sql.SQL(" AND ").join(parts) if parts else _TRUE

    def value(self, name: str, schema: Any) -> sql.Composable:
        """True only if the column's (non-null) value satisfies ``schema``."""
        if schema is True or schema == {}:
            return _TRUE
        if schema is False:
            return _FALSE
        if not isinstance(schema, Mapping):
            raise Unsupported(f"the subschema of {name!r} is not an object")
        base = self.columns[name]
        jtype = _JSON_TYPE[base]
        col = _col(name)
        parts: list[sql.Composable] = []
        for key, value in schema.items():
            if key in _ANNOTATIONS:
                continue
            handler = _KEYWORDS.get(key)
            if handler is None:
                raise Unsupported(f"keyword {key!r} of property {name!r}")
            part = handler(self, col, base, jtype, value)
            if part is _FALSE:
                return _FALSE
            if part is not _TRUE:
                parts.append(part)
        return sql.SQL(" AND ").join(parts) if parts else _TRUE


_Handler = Callable[[_Schema, sql.Composable, str, str, Any], sql.Composable]


def _type(_: _Schema, col: sql.Composable, base: str, jtype: str, value: Any) -> sql.Composable:
    types = [value] if isinstance(value, str) else value
    if not isinstance(types, list):
        raise Unsupported(f"type {value!r}")
    ok = jtype in types or (jtype == "integer" and "number" in types)
    return _TRUE if ok else _FALSE


def _members(values: list[Any], jtype: str) -> list[Any]:
    if jtype == "integer":
        return [v for v in values if _is_int(v)]
    if jtype == "boolean":
        return [v for v in values if isinstance(v, bool)]
    return [v for v in values if isinstance(v, str)]


def _enum(_: _Schema, col: sql.Composable, base: str, jtype: str, value: Any) -> sql.Composable:
    if not isinstance(value, list):
        raise Unsupported(f"enum {value!r}")
    if base not in _TEXT and jtype == "string":
        raise Unsupported(f"enum on a {base} column (compared as rendered)")
    members = _members(value, jtype)
    if not members:
        return _FALSE
    target = sql.SQL('{} COLLATE "C"').format(col) if jtype == "string" else col
    return sql.SQL("{} IN ({})").format(target, sql.SQL(", ").join(map(_literal, members)))


def _const(s: _Schema, col: sql.Composable, base: str, jtype: str, value: Any) -> sql.Composable:
    return _enum(s, col, base, jtype, [value])


def _numeric(op: str) -> _Handler:
    def handler(
        _: _Schema, col: sql.Composable, base: str, jtype: str, value: Any
    ) -> sql.Composable:
        if jtype != "integer":
            return _TRUE  # applies to numbers only
        if isinstance(value, bool):
            raise Unsupported("a boolean exclusive bound (draft-04)")
        return sql.SQL("{} {} {}").format(col, sql.SQL(op), sql.Literal(_int_bound(op, value)))

    return handler


def _multiple(_: _Schema, col: sql.Composable, base: str, jtype: str, value: Any) -> sql.Composable:
    if jtype != "integer":
        return _TRUE
    if not _is_int(value) or value <= 0:
        raise Unsupported(f"multipleOf {value!r}")
    return sql.SQL("mod({}, {}) = 0").format(col, sql.Literal(value))


def _length(op: str) -> _Handler:
    def handler(
        _: _Schema, col: sql.Composable, base: str, jtype: str, value: Any
    ) -> sql.Composable:
        if jtype != "string":
            return _TRUE
        if base not in _TEXT:
            raise Unsupported(f"a length on a {base} column")
        bound = _int_bound("minLength/maxLength", value)
        return sql.SQL("char_length({}) {} {}").format(col, sql.SQL(op), sql.Literal(bound))

    return handler


def _pattern(_: _Schema, col: sql.Composable, base: str, jtype: str, value: Any) -> sql.Composable:
    if jtype != "string":
        return _TRUE
    if base not in _TEXT or not isinstance(value, str):
        raise Unsupported(f"pattern on a {base} column")
    regex = pattern_to_sql(value)
    if regex is None:
        raise Unsupported(f"pattern {value!r} has no exact PostgreSQL translation")
    return sql.SQL("{} ~ {}").format(col, _literal(regex))


def _format(s: _Schema, col: sql.Composable, base: str, jtype: str, value: Any) -> sql.Composable:
    if jtype != "string":
        return _TRUE
    if base == "timestamp with time zone" and value == "date-time":
        # Rendered as 2024-01-01T10:00:00+01:00 in the session's time zone; a historic local
        # mean time offset has seconds (+00:53:28), which RFC 3339 does not allow. In UTC the
        # offset is always +00:00, and the (per-row) offset check is left out.
        offset = "" if s.utc else " AND mod(extract(timezone FROM {0})::integer, 60) = 0"
        return sql.SQL("{0}" + _TS_RANGE + offset).format(col)
    if base == "date" and value == "date":
        return sql.SQL("{0} > date '0001-01-01' AND {0} < date '9999-12-31'").format(col)
    if base == "uuid" and value == "uuid":
        return _TRUE
    raise Unsupported(f"format {value!r} on a {base} column")


_KEYWORDS: Final[dict[str, _Handler]] = {
    "type": _type,
    "enum": _enum,
    "const": _const,
    "minimum": _numeric(">="),
    "maximum": _numeric("<="),
    "exclusiveMinimum": _numeric(">"),
    "exclusiveMaximum": _numeric("<"),
    "multipleOf": _multiple,
    "minLength": _length(">="),
    "maxLength": _length("<="),
    "pattern": _pattern,
    "format": _format,
}


# -- regular expressions ------------------------------------------------------------------------

_LITERAL_CHARS: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-:@/,'\"#&=<>!~`;"
)
_ESCAPABLE: Final = frozenset(".^$*+?()[]{}|\\/-")
_CLASS_ESCAPES: Final = {"d": "0-9", "w": "A-Za-z0-9_"}
_RANGES: Final = ("0123456789", "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def pattern_to_sql(pattern: str) -> str | None:
    """A PostgreSQL regex accepting *at most* what ECMA-262 ``pattern`` accepts, or ``None``.

    Only a plain subset is translated: literal ASCII letters, digits and punctuation, escaped
    metacharacters, ``^`` and ``$``, bracket classes of such characters and ranges (negated
    too), ``\\d`` and ``\\w`` (as their ASCII classes, which may only narrow a Unicode-aware
    engine), groups ``(...)``/``(?:...)``, ``|`` and the greedy quantifiers ``* + ? {n}
    {n,} {n,m}``. Anything else (``.``, ``\\s``, ``\\b``, lookarounds, backreferences, lazy
    quantifiers, non-ASCII) gives ``None``."""
    out: list[str] = []
    i, n = 0, len(pattern)
    depth = 0
    quantifiable = False
    while i < n:
        c = pattern[i]
        if c in _LITERAL_CHARS:
            out.append(c)
            quantifiable = True
        elif c in "^$":
            out.append(c)
            quantifiable = False
        elif c == "\\":
            if i + 1 >= n:
                return None
            e = pattern[i + 1]
            if e in _CLASS_ESCAPES:
                out.append(f"[{_CLASS_ESCAPES[e]}]")
            elif e in _ESCAPABLE:
                out.append("\\" + e)
            else:
                return None
            i += 1
            quantifiable = True
        elif c == "[":
            end = _bracket(pattern, i)
            if end is None:
                return None
            body, i = end
            out.append(body)
            quantifiable = True
            continue
        elif c == "(":
            if pattern.startswith("(?:", i):
                out.append("(?:")
                i += 2
            elif i + 1 < n and pattern[i + 1] == "?":
                return None
            else:
                out.append("(")
            depth += 1
            quantifiable = False
        elif c == ")":
            if depth == 0:
                return None
            depth -= 1
            out.append(")")
            quantifiable = True
        elif c == "|":
            out.append("|")
            quantifiable = False
        elif c in "*+?":
            if not quantifiable or (i + 1 < n and pattern[i + 1] in "*+?{"):
                return None
            out.append(c)
            quantifiable = False
        elif c == "{":
            end = _braces(pattern, i)
            if end is None or not quantifiable:
                return None
            body, i = end
            if i < n and pattern[i] in "*+?{":
                return None
            out.append(body)
            quantifiable = False
            continue
        else:
            return None
        i += 1
    return "".join(out) if depth == 0 else None


def _bracket(pattern: str, start: int) -> tuple[str, int] | None:
    """``[...]`` at ``start`` -> (translated class, index after it)."""
    i = start + 1
    out = ["["]
    negated = pattern.startswith("^", i)
    if negated:
        out.append("^")
        i += 1
    items = 0
    while i < len(pattern) and pattern[i] != "]":
        c = pattern[i]
        if c == "\\":
            if i + 1 >= len(pattern):
                return None
            e = pattern[i + 1]
            if e in _CLASS_ESCAPES and not negated:  # narrowing \\d inside [^...] widens it
                out.append(_CLASS_ESCAPES[e])
            elif e in "-]\\^":
                out.append({"-": "\\-", "]": "\\]", "\\": "\\\\", "^": "\\^"}[e])
            elif e in _ESCAPABLE:
                out.append(e)
            else:
                return None
            i += 2
        elif c.isascii() and (c.isalnum() or c in " _:@/,.+*?$|(){}#&=<>!~;'\""):
            if pattern.startswith("-", i + 1) and i + 2 < len(pattern) and pattern[i + 2] != "]":
                hi = pattern[i + 2]
                if not any(c in r and hi in r for r in _RANGES) or c > hi:
                    return None
                out.append(f"{c}-{hi}")
                i += 3
            else:
                out.append(c)
                i += 1
        elif c == "-" and (items == 0 or pattern.startswith("]", i + 1)):
            out.append("\\-")
            i += 1
        else:
            return None
        items += 1
    if i >= len(pattern) or items == 0:
        return None
    out.append("]")
    return "".join(out), i + 1


def _braces(pattern: str, start: int) -> tuple[str, int] | None:
    end = pattern.find("}", start)
    if end < 0:
        return None
    body = pattern[start + 1 : end]
    lo, comma, hi = body.partition(",")
    if (
        not (lo.isascii() and lo.isdigit())
        or (hi and not (hi.isascii() and hi.isdigit()))
        or int(lo) > 255
        or (hi and int(hi) > 255)
    ):
        return None
    if hi and int(hi) < int(lo):
        return None
    return "{" + lo + comma + hi + "}", end + 1


# -- CEL rules ----------------------------------------------------------------------------------

_RELATIONS: Final = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_COLUMN_CEL_TYPES: Final = {**dict.fromkeys(_INTEGER, "int"), **dict.fromkeys(_TEXT, "string")}
_COLUMN_CEL_TYPES["boolean"] = "bool"


def _rule(rule_id: str, expr: str, columns: dict[str, str]) -> sql.Composable:
    try:
        node = parse(expr)
    except CelSyntaxError as exc:
        raise Unsupported(f"rule {rule_id!r}: {exc}") from exc
    try:
        code, typ = _cel(node, columns)
    except Unsupported as exc:
        raise Unsupported(f"rule {rule_id!r}: {exc}") from exc
    if typ != "bool":
        raise Unsupported(f"rule {rule_id!r} is not a boolean expression")
    return sql.SQL("({}) IS TRUE").format(code)


def _cel(node: Node, columns: dict[str, str]) -> tuple[sql.Composable, str]:
    """(SQL, CEL type): the SQL is NULL exactly where CEL would raise an error."""
    match node:
        case Literal(kind, value) if kind in ("int", "string", "bool"):
            if kind == "bool":
                return (_TRUE if value else _FALSE), "bool"
            return _literal(value), kind
        case Select(Ident("record"), field):
            typ = _COLUMN_CEL_TYPES.get(columns.get(field, ""))
            if typ is None:
                raise Unsupported(f"record.{field} (not an integer, text or boolean column)")
            return _col(field), typ
        case Has(Ident("record"), field):
            if field not in columns:
                return _FALSE, "bool"
            return sql.SQL("({} IS NOT NULL)").format(_col(field)), "bool"
        case Unary("!", operand):
            code, typ = _cel(operand, columns)
            if typ != "bool":
                raise Unsupported("! of a non-bool")
            return sql.SQL("(NOT {})").format(code), "bool"
        case Binary("&&" | "||" as op, left, right):
            lcode, ltyp = _cel(left, columns)
            rcode, rtyp = _cel(right, columns)
            if ltyp != "bool" or rtyp != "bool":
                raise Unsupported(f"{op} of a non-bool")
            joiner = "AND" if op == "&&" else "OR"
            return sql.SQL("({} {} {})").format(lcode, sql.SQL(joiner), rcode), "bool"
        case Binary("in", left, ListLit(items)):
            lcode, ltyp = _cel(left, columns)
            codes = [_cel(item, columns) for item in items]
            typed = zip(items, codes, strict=True)
            if not items or any(not isinstance(i, Literal) or t != ltyp for i, (_, t) in typed):
                raise Unsupported("in: a list of literals of the operand's type")
            target = sql.SQL('{} COLLATE "C"').format(lcode) if ltyp == "string" else lcode
            joined = sql.SQL(", ").join(c for c, _ in codes)
            return sql.SQL("({} IN ({}))").format(target, joined), "bool"
        case Binary(op, left, right) if op in _RELATIONS:
            lcode, ltyp = _cel(left, columns)
            rcode, rtyp = _cel(right, columns)
            if ltyp != rtyp or (ltyp == "bool" and op not in ("==", "!=")):
                raise Unsupported(f"{op} between {ltyp} and {rtyp}")
            if ltyp == "string":
                lcode = sql.SQL('{} COLLATE "C"').format(lcode)
            return sql.SQL("({} {} {})").format(lcode, sql.SQL(_RELATIONS[op]), rcode), "bool"
    raise Unsupported(f"the construct {type(node).__name__}")
