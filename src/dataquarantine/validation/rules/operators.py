"""CEL operators: equality, ordering, arithmetic, membership and indexing."""

from __future__ import annotations

import math
from typing import Any

from dataquarantine.validation.rules.budget import CHARS_PER_UNIT, Budget
from dataquarantine.validation.rules.values import (
    INT64_MAX,
    INT64_MIN,
    UINT64_MAX,
    CelError,
    Duration,
    Timestamp,
    UInt,
    lookup_key,
    type_name,
)

__all__ = ["arith", "compare", "contains", "equal", "index", "negate", "no_overload"]


def no_overload(op: str, *args: Any) -> CelError:
    return CelError(f"no such overload: {op}({', '.join(type_name(a) for a in args)})")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _numbers(a: int | float, b: int | float) -> tuple[int | float, int | float]:
    """Mixed with a double, an int or uint compares as a double (as in the spec's tests:
    ``9223372036854775807 < 9223372036854775808.0`` is false); int and uint exactly."""
    if type(a) is float and type(b) is not float:
        return a, float(b)
    if type(b) is float and type(a) is not float:
        return float(a), b
    return a, b


def equal(a: Any, b: Any, budget: Budget | None = None) -> bool:
    """CEL's heterogeneous equality: numbers compare by value across int, uint and double;
    values of other different types are unequal (never an error). With ``budget`` (inside a
    comprehension's body) the work is charged: strings and bytes of equal length one unit per
    :data:`CHARS_PER_UNIT`, lists and maps of equal size one unit per element."""
    ta, tb = type(a), type(b)
    if ta is tb and ta is not list and ta is not dict:
        if budget is not None and (ta is str or ta is bytes) and len(a) == len(b):
            budget.charge(len(a) // CHARS_PER_UNIT)
        return bool(a == b)
    if _is_number(a) and _is_number(b):
        x, y = _numbers(a, b)
        return bool(x == y)  # NaN is unequal to everything
    if ta is list and tb is list:
        if len(a) != len(b):
            return False
        if budget is not None:
            budget.charge(len(a))
        return all(equal(x, y, budget) for x, y in zip(a, b, strict=True))
    if ta is dict and tb is dict:
        if a.keys() != b.keys():
            return False
        if budget is not None:
            budget.charge(len(a))
        return all(equal(value, b[key], budget) for key, value in a.items())
    return False


def _number_cmp(a: int | float, b: int | float) -> int | None:
    if (isinstance(a, float) and math.isnan(a)) or (isinstance(b, float) and math.isnan(b)):
        return None
    return (a > b) - (a < b)


def compare(op: str, a: Any, b: Any, budget: Budget | None = None) -> bool:
    """``<``, ``<=``, ``>``, ``>=``: numbers across types, and same-typed strings, bytes,
    bools, timestamps and durations. A comparison with NaN is false. With ``budget``, two
    strings are charged one unit per :data:`CHARS_PER_UNIT` of the shorter."""
    ta, tb = type(a), type(b)
    if budget is not None and ta is str and tb is str:
        budget.charge(min(len(a), len(b)) // CHARS_PER_UNIT)
    if _is_number(a) and _is_number(b):
        c = _number_cmp(*_numbers(a, b))
        if c is None:
            return False
    elif ta is tb and ta in (str, bytes, bool, Timestamp, Duration):
        c = (a > b) - (a < b)
    else:
        raise no_overload(op, a, b)
    if op == "<":
        return c < 0
    if op == "<=":
        return c <= 0
    if op == ">":
        return c > 0
    return c >= 0


def _int(value: int) -> int:
    if INT64_MIN <= value <= INT64_MAX:
        return value
    raise CelError("return error for overflow")


def _uint(value: int) -> UInt:
    if 0 <= value <= UINT64_MAX:
        return UInt(value)
    raise CelError("return error for overflow")


def _charge(budget: Budget, result: Any) -> Any:
    budget.charge(len(result) // CHARS_PER_UNIT)
    return result


def arith(op: str, a: Any, b: Any, budget: Budget) -> Any:
    """``+ - * / %`` on same-typed numbers (no implicit conversion), concatenation,
    and timestamp/duration arithmetic."""
    ta, tb = type(a), type(b)
    if ta is tb:
        if ta is int:
            return _int(_int_op(op, a, b))
        if ta is UInt:
            return _uint(_int_op(op, a, b))
        if ta is float:
            return _float_op(op, a, b)
        if op == "+" and ta in (str, bytes, list):
            return _charge(budget, a + b)
        if ta is Duration and op in "+-":
            return Duration.checked(a.nanos + b.nanos if op == "+" else a.nanos - b.nanos)
        if ta is Timestamp and op == "-":
            return Duration.checked(a.total_nanos - b.total_nanos)
    if ta is Timestamp and tb is Duration and op in "+-":
        delta = b.nanos if op == "+" else -b.nanos
        return Timestamp.checked(a.total_nanos + delta)
    if ta is Duration and tb is Timestamp and op == "+":
        return Timestamp.checked(b.total_nanos + a.nanos)
    raise no_overload(op, a, b)


def _int_op(op: str, a: int, b: int) -> int:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        raise CelError("division by zero" if op == "/" else "modulus by zero")
    q = abs(a) // abs(b)  # CEL truncates toward zero
    if op == "/":
        return q if (a < 0) == (b < 0) else -q
    r = abs(a) - q * abs(b)  # the remainder takes the sign of the dividend
    if a == INT64_MIN and b == -1 and type(a) is int:
        raise CelError("return error for overflow")
    return -r if a < 0 else r


def _float_op(op: str, a: float, b: float) -> float:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        if b == 0.0:
            if a == 0.0 or math.isnan(a):
                return math.nan
            return math.copysign(math.inf, a) * math.copysign(1.0, b)
        return a / b
    raise no_overload("%", a, b)


def negate(a: Any) -> Any:
    ta = type(a)
    if ta is int:
        return _int(-a)
    if ta is float:
        return -a
    if ta is Duration:
        return Duration.checked(-a.nanos)
    raise no_overload("-", a)


def contains(element: Any, container: Any, budget: Budget | None = None) -> bool:
    """``element in container``: list membership by equality, map key presence. With
    ``budget``, a list is charged one unit per element, and each comparison as :func:`equal`."""
    if type(container) is list:
        if budget is not None:
            budget.charge(len(container))
        return any(equal(element, item, budget) for item in container)
    if type(container) is dict:
        if not isinstance(element, str | int | float):
            return False
        return lookup_key(element) in container
    raise no_overload("in", element, container)


def index(container: Any, key: Any) -> Any:
    """``container[key]``: a list by an int, uint or whole double; a map by its key."""
    tc = type(container)
    if tc is list:
        if not _is_number(key):
            raise no_overload("[]", container, key)
        if isinstance(key, float) and not key.is_integer():
            raise CelError(f"unsupported index value {key}")
        position = int(key)
        if not 0 <= position < len(container):
            raise CelError(f"index out of bounds: {position}")
        return container[position]
    if tc is dict:
        if not isinstance(key, str | int | float):
            raise no_overload("[]", container, key)
        found = lookup_key(key)
        if found not in container:
            raise CelError(f"no such key: {key!r}")
        return container[found]
    raise no_overload("[]", container, key)
