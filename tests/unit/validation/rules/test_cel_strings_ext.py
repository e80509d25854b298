"""The CEL strings extension: semantics of each function and its cost (cel-spec's
``string_ext`` conformance file covers the rest, format() and quote() excepted)."""

from __future__ import annotations

from typing import Any

import pytest

from dataquarantine.errors import RuleEvaluationError
from dataquarantine.validation.rules import Expression


def ev(source: str, **record: Any) -> Any:
    return Expression(source).evaluate(record)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("record.s.lowerAscii()", "straße Àb"),
        ("record.s.upperAscii()", "STRAßE ÀB"),
        ("record.s.charAt(4)", "ß"),
        ("record.s.charAt(9)", ""),
        ("record.s.indexOf('B')", 8),
        ("record.s.indexOf('')", 0),
        ("record.s.indexOf('x')", -1),
        ("'abcabc'.lastIndexOf('bc')", 4),
        ("'abcabc'.lastIndexOf('bc', 3)", 1),
        ("'abc'.lastIndexOf('')", 3),
        ("record.s.substring(7)", "ÀB"),
        ("record.s.substring(0, 3)", "Str"),
        ("'a,b,,c'.split(',')", ["a", "b", "", "c"]),
        ("'a,b,,c'.split(',', 2)", ["a", "b,,c"]),
        ("'a,b'.split(',', 0)", []),
        ("'abc'.split('', 2)", ["a", "bc"]),
        ("'aaa'.replace('a', 'b')", "bbb"),
        ("'aaa'.replace('a', 'b', 2)", "bba"),
        ("'aaa'.replace('a', 'b', 0)", "aaa"),
        ("['a', 'b'].join()", "ab"),
        ("['a', 'b'].join('-')", "a-b"),
        ("' \\u00a0x\\t'.trim()", "x"),
        ("'\\x1fx'.trim()", "\x1fx"),  # not white space for Go
        ("'abc'.reverse()", "cba"),
    ],
)
def test_function(source: str, expected: Any) -> None:
    assert ev(source, s="StraßE ÀB") == expected


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("'abc'.charAt(4)", "index out of range: 4"),
        ("'abc'.indexOf('a', -1)", "index out of range: -1"),
        ("'abc'.substring(2, 1)", "invalid substring range. start: 2, end: 1"),
        ("'abc'.substring(1, 9)", "index out of range: 9"),
        ("[1].join()", "no such overload"),
        ("record.n.lowerAscii()", "no such overload"),
        ("'a'.split(true)", "no such overload"),
    ],
)
def test_errors(source: str, message: str) -> None:
    with pytest.raises(RuleEvaluationError, match=message):
        ev(source, n=1)


def test_the_issue_example_lowers_an_enum() -> None:
    assert ev("record.status.lowerAscii()", status="ACTIVE") == "active"


def test_what_a_call_builds_is_charged() -> None:
    # each replace multiplies the string by 1000: the third would build a billion characters
    source = "'a'.replace('a', record.k).replace('a', record.k).replace('a', record.k)"
    with pytest.raises(RuleEvaluationError, match="cost budget exceeded"):
        ev(source, k="a" * 1000)


def test_scans_in_a_comprehension_are_charged() -> None:
    with pytest.raises(RuleEvaluationError, match="cost budget exceeded"):
        ev("record.xs.all(x, record.s.lowerAscii() != x)", xs=list(range(3000)), s="A" * 200_000)
