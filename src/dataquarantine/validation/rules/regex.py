"""Translate a CEL ``matches()`` pattern into an equivalent Python regular expression.

The reference evaluator uses Rust's ``regex`` crate (RE2 syntax, partial match). Python's
``re`` differs in ways that matter: ``$`` also matches before a trailing newline, ``\\s``
also matches ``\\x1c``-``\\x1f``, and Unicode classes (``\\w``, ``\\d``, case folding) use
other tables. The translation therefore accepts only a conservative subset of the syntax
and is used only for ASCII subjects (the generated code checks ``str.isascii()``), where the
two engines provably agree. Anything else raises :class:`UnsupportedPattern` and the rule
keeps the reference evaluator.
"""

from __future__ import annotations

import re

__all__ = ["UnsupportedPattern", "translate"]

_SPACE = "\\t\\n\\x0b\\x0c\\r "  # RE2/Rust \s on ASCII: [\t\n\v\f\r ]
_KEEP_ESCAPES = frozenset("dDwWntrfv")
_REPEAT_RE = re.compile(r"\{\d+(?:,\d*)?\}")
_NAMED_GROUP_RE = re.compile(r"\(\?P<[A-Za-z_][A-Za-z0-9_]*>")


class UnsupportedPattern(ValueError):
    """The pattern uses syntax the translation does not cover."""


def _escape(ch: str) -> str:
    return ch if ch.isalnum() or not ch.isascii() else re.escape(ch)


def _class(pattern: str, i: int) -> tuple[str, int]:
    """Translate the character class starting at ``pattern[i] == '['``; return it and the
    index after its closing ``]``."""
    out = ["["]
    i += 1
    if pattern.startswith("^", i):
        out.append("^")
        i += 1
    first = True
    while True:
        if i >= len(pattern):
            raise UnsupportedPattern("unclosed character class")
        ch = pattern[i]
        if ch == "]" and not first:
            out.append("]")
            return "".join(out), i + 1
        first = False
        if ch == "[" or pattern[i : i + 2] in ("&&", "--", "~~", "||"):
            raise UnsupportedPattern("nested classes and class set operations")
        if ch == "\\":
            if i + 1 >= len(pattern):
                raise UnsupportedPattern("dangling escape")
            esc = pattern[i + 1]
            if esc == "s":
                out.append(_SPACE)
            elif esc in "dwntrfv":
                out.append("\\" + esc)
            elif esc.isascii() and not esc.isalnum() and not esc.isspace():
                out.append(re.escape(esc))
            else:
                raise UnsupportedPattern(f"escape \\{esc} in a class")
            i += 2
            continue
        out.append(_escape(ch) if ch != "-" else "-")
        i += 1


def translate(pattern: str) -> tuple[str, int]:
    """Return ``(python_pattern, flags)`` matching like ``pattern`` does in the reference on
    ASCII subjects, or raise :class:`UnsupportedPattern`."""
    flags = 0
    i = 0
    if pattern.startswith("(?i)"):
        if not pattern.isascii():
            raise UnsupportedPattern("case folding of non-ASCII pattern")
        flags = re.IGNORECASE
        i = 4
    out: list[str] = []
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= len(pattern):
                raise UnsupportedPattern("dangling escape")
            esc = pattern[i + 1]
            if esc in _KEEP_ESCAPES or esc in "bA":  # not \B: Python never matches it in ""
                out.append("\\" + esc)
            elif esc == "s":
                out.append(f"[{_SPACE}]")
            elif esc == "S":
                out.append(f"[^{_SPACE}]")
            elif esc == "z":
                out.append("\\Z")
            elif esc.isascii() and not esc.isalnum() and not esc.isspace():
                out.append(re.escape(esc))
            else:
                raise UnsupportedPattern(f"escape \\{esc}")
            i += 2
        elif ch == "$":
            out.append("\\Z")  # Python's $ would also match before a final newline
            i += 1
        elif ch in "^.|)":
            out.append(ch)
            i += 1
        elif ch in "*+?{":
            if ch == "{":
                m = _REPEAT_RE.match(pattern, i)
                if m is None:
                    raise UnsupportedPattern("'{' that is not a counted repetition")
                out.append(m.group())
                i = m.end()
            else:
                out.append(ch)
                i += 1
            if pattern.startswith("?", i):
                out.append("?")
                i += 1
            if i < len(pattern) and pattern[i] in "*+?{":
                # Python reads *+ as possessive, RE2 as a repeated repetition.
                raise UnsupportedPattern("stacked repetition operators")
        elif ch == "(":
            if pattern.startswith("(?:", i):
                out.append("(?:")
                i += 3
            elif pattern.startswith("(?", i):
                m = _NAMED_GROUP_RE.match(pattern, i)
                if m is None:
                    raise UnsupportedPattern("group flags or lookaround")
                out.append(m.group())
                i = m.end()
            else:
                out.append("(")
                i += 1
        elif ch == "[":
            translated, i = _class(pattern, i)
            out.append(translated)
        elif ch in "]}":
            raise UnsupportedPattern(f"unbalanced {ch!r}")
        else:
            out.append(_escape(ch))
            i += 1
    python = "".join(out)
    try:
        re.compile(python, flags)
    except re.error as exc:
        raise UnsupportedPattern(str(exc)) from exc
    return python, flags
