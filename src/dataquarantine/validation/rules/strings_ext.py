"""CEL's strings extension (cel-go ``ext.Strings``): ``charAt``, ``indexOf``, ``lastIndexOf``,
``lowerAscii``, ``upperAscii``, ``replace``, ``split``, ``join``, ``substring``, ``trim`` and
``reverse``, with the spec's semantics: indexes count code points, ``lowerAscii`` and
``upperAscii`` change ASCII letters only, ``trim`` removes Unicode white space (Go's
``unicode.IsSpace``), ``split`` and ``replace`` take an optional count as Go's ``SplitN`` and
``Replace`` do. ``format`` and ``quote`` are not implemented.

Cost: a call reads its string once, so it costs what a string method costs in a comprehension
body (one unit per ``CHARS_PER_UNIT`` characters, see :mod:`.budget`), charged by the caller;
what a call builds (``replace``, ``join``, ``split``) is charged here per ``CHARS_PER_UNIT``
characters produced, like a concatenation, wherever it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from dataquarantine.validation.rules.budget import CHARS_PER_UNIT, Budget
from dataquarantine.validation.rules.operators import no_overload
from dataquarantine.validation.rules.values import CelError

__all__ = ["STRING_EXT", "call_string_ext"]

#: Go's ``unicode.IsSpace``: Python's ``str.isspace`` also takes U+001C..U+001F.
_SPACE: Final = "\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(
    chr(c) for c in range(0x2000, 0x200B)
)
_LOWER: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_UPPER: Final = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _out_of_range(i: int) -> CelError:
    return CelError(f"index out of range: {i}")


def _char_at(s: str, i: int) -> str:
    if i < 0 or i > len(s):
        raise _out_of_range(i)
    return s[i : i + 1]


def _index_of(s: str, part: str, start: int = 0) -> int:
    if start < 0 or start > len(s):
        raise _out_of_range(start)
    return s.find(part, start)


def _last_index_of(s: str, part: str, end: int | None = None) -> int:
    end = len(s) if end is None else end
    if end < 0 or end > len(s):
        raise _out_of_range(end)
    # the match may start at ``end`` at the latest
    return s.rfind(part, 0, end + len(part))


def _substring(s: str, start: int, end: int | None = None) -> str:
    if start < 0 or start > len(s):
        raise _out_of_range(start)
    if end is None:
        return s[start:]
    if end < 0 or end > len(s):
        raise _out_of_range(end)
    if end < start:
        raise CelError(f"invalid substring range. start: {start}, end: {end}")
    return s[start:end]


def _replace(s: str, old: str, new: str, n: int = -1) -> str:
    if n < 0:
        return s.replace(old, new)
    return s.replace(old, new, n)


def _split(s: str, sep: str, n: int = -1) -> list[str]:
    if n == 0:
        return []
    if sep == "":
        chars = list(s)
        if 0 < n < len(chars):
            return [*chars[: n - 1], "".join(chars[n - 1 :])]
        return chars
    return s.split(sep, n - 1 if n > 0 else -1)


def _join(items: list[Any], sep: str = "") -> str:
    if not all(type(item) is str for item in items):
        raise no_overload("join", items, sep)
    return sep.join(items)


#: name -> (the argument types after the receiver, for each arity, and the function)
_SIGNATURES: Final[dict[str, tuple[tuple[tuple[type, ...], ...], Callable[..., Any]]]] = {
    "charAt": (((int,),), _char_at),
    "indexOf": (((str,), (str, int)), _index_of),
    "lastIndexOf": (((str,), (str, int)), _last_index_of),
    "lowerAscii": (((),), lambda s: s.translate(_LOWER)),
    "upperAscii": (((),), lambda s: s.translate(_UPPER)),
    "replace": (((str, str), (str, str, int)), _replace),
    "split": (((str,), (str, int)), _split),
    "substring": (((int,), (int, int)), _substring),
    "trim": (((),), lambda s: s.strip(_SPACE)),
    "reverse": (((),), lambda s: s[::-1]),
}
#: Every function of the extension (``join`` takes a list receiver).
STRING_EXT: Final = frozenset({*_SIGNATURES, "join"})


def _size(value: Any) -> int:
    if type(value) is str:
        return len(value)
    if type(value) is list:
        return sum(len(v) for v in value if type(v) is str)
    return 0


def call_string_ext(name: str, target: Any, args: list[Any], budget: Budget | None) -> Any:
    """``target.name(*args)``; charges what it builds to ``budget`` (when given)."""
    if name == "join":
        if type(target) is not list or len(args) > 1 or (args and type(args[0]) is not str):
            raise no_overload(name, target, *args)
        result: Any = _join(target, *args)
    else:
        arities, fn = _SIGNATURES[name]
        types = tuple(type(a) for a in args)
        if type(target) is not str or types not in arities:
            raise no_overload(name, target, *args)
        result = fn(target, *args)
    if budget is not None:
        budget.charge(_size(result) // CHARS_PER_UNIT)
    return result
