"""The fast path's CEL parser."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataquarantine.validation.rules.nodes import (
    Binary,
    Call,
    Comprehension,
    Conditional,
    Has,
    Ident,
    Index,
    ListLit,
    Literal,
    MapLit,
    Select,
    Unary,
    free_identifiers,
)
from dataquarantine.validation.rules.parser import CelSyntaxError, parse, tokenize
from dataquarantine.validation.rules.reference import ReferenceProgram

R = Ident("record")


def lit(kind: str, value: object, text: str, negated: bool = False) -> Literal:
    return Literal(kind, value, text, negated)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("src", "kind", "value"),
    [
        ("42", "int", 42),
        ("0x1F", "int", 31),
        ("7u", "uint", 7),
        ("0xffU", "uint", 255),
        ("1.5", "double", 1.5),
        (".5", "double", 0.5),
        ("1e3", "double", 1000.0),
        ("2.5E-1", "double", 0.25),
        ("'a'", "string", "a"),
        ('"a\'b"', "string", "a'b"),
        ("'''a\nb'''", "string", "a\nb"),
        ('"""x"""', "string", "x"),
        ("r'\\n'", "string", "\\n"),
        ("R'\\d'", "string", "\\d"),
        ("'\\x41\\101\\u0041\\U00000041'", "string", "AAAA"),
        ("'\\a\\b\\f\\n\\r\\t\\v\\\\\\'\\\"\\`\\?'", "string", "\a\b\f\n\r\t\v\\'\"`?"),
        ("'\\u00e9'", "string", "é"),
        ("b'ab'", "bytes", b"ab"),
        ("true", "bool", True),
        ("false", "bool", False),
        ("null", "null", None),
    ],
)
def test_literals(src: str, kind: str, value: object) -> None:
    node = parse(src)
    assert isinstance(node, Literal)
    assert (node.kind, node.value) == (kind, value)
    if kind != "bytes":
        assert ReferenceProgram(src).evaluate(None) == value


def test_negative_literals_are_folded() -> None:
    assert parse("-9223372036854775808") == lit(
        "int", -(2**63), "9223372036854775808", negated=True
    )
    assert parse("-1.5") == lit("double", -1.5, "1.5", negated=True)
    assert parse("--1") == Unary("-", lit("int", -1, "1", negated=True))
    assert parse("-x") == Unary("-", Ident("x"))
    # A member access binds tighter than the sign.
    assert parse("-1.size()") == Unary("-", Call("size", (), lit("int", 1, "1")))


def test_out_of_range_literals() -> None:
    with pytest.raises(CelSyntaxError):
        parse("9223372036854775808")
    with pytest.raises(CelSyntaxError):
        parse("18446744073709551616u")


def test_precedence() -> None:
    one, two, three = (lit("int", n, str(n)) for n in (1, 2, 3))
    assert parse("1 + 2 * 3") == Binary("+", one, Binary("*", two, three))
    assert parse("1 - 2 - 3") == Binary("-", Binary("-", one, two), three)
    a, b, c = Ident("a"), Ident("b"), Ident("c")
    assert parse("a || b && c") == Binary("||", a, Binary("&&", b, c))
    assert parse("a && b || c") == Binary("||", Binary("&&", a, b), c)
    assert parse("a < b == c") == Binary("==", Binary("<", a, b), c)
    assert parse("a in b") == Binary("in", a, b)
    assert parse("!a == b") == Binary("==", Unary("!", a), b)
    assert parse("!!a") == Unary("!", Unary("!", a))
    assert parse("a ? b : c ? a : b") == Conditional(a, b, Conditional(c, a, b))
    assert parse("a || b ? 1 : 2") == Conditional(Binary("||", a, b), one, two)


def test_members_indexes_and_calls() -> None:
    assert parse("record.a[0].b") == Select(Index(Select(R, "a"), lit("int", 0, "0")), "b")
    assert parse("record['a']") == Index(R, lit("string", "a", "'a'"))
    assert parse("size(record.a)") == Call("size", (Select(R, "a"),))
    assert parse("record.s.startsWith('x')") == Call(
        "startsWith", (lit("string", "x", "'x'"),), Select(R, "s")
    )
    assert parse("f()") == Call("f", ())


def test_macros() -> None:
    items = Select(R, "items")
    pred = Binary(">", Select(Ident("i"), "qty"), lit("int", 0, "0"))
    assert parse("record.items.all(i, i.qty > 0)") == Comprehension("all", items, "i", pred, None)
    assert parse("record.items.exists_one(i, i.qty > 0)").macro == "exists_one"  # type: ignore[union-attr]
    assert parse("record.items.map(i, i.qty)") == Comprehension(
        "map", items, "i", None, Select(Ident("i"), "qty")
    )
    assert parse("record.items.map(i, i.qty > 0, i.qty)") == Comprehension(
        "map", items, "i", pred, Select(Ident("i"), "qty")
    )
    assert parse("has(record.a.b)") == Has(Select(R, "a"), "b")
    with pytest.raises(CelSyntaxError):
        parse("has(record)")
    with pytest.raises(CelSyntaxError):
        parse("record.l.all(1, true)")


def test_collection_literals() -> None:
    one = lit("int", 1, "1")
    assert parse("[1, 1,]") == ListLit((one, one))
    assert parse("[]") == ListLit(())
    assert parse("{'a': 1,}") == MapLit(((lit("string", "a", "'a'"), one),))
    assert parse("{}") == MapLit(())


def test_whitespace_and_comments() -> None:
    assert parse("record.a // the amount\n  >= 0") == Binary(
        ">=", Select(R, "a"), lit("int", 0, "0")
    )


@pytest.mark.parametrize(
    "src",
    ["", "1 +", "(1", "'abc", "'a\nb'", "Msg{a: 1}", ".a", "'\\q'", "1 2", "a ? b"],
)
def test_unsupported_or_invalid(src: str) -> None:
    with pytest.raises(CelSyntaxError):
        parse(src)


def test_free_identifiers() -> None:
    node = parse("record.items.all(i, i.qty > limit) && x[y] == size(z)")
    assert free_identifiers(node) == {"record", "limit", "x", "y", "z"}
    assert free_identifiers(parse("[1].map(record, record + 1)")) == set()


def test_tokens_carry_positions() -> None:
    tokens = tokenize("a  <= 'x'")
    assert [(t.kind, t.text, t.pos) for t in tokens] == [
        ("ident", "a", 0),
        ("op", "<=", 3),
        ("str", "'x'", 6),
        ("eof", "", 9),
    ]


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r"), max_size=8))
def test_string_literals_decode_like_the_reference(body: str) -> None:
    src = "'" + body.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"
    node = parse(src)
    assert isinstance(node, Literal)
    assert node.value == body == ReferenceProgram(src).evaluate(None)
