"""Helpers called by the Python code the transpiler generates for fast-path rules.

Each helper either returns exactly the value the reference interpreter returns, or raises
:class:`FastPathError` (any exception will do) so that the rule is re-evaluated by the
interpreter for that record. They accept only the plain decoded types (``dict``, ``list``,
``str``, ``int``, ``float``, ``bool``, ``None``); anything else (bytes, datetime, Decimal,
UUID, ints outside int64, ...) raises, because its CEL conversion is the interpreter's
business. Type checks use ``type(x) is T`` on purpose: ``bool`` is not an ``int`` in CEL.
Comprehensions and concatenations charge the cost budget (:mod:`.budget`) exactly as the
interpreter does; :class:`~.budget.BudgetExceeded` is the one exception that is a verdict.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from dataquarantine.validation.rules.budget import (
    CHARS_PER_UNIT,
    COST_LIMIT,
    BudgetExceeded,
    charge,
)

__all__ = ["HELPERS", "FastPathError"]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

_NoneType = type(None)
_PLAIN = frozenset({str, int, float, bool, _NoneType, list, dict})

Pred = Callable[[Any], bool]
Spend = Callable[[int], None]


class FastPathError(Exception):
    """The fast path cannot decide this value; ask the reference evaluator."""


def fail(*_: object) -> NoReturn:
    raise FastPathError


def _int(x: int) -> int:
    if INT64_MIN <= x <= INT64_MAX:
        return x
    raise FastPathError


def _ordered(a: Any, b: Any) -> tuple[Any, Any]:
    ta = type(a)
    tb = type(b)
    if ta is tb:
        if ta is str or ta is bool:
            return a, b
        if ta is int:
            return _int(a), _int(b)
        if ta is float:
            return a, b  # any comparison with NaN is false, in CEL as in Python
    elif ta is int and tb is float:
        return float(_int(a)), b  # mixed with a double, an int compares as a double
    elif ta is float and tb is int:
        return a, float(_int(b))
    raise FastPathError


def lt(a: Any, b: Any) -> bool:
    a, b = _ordered(a, b)
    return bool(a < b)


def le(a: Any, b: Any) -> bool:
    a, b = _ordered(a, b)
    return bool(a <= b)


def gt(a: Any, b: Any) -> bool:
    a, b = _ordered(a, b)
    return bool(a > b)


def ge(a: Any, b: Any) -> bool:
    a, b = _ordered(a, b)
    return bool(a >= b)


def eq(a: Any, b: Any, spend: Spend | None = None) -> bool:
    """CEL equality: values of different types are unequal (numbers compare by value).
    ``spend`` (inside a comprehension's body) is charged as the interpreter charges."""
    ta = type(a)
    tb = type(b)
    if ta is tb:
        if ta is str:
            if spend is not None and len(a) == len(b):
                spend(len(a) // CHARS_PER_UNIT)
            return bool(a == b)
        if ta is bool or ta is float or ta is _NoneType:
            return bool(a == b)
        if ta is int:
            return _int(a) == _int(b)
        if ta is list:
            return _eq_list(a, b, spend)
        if ta is dict:
            return _eq_dict(a, b, spend)
        raise FastPathError
    if (ta is int or ta is float) and (tb is int or tb is float):
        if ta is int:
            return bool(float(_int(a)) == b)  # mixed with a double, an int compares as one
        return bool(a == float(_int(b)))
    if ta in _PLAIN and tb in _PLAIN:
        return False
    raise FastPathError


def _eq_list(a: list[Any], b: list[Any], spend: Spend | None) -> bool:
    if len(a) != len(b):
        return False
    if spend is not None:
        spend(len(a))
    # Equality never errs, so stopping at the first difference is exact.
    return all(eq(x, y, spend) for x, y in zip(a, b, strict=True))


def _eq_dict(a: dict[Any, Any], b: dict[Any, Any], spend: Spend | None) -> bool:
    for key in a:
        if type(key) is not str:
            raise FastPathError
    for key in b:
        if type(key) is not str:
            raise FastPathError
    if a.keys() != b.keys():
        return False
    if spend is not None:
        spend(len(a))
    return all(eq(a[k], b[k], spend) for k in a)


def ne(a: Any, b: Any) -> bool:
    return not eq(a, b)


def in_(x: Any, container: Any, spend: Spend | None = None) -> bool:
    tc = type(container)
    if tc is list:
        if spend is not None:
            spend(len(container))
        for item in container:  # noqa: SIM110 - a loop beats any() over a generator here
            if eq(x, item, spend):
                return True
        return False
    if tc is dict and type(x) is str:
        return x in container
    raise FastPathError


# -- inside a comprehension's body: the same, charged to the budget ------------------------


def eq_charged(a: Any, b: Any) -> bool:
    return eq(a, b, charge)


def ne_charged(a: Any, b: Any) -> bool:
    return not eq(a, b, charge)


def in_charged(x: Any, container: Any) -> bool:
    return in_(x, container, charge)


def relation_charged(relation: Callable[[Any, Any], bool], a: Any, b: Any) -> bool:
    if type(a) is str and type(b) is str:
        charge(min(len(a), len(b)) // CHARS_PER_UNIT)
    return relation(a, b)


def scan(s: Any) -> bool:
    """Charge a string method's scan of ``s``; always false (used as ``scan(s) or test``)."""
    if type(s) is str:
        charge(len(s) // CHARS_PER_UNIT)
    return False


def index(container: Any, key: Any) -> Any:
    tc = type(container)
    tk = type(key)
    if tc is list:
        if tk is int and key >= 0:
            return container[key]
    elif tc is dict and (tk is str or (tk is int and INT64_MIN <= key <= INT64_MAX)):
        return container[key]
    raise FastPathError


def add(a: Any, b: Any) -> Any:
    ta = type(a)
    if ta is type(b):
        if ta is int:
            return _int(_int(a) + _int(b))
        if ta is float:
            return a + b
        if ta is str or ta is list:
            return cat(a, b)
    raise FastPathError


def cat(a: Any, b: Any) -> Any:
    """String or list concatenation, charged to the budget."""
    result = a + b
    charge(len(result) // CHARS_PER_UNIT)
    return result


def sub(a: Any, b: Any) -> Any:
    ta = type(a)
    if ta is type(b):
        if ta is int:
            return _int(_int(a) - _int(b))
        if ta is float:
            return a - b
    raise FastPathError


def mul(a: Any, b: Any) -> Any:
    ta = type(a)
    if ta is type(b):
        if ta is int:
            return _int(_int(a) * _int(b))
        if ta is float:
            return a * b
    raise FastPathError


def div(a: Any, b: Any) -> Any:
    ta = type(a)
    if ta is type(b):
        if ta is int and b != 0:
            q = abs(_int(a)) // abs(_int(b))  # CEL truncates toward zero
            return _int(q if (a < 0) == (b < 0) else -q)
        if ta is float and b != 0.0:
            return a / b
    raise FastPathError


def mod(a: Any, b: Any) -> int:
    if type(a) is int and type(b) is int and b != 0:
        r = abs(_int(a)) % abs(_int(b))  # the sign follows the dividend
        if a == INT64_MIN and b == -1:
            raise FastPathError
        return -r if a < 0 else r
    raise FastPathError


def neg(a: Any) -> Any:
    ta = type(a)
    if ta is int and INT64_MIN < a <= INT64_MAX:
        return -a
    if ta is float:
        return -a
    raise FastPathError


def not_(a: Any) -> bool:
    if type(a) is bool:
        return not a
    raise FastPathError


def size(x: Any) -> int:
    tx = type(x)
    if tx is str or tx is list or tx is dict:
        return len(x)  # a string's size counts code points
    raise FastPathError


def starts_with(s: Any, prefix: Any) -> bool:
    if type(s) is str and type(prefix) is str:
        return s.startswith(prefix)
    raise FastPathError


def ends_with(s: Any, suffix: Any) -> bool:
    if type(s) is str and type(suffix) is str:
        return s.endswith(suffix)
    raise FastPathError


def contains(s: Any, part: Any) -> bool:
    if type(s) is str and type(part) is str:
        return part in s
    raise FastPathError


def to_int(x: Any) -> int:
    tx = type(x)
    if tx is int:
        return _int(x)
    if tx is float and -(2.0**63) < x < 2.0**63:
        return int(x)
    raise FastPathError


def to_double(x: Any) -> float:
    tx = type(x)
    if tx is float:
        return float(x)
    if tx is int:
        return float(_int(x))
    raise FastPathError


def to_string(x: Any) -> str:
    tx = type(x)
    if tx is str:
        return str(x)
    if tx is int:
        return str(_int(x))
    raise FastPathError


def _spend(target: Any, weight: int, counted: bool) -> None:
    if counted:
        charge(len(target) * weight)
    elif len(target) * weight > COST_LIMIT:  # the rule's only cost: no running count needed
        raise BudgetExceeded


def all_(target: Any, pred: Pred, weight: int = 1, counted: bool = True) -> bool:
    tt = type(target)
    if tt is list or tt is dict:  # a map iterates its keys, in the interpreter's order
        _spend(target, weight, counted)
        for item in target:  # noqa: SIM110 - a loop beats all() over a generator here
            if not pred(item):
                return False
        return True
    raise FastPathError


def exists(target: Any, pred: Pred, weight: int = 1, counted: bool = True) -> bool:
    tt = type(target)
    if tt is list or tt is dict:
        _spend(target, weight, counted)
        for item in target:  # noqa: SIM110 - a loop beats any() over a generator here
            if pred(item):
                return True
        return False
    raise FastPathError


def exists_one(target: Any, pred: Pred, weight: int = 1, counted: bool = True) -> bool:
    tt = type(target)
    if tt is list or tt is dict:
        _spend(target, weight, counted)
        return [pred(item) for item in target].count(True) == 1
    raise FastPathError


def map_(target: Any, fn: Callable[[Any], Any], weight: int = 1, counted: bool = True) -> list[Any]:
    if type(target) is list:
        _spend(target, weight, counted)
        return [fn(item) for item in target]
    raise FastPathError


def map_filter(
    target: Any, pred: Pred, fn: Callable[[Any], Any], weight: int = 1, counted: bool = True
) -> list[Any]:
    if type(target) is list:
        _spend(target, weight, counted)
        return [fn(item) for item in target if pred(item)]
    raise FastPathError


def filter_(target: Any, pred: Pred, weight: int = 1, counted: bool = True) -> list[Any]:
    if type(target) is list:
        _spend(target, weight, counted)
        return [item for item in target if pred(item)]
    raise FastPathError


#: Name in generated code -> helper.
HELPERS: dict[str, Callable[..., Any]] = {
    "_fail": fail,
    "_Over": BudgetExceeded,
    "_cat": cat,
    "_lt": lt,
    "_le": le,
    "_gt": gt,
    "_ge": ge,
    "_eq": eq,
    "_ne": ne,
    "_in": in_,
    "_eqc": eq_charged,
    "_nec": ne_charged,
    "_inc": in_charged,
    "_relc": relation_charged,
    "_scan": scan,
    "_index": index,
    "_add": add,
    "_sub": sub,
    "_mul": mul,
    "_div": div,
    "_mod": mod,
    "_neg": neg,
    "_not": not_,
    "_size": size,
    "_starts": starts_with,
    "_ends": ends_with,
    "_contains": contains,
    "_to_int": to_int,
    "_to_double": to_double,
    "_to_string": to_string,
    "_all": all_,
    "_exists": exists,
    "_exists_one": exists_one,
    "_map": map_,
    "_map_filter": map_filter,
    "_filter": filter_,
}
