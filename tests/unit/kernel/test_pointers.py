"""JSON Pointer escaping, joining and parsing (RFC 6901)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataquarantine.kernel import pointers

# The document of RFC 6901 section 5, with each pointer and the member it names.
RFC_DOC = {
    "foo": ["bar", "baz"],
    "": 0,
    "a/b": 1,
    "c%d": 2,
    "e^f": 3,
    "g|h": 4,
    "i\\j": 5,
    'k"l': 6,
    " ": 7,
    "m~n": 8,
}
RFC_POINTERS = [
    ("", RFC_DOC),
    ("/foo", ["bar", "baz"]),
    ("/foo/0", "bar"),
    ("/", 0),
    ("/a~1b", 1),
    ("/c%d", 2),
    ("/e^f", 3),
    ("/g|h", 4),
    ("/i\\j", 5),
    ('/k"l', 6),
    ("/ ", 7),
    ("/m~0n", 8),
]


def _resolve(doc: Any, pointer: str) -> Any:
    for token in pointers.parse(pointer):
        doc = doc[int(token)] if isinstance(doc, list) else doc[token]
    return doc


@pytest.mark.parametrize(("pointer", "value"), RFC_POINTERS)
def test_rfc_6901_examples(pointer: str, value: Any) -> None:
    assert _resolve(RFC_DOC, pointer) == value
    assert pointers.join(pointers.parse(pointer)) == pointer


def test_escape_order() -> None:
    # ~01 is the member "~1", never "/": ~1 is decoded before ~0.
    assert pointers.unescape("~01") == "~1"
    assert pointers.escape("~1") == "~01"
    assert pointers.escape("a/b~c") == "a~1b~0c"
    assert pointers.parse("/a/b~1c/d~0e") == ("a", "b/c", "d~e")


def test_indexes_and_the_root() -> None:
    assert pointers.join(["a/b", 0, "~"]) == "/a~1b/0/~0"
    assert pointers.join([]) == ""
    assert pointers.escape(3) == "3"


@given(st.lists(st.text()))
def test_round_trip(tokens: list[str]) -> None:
    assert pointers.parse(pointers.join(tokens)) == tuple(tokens)


@given(st.text(alphabet="~/01ab"))
def test_escape_matches_the_inline_versions_it_replaced(token: str) -> None:
    assert pointers.escape(token) == token.replace("~", "~0").replace("/", "~1")
    assert pointers.unescape(token) == token.replace("~1", "/").replace("~0", "~")
    assert pointers.unescape(pointers.escape(token)) == token
