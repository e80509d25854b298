"""The transpiler: generated code for common rules and the CEL/Python differences it guards."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from dataquarantine.validation.rules.parser import parse
from dataquarantine.validation.rules.reference import EvalError, ReferenceProgram
from dataquarantine.validation.rules.transpiler import Transpiler, Unsupported, compile_expression


def code(expr: str) -> str:
    return Transpiler({}).emit(parse(expr)).src


def fast(expr: str) -> Callable[[Any], Any]:
    return compile_expression(parse(expr))


FALLBACK = object()


def run(expr: str, record: Any = None) -> Any:
    try:
        return fast(expr)(record)
    except Exception:
        return FALLBACK


def test_closed_comprehension_bodies_are_built_once() -> None:
    transpiler = Transpiler({})
    src = transpiler.emit(parse("record.items.all(i, i.qty > 0)")).src
    assert src == "_all(v_record['items'], _l_0, 5)"  # 5 units per item: 1 + 4 nodes
    assert transpiler.prelude == [
        "_l_0 = lambda v_i: (_t_1 > (0) if type((_t_1 := v_i['qty'])) is int "
        "or type(_t_1) is float and _t_1 == _t_1 else _gt(_t_1, (0)))"
    ]
    # A body that reads the record (or an outer variable) is a closure, built per record.
    transpiler = Transpiler({})
    src = transpiler.emit(parse("record.items.all(i, i.qty < record.max)")).src
    assert src.startswith("_all(v_record['items'], (lambda v_i: ")
    assert transpiler.prelude == []


def test_common_operations_are_inline() -> None:
    """Field access, same-type comparisons, has and literal-list membership need no helper
    call on the success path."""
    assert code("record.a.b") == "v_record['a']['b']"
    src = code("record.event_type != 'purchase' || has(record.product_id)")
    assert "_t_1 != 'purchase' if type((_t_1 := v_record['event_type'])) is str" in src
    assert "'product_id' in v_record if type(v_record) is dict" in src
    assert code("record.amount >= 0").startswith("(_t_1 >= (0) if type(")
    assert "_c0" in code("record.status in ['a', 'b']")
    assert code("record.ok == true") == "(v_record['ok'] is True)"
    assert code("record.x != null") == "(v_record['x'] is not None)"


@pytest.mark.parametrize(
    ("expr", "record", "expected"),
    [
        ("record.event_type != 'purchase' || has(record.product_id)", {"event_type": "x"}, True),
        (
            "record.event_type != 'purchase' || has(record.product_id)",
            {"event_type": "purchase"},
            False,
        ),
        ("record.amount >= 0", {"amount": 0}, True),
        ("record.amount >= 0", {"amount": -0.5}, False),
        ("size(record.user_id) == 10", {"user_id": "0123456789"}, True),
        ("record.status in ['a', 'b']", {"status": "c"}, False),
        ("record.status in ['a', 'b']", {"status": 1}, False),
        ("record.items.all(i, i.qty > 0)", {"items": []}, True),
        ("record.items.all(i, i.qty > 0)", {"items": [{"qty": 1}, {"qty": 0}]}, False),
        ("record.items.exists(i, i.qty > 0)", {"items": [{"qty": 0}, {"qty": 3}]}, True),
        ("record.items.exists_one(i, i.qty > 0)", {"items": [{"qty": 1}, {"qty": 3}]}, False),
        ("record.l.map(x, x * 2) == [2, 4]", {"l": [1, 2]}, True),
        ("record.l.filter(x, x > 1) == [2]", {"l": [1, 2]}, True),
        ("record.l.map(x, x > 1, x * 10) == [20]", {"l": [1, 2]}, True),
        ("record.m.all(k, k.startsWith('a'))", {"m": {"ab": 1, "ac": 2}}, True),
        ("record.o.all(x, x.l.all(y, y > 0))", {"o": [{"l": [1]}, {"l": [2, 3]}]}, True),
        ("record.a.all(x, record.b.exists(y, y == x))", {"a": [1, 2], "b": [2, 1]}, True),
        ("record.a.all(x, x.exists(x, x == 2))", {"a": [[1, 2], [2]]}, True),  # shadowing
        ("true == 1", None, False),  # bool is not int
        ("record.b == 1", {"b": True}, False),
        ("record.b in [1, 0]", {"b": False}, False),
        ("[true] == [1]", None, False),
        ("1 == 1.0 && 1 < 2.5", None, True),  # numbers compare across types
        ("'a' == 1", None, False),
        ("7 / -2 == -3 && -7 / 2 == -3", None, True),  # truncation toward zero
        ("-7 % 3 == -1 && 7 % -3 == 1", None, True),
        ("record.a + 1 == 3", {"a": 2}, True),
        ("record.f * 2.0 == 3.0", {"f": 1.5}, True),
        ("record.s + '!' == 'hi!'", {"s": "hi"}, True),
        ("record.l + [3] == [1, 3]", {"l": [1]}, True),
        ("int(record.f) == -2", {"f": -2.9}, True),
        ("double(record.i) == 3.0", {"i": 3}, True),
        ("string(record.i) == '-4'", {"i": -4}, True),
        ("record.s.contains('b') && record.s.endsWith('c')", {"s": "abc"}, True),
        ("record.s.matches('^[a-c]+$')", {"s": "abc"}, True),
        ("record.s.matches('c$')", {"s": "abc\n"}, False),  # no match before a final newline
        ("size(record.s) == 1", {"s": "é"}, True),  # code points, not UTF-8 bytes
        ("record.s.matches('^.$')", {"s": "é"}, True),  # RE2 on any string
        ("record.s.matches('^(a+)+$')", {"s": "a" * 64 + "b"}, False),  # linear time
        ("record.a > record.f", {"a": 2**53 + 1, "f": 2.0**53}, False),  # compared as doubles
        ("record.f >= 0", {"f": math.nan}, False),  # any comparison with NaN is false
        ("record.m['k'] == 1 && record.l[1] == 2", {"m": {"k": 1}, "l": [1, 2]}, True),
        ("(record.a > 1 ? 'big' : 'small') == 'big'", {"a": 2}, True),
        ("!(record.a == 1)", {"a": 2}, True),
        ("{'a': record.a}.a == 1", {"a": 1}, True),
        ("record.f < 1.0", {"f": -math.inf}, True),
    ],
)
def test_values(expr: str, record: Any, expected: bool) -> None:
    assert run(expr, record) is expected
    assert ReferenceProgram(expr).evaluate(record) is expected


@pytest.mark.parametrize(
    ("expr", "record"),
    [
        ("record.x > 0", {}),  # no such key
        ("record.a.b", {"a": "str"}),  # select on a non-map
        ("has(record.a.b)", {"a": [1]}),
        ("true + 1", None),
        ("record.a + 1 > 0", {"a": 2**63 - 1}),  # int64 overflow
        ("record.a / 0 == 1", {"a": 1}),
        ("record.a % 0 == 1", {"a": 1}),
        ("[1, 2][-1] == 2", None),  # negative index
        ("'b' in 'abc'", None),  # not a substring test
        ("'a' < 1", None),
        ("[1] < [2]", None),
        ("record.a || false", {"a": 1}),  # a non-bool operand that is not absorbed
        ("!record.a", {"a": 0}),
        ("record.a ? 1 : 2", {"a": "yes"}),
        ("record.l.all(x, x)", {"l": [1]}),
        ("'abc'[0] == 'a'", None),
        ("1.5 + 1 > 0", None),
        ("int(record.f) == 0", {"f": 1e19}),
    ],
)
def test_errors_are_never_values(expr: str, record: Any) -> None:
    assert run(expr, record) is FALLBACK
    assert isinstance(ReferenceProgram(expr).evaluate(record), EvalError)


@pytest.mark.parametrize(
    ("expr", "record"),
    [
        # Ints beyond uint64 are doubles in CEL (rounded):
        ("record.a == record.b", {"a": 2**64, "b": 2**64 + 1}),
        ("record.a == 'x'", {"a": b"x"}),  # bytes, datetime, Decimal, UUID: the reference's job
        ("-record.a < 0", {"a": -(2**63)}),  # an overflow: an error
        ("[1, 2] == record.l", {"l": (1, 2)}),
        ("record.error || true", {}),  # CEL absorbs the error; Python raises
        ("record.m.map(k, k) == ['a']", {"m": {"a": 1}}),  # map iteration order is the reference's
    ],
)
def test_fast_path_defers_to_the_reference(expr: str, record: Any) -> None:
    assert run(expr, record) is FALLBACK


@pytest.mark.parametrize(
    "expr",
    [
        "record.a == 1u",
        "record.a == b'x'",
        "record.t < timestamp('2024-01-01T00:00:00Z')",
        "type(record.a) == int",
        "record.s.matches(record.p)",
        "record.s.matches('(?=a)')",
        "{1: 'a'}[1] == 'a'",
        "unknown(record)",
        "record.s.lowerAscii() == 'a'",
    ],
)
def test_unsupported_constructs(expr: str) -> None:
    with pytest.raises(Unsupported):
        Transpiler({}).emit(parse(expr))
