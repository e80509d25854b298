"""``matches()``: RE2 patterns, matched anywhere in the string, in linear time.

Both evaluation paths use the same compiled RE2 object, so they cannot disagree. A literal
pattern is compiled once per rule; computed patterns go through a bounded cache.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import re2

__all__ = ["InvalidPattern", "compile_pattern"]

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False


class InvalidPattern(ValueError):
    """RE2 refuses the pattern."""


@lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> Any:
    """The compiled RE2 pattern (its ``search`` is CEL's ``matches``)."""
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        raise InvalidPattern(f"invalid regular expression {pattern!r}: {detail}") from None
