"""Hypothesis strategies for CEL expressions and JSON-like records (differential tests)."""

from __future__ import annotations

import datetime as dt
import decimal
import math
import uuid
from typing import Any

from hypothesis import strategies as st

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)

EDGE_INTS = [0, 1, -1, 2, 7, -7, 10, 2**31, 2**52, 2**53, 2**53 + 1, INT64_MAX, INT64_MIN]
EDGE_INTS += [2**63, 2**64 - 1, 2**64, -(2**63) - 1, 10**20]
EDGE_FLOATS = [0.0, -0.0, 0.5, 1.0, -2.5, 1e20, 2.0**53, 9.2e18, math.inf, -math.inf, math.nan]

ints = st.one_of(st.integers(-20, 20), st.sampled_from(EDGE_INTS))
floats = st.one_of(st.sampled_from(EDGE_FLOATS), st.floats(-100, 100, allow_nan=False))
texts = st.text(alphabet="ab c.@\n_1é\u00e0Z", max_size=6)
scalars = st.one_of(st.none(), st.booleans(), ints, floats, texts)
exotic = st.sampled_from(
    [
        decimal.Decimal("1.5"),
        uuid.UUID(int=7),
        dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        dt.date(2024, 1, 2),
        b"ab",
    ]
)


def loose(main: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly ``main``; sometimes any scalar, a list or a map (type confusion on purpose)."""
    return st.one_of(
        main,
        main,
        main,
        scalars,
        st.lists(scalars, max_size=3),
        st.dictionaries(st.sampled_from(["a", "b", "q"]), scalars, max_size=2),
        exotic,
    )


FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "i": loose(ints),
    "f": loose(floats),
    "s": loose(texts),
    "b": loose(st.booleans()),
    "n": loose(st.none()),
    "l": loose(st.lists(st.one_of(ints, floats), max_size=4)),
    "t": loose(st.lists(texts, max_size=3)),
    "m": loose(st.dictionaries(st.sampled_from(["a", "b", "q"]), scalars, max_size=3)),
    "o": loose(st.lists(st.fixed_dictionaries({}, optional={"q": loose(ints)}), max_size=3)),
}


@st.composite
def records(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 30)) == 0:
        return draw(scalars)  # not even an object
    out: dict[str, Any] = {}
    for name, strategy in FIELDS.items():
        if draw(st.integers(0, 9)) > 0:
            out[name] = draw(strategy)
    return out


# -- expressions ------------------------------------------------------------------------------


def _lit_int(n: int) -> str:
    return str(n)


int_literals = st.one_of(
    st.integers(-10, 10).map(_lit_int),
    st.sampled_from(
        ["0", "1", "-1", "9223372036854775807", "-9223372036854775808", "0x10", "4503599627370496"]
    ),
)
double_literals = st.sampled_from(["0.0", "1.5", "-2.5", "1e3", "2.0", ".5", "1e20", "-0.0"])
string_literals = st.sampled_from(
    ["'a'", '"ab"', "''", "'é'", "'a\\n'", "r'a\\n'", "'''x'''", "'\\x41'", "'\\u00e9'", "' '"]
)
patterns = st.sampled_from(
    ["'a'", "'^a'", "'a$'", "'^[a-c]+$'", "'\\\\d'", "'\\\\s'", "'a.b'", "'(a|b)c?'", "'[^a]'"]
)

Kind = str  # "int", "double", "string", "bool", "list", "any"
KINDS = ["int", "double", "string", "bool", "list"]


def _paren(draw: st.DrawFn, src: str) -> str:
    return f"({src})" if draw(st.booleans()) else src


def _bin(draw: st.DrawFn, left: str, op: str, right: str) -> str:
    return f"{_paren(draw, left)} {op} {_paren(draw, right)}"


@st.composite
def expressions(
    draw: st.DrawFn, kind: Kind = "bool", depth: int = 3, var: str | None = None
) -> str:
    """A CEL expression over ``record``, mostly of type ``kind`` (sometimes not, on purpose).

    ``var`` is the kind of the comprehension variable ``v`` in scope (``"map"`` for the
    items of ``record.o``), if any.
    """
    if kind == "any" or draw(st.integers(0, 12)) == 0:
        kind = draw(st.sampled_from(KINDS))
    if depth <= 0 or draw(st.integers(0, 3)) == 0:
        return draw(leaf(kind, var))

    def sub(k: Kind) -> str:
        return draw(expressions(k, depth - 1, var))

    if kind in ("int", "double"):
        choice = draw(st.integers(0, 5))
        if choice <= 2:
            return _bin(draw, sub(kind), draw(st.sampled_from("+-*/%")), sub(kind))
        if choice == 3:
            return f"-{_paren(draw, sub(kind))}"
        if choice == 4:
            conv = "int" if kind == "int" else "double"
            return f"{conv}({sub(draw(st.sampled_from(['int', 'double'])))})"
        return f"{_paren(draw, sub('bool'))} ? {_paren(draw, sub(kind))} : {sub(kind)}"
    if kind == "string":
        choice = draw(st.integers(0, 2))
        if choice == 0:
            return _bin(draw, sub("string"), "+", sub("string"))
        if choice == 1:
            return f"string({sub(draw(st.sampled_from(['int', 'string'])))})"
        return f"{_paren(draw, sub('bool'))} ? {_paren(draw, sub('string'))} : {sub('string')}"
    if kind == "list":
        choice = draw(st.integers(0, 3))
        if choice == 0:
            return "[" + ", ".join(sub(draw(st.sampled_from(KINDS))) for _ in range(2)) + "]"
        if choice == 1:
            return _bin(draw, sub("list"), "+", sub("list"))
        target, elem = draw(st.sampled_from(MACRO_TARGETS))
        body = draw(expressions(draw(st.sampled_from(KINDS)), depth - 1, elem))
        if choice == 2:
            return f"{target}.map(v, {body})"
        pred = draw(expressions("bool", depth - 1, elem))
        return f"{target}.filter(v, {pred})"
    # bool
    choice = draw(st.integers(0, 10))
    if choice <= 2:
        side = draw(st.sampled_from(["int", "double", "string", "int"]))
        other = side if draw(st.integers(0, 3)) else draw(st.sampled_from(["int", "double"]))
        op = draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
        return _bin(draw, sub(side), op, sub(other))
    if choice == 3:
        op = draw(st.sampled_from(["==", "!="]))
        right = draw(st.one_of(st.sampled_from(["null", "true", "false"]), st.just(sub("any"))))
        return _bin(draw, sub(draw(st.sampled_from(KINDS))), op, right)
    if choice == 4:
        return _bin(draw, sub(draw(st.sampled_from(KINDS))), "in", sub("list"))
    if choice == 5:
        return _bin(draw, sub("bool"), draw(st.sampled_from(["&&", "||"])), sub("bool"))
    if choice == 6:
        return f"!{_paren(draw, sub('bool'))}"
    if choice == 7:
        return f"{_paren(draw, sub('bool'))} ? {_paren(draw, sub('bool'))} : {sub('bool')}"
    if choice == 8:
        method = draw(st.sampled_from(["startsWith", "endsWith", "contains", "matches"]))
        arg = draw(patterns) if method == "matches" else sub("string")
        return f"{_paren(draw, sub('string'))}.{method}({arg})"
    if choice == 9:
        target, elem = draw(st.sampled_from(MACRO_TARGETS))
        macro = draw(st.sampled_from(["all", "exists", "exists_one"]))
        return f"{target}.{macro}(v, {draw(expressions('bool', depth - 1, elem))})"
    return _bin(draw, f"size({sub(draw(st.sampled_from(['string', 'list'])))})", "==", sub("int"))


MACRO_TARGETS = [
    ("record.l", "int"),
    ("record.t", "string"),
    ("record.o", "map"),
    ("record.m", "string"),
    ("[1, 2.5]", "double"),
]


@st.composite
def leaf(draw: st.DrawFn, kind: Kind, var: str | None = None) -> str:
    if var is not None and draw(st.integers(0, 2)) == 0:
        if var == "map":
            return "v.q" if kind in ("int", "double") else "has(v.q)" if kind == "bool" else "v"
        if var == kind or (var == "double" and kind == "int"):
            return "v"
    field = {"int": "i", "double": "f", "string": "s", "bool": "b", "list": "l"}[kind]
    if draw(st.integers(0, 2)) == 0:
        literal = {
            "int": int_literals,
            "double": double_literals,
            "string": string_literals,
            "bool": st.sampled_from(["true", "false"]),
            "list": st.sampled_from(
                ["['a', 'b']", "[1, 2.5]", "[]", "[null]", "[1, 2]", "[-1, 0, 7]", "['', 'é']"]
            ),
        }[kind]
        return draw(literal)
    if kind == "bool" and draw(st.booleans()):
        name = draw(st.sampled_from([*FIELDS, "m.a", "o"]))
        return f"has(record.{name})"
    if kind == "int" and draw(st.integers(0, 3)) == 0:
        return draw(
            st.sampled_from(["record.l[0]", "record.l[1]", "record.o[0].q", "size(record.s)"])
        )
    if draw(st.integers(0, 6)) == 0:
        return draw(st.sampled_from(["record.m.a", "record['m']['b']", "record.n", "record"]))
    return f"record.{field}"
