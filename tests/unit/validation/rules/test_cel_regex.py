"""The RE2 -> Python pattern translation used by the fast path's ``matches()``."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataquarantine.validation.rules.reference import EvalError, ReferenceProgram
from dataquarantine.validation.rules.regex import UnsupportedPattern, translate


def cel_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


def reference_matches(subject: str, pattern: str) -> object:
    return ReferenceProgram(f"{cel_quote(subject)}.matches({cel_quote(pattern)})").evaluate(None)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("abc", "abc"),
        ("c$", "c\\Z"),
        ("^a.b$", "^a.b\\Z"),
        ("\\s+", "[\\t\\n\\x0b\\x0c\\r ]+"),
        ("[\\s,]", "[\\t\\n\\x0b\\x0c\\r ,]"),
        ("\\d{2,3}?", "\\d{2,3}?"),
        ("(?:a|b)(?P<x>c)", "(?:a|b)(?P<x>c)"),
        ("a\\.b\\z", "a\\.b\\Z"),
        ("[]a-]", "[\\]a-]"),
        ("é", "é"),
    ],
)
def test_translate(pattern: str, expected: str) -> None:
    assert translate(pattern)[0] == expected


def test_leading_case_insensitive_flag() -> None:
    python, flags = translate("(?i)abc")
    assert python == "abc"
    assert flags == re.IGNORECASE


@pytest.mark.parametrize(
    "pattern",
    [
        "(?=a)",  # lookaround: Python only
        "(a)\\1",  # backreference: Python only
        "\\pL",  # Unicode classes: RE2 only
        "[[:alpha:]]",
        "[a-z&&[^b]]",
        "a{,3}",  # a literal in RE2, a repetition in Python
        "a{",
        "(?m)^a",
        "(?i)é",
        "\\Z",
        "\\B",  # Python's \B never matches the empty string
        "[",
        "a]",
    ],
)
def test_unsupported(pattern: str) -> None:
    with pytest.raises(UnsupportedPattern):
        translate(pattern)


def test_dollar_does_not_match_before_a_final_newline() -> None:
    python, flags = translate("c$")
    assert re.search(python, "abc\n", flags) is None
    assert reference_matches("abc\n", "c$") is False


TOKENS = [
    "a", "b", "c", ".", "^", "$", "|", "*", "+", "?", "??", "{2}", "{1,}", "{0,2}",
    "(", ")", "(?:", "[ab]", "[^a]", "[a-c]", "\\d", "\\D", "\\w", "\\W", "\\s", "\\S",
    "\\b", "\\B", "\\.", "\\n", " ", "\\A", "\\z", "[\\s.]", "-", "(?i)",
]  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pattern=st.lists(st.sampled_from(TOKENS), max_size=6).map("".join),
    subject=st.text(alphabet="abcAB .\n\t1_-\x1c\x0b", max_size=8),
)
def test_translation_agrees_with_reference_on_ascii(pattern: str, subject: str) -> None:
    try:
        python, flags = translate(pattern)
    except UnsupportedPattern:
        return
    expected = reference_matches(subject, pattern)
    if isinstance(expected, EvalError):
        return  # the transpiler checks the pattern with the reference and keeps it there
    assert (re.search(python, subject, flags) is not None) is expected, (pattern, subject)
