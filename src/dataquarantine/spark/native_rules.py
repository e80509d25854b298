"""CEL rules in the native tier: a Spark Column true only where every rule is surely ``true``.

A rule holds when its expression is ``true``; ``false`` or an evaluation error is a violation
(or, for ``severity: warn``, a warning), so a row is cleared only when every rule, whatever
its severity, is ``true``. The translation keeps one invariant per boolean sub-expression:
the Spark value TRUE means CEL ``true``, FALSE means CEL ``false``, NULL means anything (an
error, or a value not worked out). It holds through the logic, which is what makes it exact:

* ``a || b`` is Spark's OR and ``a && b`` its AND: CEL absorbs an error commutatively
  (``true || error`` is ``true``, ``false && error`` is ``false``) as SQL absorbs a NULL;
* ``!a`` is NOT (an error stays an error, NULL stays NULL);
* ``has(record.f)`` on a top-level column is ``f IS NOT NULL``: the engine sees a typed row
  with its null columns left out (:func:`~dataquarantine.io.arrow_readers.arrow_rows`), and
  a column the input does not have is never there;
* ``record.f`` is the column's value where the engine gets the same CEL value, else NULL:
  a null column is a missing key (an error), a string that is not UTF-8 never reaches a rule,
  a NaN or an infinity reaches it as a string;
* a comparison of a column with a literal of the same type: integral columns with ``int``
  literals (``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``), ``float``/``double`` columns with
  ``int`` or ``double`` literals (the ``int`` converted as CEL converts it; finite values
  only, so Spark's NaN ordering never matters), strings (binary collation: UTF-8 bytes
  order as code points do) with string literals, booleans with ``==`` and ``!=``, and
  ``record.f in [literals]`` of the column's type. Any other pair of types is NULL (CEL's
  heterogeneous equality or its no-overload error are not worked out);
* a boolean column alone, and the literals ``true`` and ``false``.

Anything else (arithmetic, functions, macros, nested fields, two columns compared, ``null``,
``uint`` and ``bytes`` literals, ``?:``) has no translation: the contract gets no native tier.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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
)

from dataquarantine.contracts.model import RuleSpec
from dataquarantine.spark.columns import ref
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

__all__ = ["rules_predicate"]

_MAX_DOUBLE: Final = 1.7976931348623157e308
_ORDERINGS: Final = frozenset({"<", "<=", ">", ">="})
_FLIPPED: Final = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
#: The literal kinds a column of each kind compares with exactly.
_LITERALS: Final = {
    "integer": frozenset({"int"}),
    "number": frozenset({"int", "double"}),
    "string": frozenset({"string"}),
    "boolean": frozenset({"bool"}),
}


class _Untranslated(Exception):
    """A construct outside the translated subset."""


def rules_predicate(rules: Sequence[RuleSpec], columns: dict[str, DataType]) -> Column | None:
    """TRUE only for rows of ``columns`` on which every rule is ``true`` (NULL or FALSE for
    the others); ``None`` when a rule uses a construct without a translation."""
    try:
        parts = [_Translator(columns).boolean(parse(rule.expr)) for rule in rules]
    except (_Untranslated, CelSyntaxError):
        return None
    return reduce(lambda a, b: a & b, parts) if parts else F.lit(True)


def _kind(t: DataType) -> str | None:
    if isinstance(t, (ByteType, ShortType, IntegerType, LongType)):
        return "integer"
    if isinstance(t, (FloatType, DoubleType)):
        return "number"
    if isinstance(t, StringType) and t.collation == "UTF8_BINARY":
        return "string"
    if isinstance(t, BooleanType):
        return "boolean"
    return None


def _unknown() -> Column:
    return F.lit(None).cast("boolean")


def _field(node: Node) -> str | None:
    """``f`` of ``record.f``, else ``None``."""
    if isinstance(node, Select) and node.operand == Ident("record"):
        return node.field
    return None


def _operands(node: Binary) -> list[Node]:
    """The operands of a chain ``a op b op c ...`` (left-nested), iteratively."""
    out: list[Node] = []
    base: Node = node
    while isinstance(base, Binary) and base.op == node.op:
        out.append(base.right)
        base = base.left
    out.append(base)
    return out[::-1]


class _Translator:
    __slots__ = ("columns",)

    def __init__(self, columns: dict[str, DataType]) -> None:
        self.columns = columns

    def boolean(self, node: Node) -> Column:
        """The Spark value of a boolean sub-expression (TRUE/FALSE exact, NULL unknown)."""
        if isinstance(node, Binary) and node.op in ("||", "&&"):
            parts = [self.boolean(item) for item in _operands(node)]
            if node.op == "||":
                return reduce(lambda a, b: a | b, parts)
            return reduce(lambda a, b: a & b, parts)
        if isinstance(node, Unary) and node.op == "!":
            return ~self.boolean(node.operand)
        if isinstance(node, Has) and node.operand == Ident("record"):
            return ref(node.field).isNotNull() if node.field in self.columns else F.lit(False)
        if isinstance(node, Literal) and node.kind == "bool":
            return F.lit(bool(node.value))
        if isinstance(node, Binary) and node.op in _FLIPPED:
            return self.comparison(node)
        if isinstance(node, Binary) and node.op == "in":
            return self.membership(node)
        name = _field(node)
        if name is not None:
            value = self.value(name)
            return value[0] if value is not None and value[1] == "boolean" else _unknown()
        raise _Untranslated(type(node).__name__)

    def value(self, name: str) -> tuple[Column, str] | None:
        """``record.name`` where the engine gets the column's value (NULL elsewhere), with its
        kind; ``None`` for a column that is not there or not of a translated type."""
        typ = self.columns.get(name)
        kind = _kind(typ) if typ is not None else None
        if kind is None:
            return None
        col = ref(name)
        if kind == "string":
            return F.when(F.is_valid_utf8(col), col), kind
        if kind == "number":
            finite = col.between(-_MAX_DOUBLE, _MAX_DOUBLE)  # false for NaN and +-inf
            return F.when(finite, col.cast("double")), kind
        return col, kind

    def comparison(self, node: Binary) -> Column:
        op, left, right = node.op, node.left, node.right
        if isinstance(left, Literal) and _field(right) is not None:
            op, left, right = _FLIPPED[op], right, left
        name = _field(left)
        if name is None or not isinstance(right, Literal):
            raise _Untranslated(f"{op} between {type(left).__name__} and {type(right).__name__}")
        value = self.value(name)
        if value is None:
            return _unknown()
        col, kind = value
        literal = _literal(right, kind)
        if literal is _NONE or (kind == "boolean" and op in _ORDERINGS):
            return _unknown()
        lit = F.lit(literal)
        result: Column = {
            "==": lambda: col == lit,
            "!=": lambda: col != lit,
            "<": lambda: col < lit,
            "<=": lambda: col <= lit,
            ">": lambda: col > lit,
            ">=": lambda: col >= lit,
        }[op]()
        return result

    def membership(self, node: Binary) -> Column:
        name = _field(node.left)
        items = node.right.items if isinstance(node.right, ListLit) else None
        if name is None or items is None or not all(isinstance(i, Literal) for i in items):
            raise _Untranslated("in: only record.f in a list of literals")
        value = self.value(name)
        if value is None:
            return _unknown()
        col, kind = value
        members = [_literal(item, kind) for item in items if isinstance(item, Literal)]
        if any(member is _NONE for member in members):
            return _unknown()
        if not members:
            return F.when(col.isNotNull(), F.lit(False))
        return col.isin(members)


_NONE: Final = object()


def _literal(node: Literal, kind: str) -> Any:
    """The Python value to compare a column of ``kind`` with, as CEL compares them; ``_NONE``
    when the pair is not translated."""
    if node.kind not in _LITERALS[kind]:
        return _NONE
    value = node.value
    if kind == "number":
        number = float(value)  # type: ignore[arg-type]  # CEL compares an int as a double
        return number if math.isfinite(number) else _NONE
    return value
