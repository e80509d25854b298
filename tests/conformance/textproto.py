"""A small reader for protobuf text format (enough for the cel-spec conformance files).

A message is a ``dict`` of field name -> list of values (every field may repeat); a value is a
nested message, a ``bytes`` string (text format strings are bytes; decode as needed), an
``int``, a ``float``, or an identifier (``str``: enum names, ``true``/``false``). An ``Any``
written with its expanded ``[type.googleapis.com/Name] { ... }`` form is a field named by its
type URL. No protoc needed.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["Message", "TextprotoError", "parse"]

Message = dict[str, list[Any]]

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+|\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<number>[-+]?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)[fFuU]?
        |-?(?:inf|infinity|nan)\b)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<url>\[[A-Za-z0-9_./]+\])
  | (?P<punct>[{}<>:,;\[\]])
    """,
    re.VERBOSE | re.IGNORECASE,
)
_SIMPLE = {
    "n": b"\n",
    "r": b"\r",
    "t": b"\t",
    "v": b"\v",
    "f": b"\f",
    "a": b"\a",
    "b": b"\b",
    "\\": b"\\",
    "'": b"'",
    '"': b'"',
    "?": b"?",
}


class TextprotoError(ValueError):
    """Not protobuf text format (as far as this reader knows it)."""


def _unescape(body: str) -> bytes:
    out = bytearray()
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out += ch.encode("utf-8")
            i += 1
            continue
        esc = body[i + 1]
        if esc in _SIMPLE:
            out += _SIMPLE[esc]
            i += 2
        elif esc in "xX":
            m = re.match(r"[0-9a-fA-F]{1,2}", body[i + 2 :])
            if m is None:
                raise TextprotoError(f"bad \\x escape in {body!r}")
            out.append(int(m.group(), 16))
            i += 2 + len(m.group())
        elif esc in "01234567":
            m = re.match(r"[0-7]{1,3}", body[i + 1 :])
            assert m is not None
            out.append(int(m.group(), 8) & 0xFF)
            i += 1 + len(m.group())
        elif esc in "uU":
            width = 4 if esc == "u" else 8
            out += chr(int(body[i + 2 : i + 2 + width], 16)).encode("utf-8")
            i += 2 + width
        else:
            raise TextprotoError(f"unknown escape \\{esc} in {body!r}")
    return bytes(out)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise TextprotoError(f"unexpected {text[pos : pos + 20]!r} at {pos}")
        kind = m.lastgroup
        assert kind is not None
        if kind != "ws":
            out.append((kind, m.group()))
        pos = m.end()
    out.append(("eof", ""))
    return out


class _Reader:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.i]

    def next(self) -> tuple[str, str]:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def message(self, close: str | None) -> Message:
        fields: Message = {}
        while True:
            kind, text = self.peek()
            if close is None and kind == "eof":
                return fields
            if kind == "punct" and text == close:
                self.i += 1
                return fields
            if kind == "punct" and text in ",;":
                self.i += 1
                continue
            if kind not in ("ident", "url"):
                raise TextprotoError(f"expected a field name, got {text!r}")
            self.i += 1
            name = text.strip("[]") if kind == "url" else text
            if self.peek() == ("punct", ":"):
                self.i += 1
            for value in self.values():
                fields.setdefault(name, []).append(value)

    def values(self) -> list[Any]:
        kind, text = self.peek()
        if kind == "punct" and text == "[":
            self.i += 1
            out: list[Any] = []
            while self.peek() != ("punct", "]"):
                if self.peek() == ("punct", ","):
                    self.i += 1
                    continue
                out.append(self.value())
            self.i += 1
            return out
        return [self.value()]

    def value(self) -> Any:
        kind, text = self.next()
        if kind == "punct" and text in "{<":
            return self.message("}" if text == "{" else ">")
        if kind == "string":
            data = _unescape(text[1:-1])
            while self.peek()[0] == "string":  # adjacent strings concatenate
                data += _unescape(self.next()[1][1:-1])
            return data
        if kind == "number":
            return _number(text)
        if kind == "ident":
            return text
        raise TextprotoError(f"unexpected {text!r}")


def _number(text: str) -> int | float:
    lowered = text.lower()
    if lowered.lstrip("-+") in ("inf", "infinity", "nan"):
        return float(lowered)
    if lowered.lstrip("-+").startswith("0x"):
        return int(lowered, 16)
    lowered = lowered.rstrip("uf")
    if any(c in lowered for c in ".e"):
        return float(lowered)
    return int(lowered)


def parse(text: str) -> Message:
    """The top-level message of ``text``."""
    return _Reader(text).message(None)
