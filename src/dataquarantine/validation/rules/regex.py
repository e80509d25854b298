"""``matches()``: RE2 patterns, matched anywhere in the string, in linear time.

Both evaluation paths use the same compiled RE2 program, so they cannot disagree. A literal
pattern is compiled once per rule; computed patterns go through a bounded cache. The RE2
program is called directly (UTF-8 bytes in, the span of the match out, no capture groups):
the ``re2`` module's ``search`` costs several times more per call on the hot path.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any, Final

import re2

__all__ = ["UNANCHORED", "InvalidPattern", "Pattern", "compile_pattern"]

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False
_OPTIONS.never_capture = True
#: The anchor argument of a raw RE2 match: the pattern may match anywhere.
UNANCHORED: Final = re2._Anchor.UNANCHORED


class InvalidPattern(ValueError):
    """RE2 refuses the pattern."""


class Pattern:
    """A compiled RE2 pattern. ``match(UNANCHORED, data, 0, len(data))[0][0] >= 0`` is the
    raw test on UTF-8 ``data`` (the fast path inlines it); :meth:`search` wraps it."""

    __slots__ = ("match", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        try:
            program = re2.compile(source, _OPTIONS)
        except re2.error as exc:
            detail = exc.args[0] if exc.args else exc
            if isinstance(detail, bytes):
                detail = detail.decode("utf-8", "replace")
            raise InvalidPattern(f"invalid regular expression {source!r}: {detail}") from None
        self.match: Callable[..., Any] = program._regexp.Match

    def search(self, text: str) -> bool:
        """Whether the pattern matches somewhere in ``text``."""
        data = text.encode("utf-8")
        return bool(self.match(UNANCHORED, data, 0, len(data))[0][0] >= 0)


@lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> Pattern:
    """The compiled RE2 pattern (cached: computed patterns repeat across records)."""
    return Pattern(pattern)
