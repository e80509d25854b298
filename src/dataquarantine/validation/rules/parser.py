"""A recursive-descent parser for CEL (the cel-spec grammar), producing :mod:`.nodes`.

It exists for the fast path only: the reference implementation has already accepted the
expression when this parser runs, so a :class:`CelSyntaxError` here means "construct not
supported by the fast path" and the rule is left to the reference evaluator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dataquarantine.validation.rules.nodes import (
    Binary,
    Call,
    Comprehension,
    Conditional,
    Has,
    Ident,
    Index,
    ListLit,
    Literal,
    MacroKind,
    MapLit,
    Node,
    Select,
    Unary,
)
from dataquarantine.validation.rules.values import UInt

__all__ = ["CelSyntaxError", "parse"]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
UINT64_MAX = 2**64 - 1

RESERVED = frozenset(
    [
        "as",
        "break",
        "const",
        "continue",
        "else",
        "for",
        "function",
        "if",
        "import",
        "let",
        "loop",
        "package",
        "namespace",
        "return",
        "var",
        "void",
        "in",
        "true",
        "false",
        "null",
    ]
)
MACROS: dict[str, MacroKind] = {
    "all": "all",
    "exists": "exists",
    "exists_one": "exists_one",
    "map": "map",
    "filter": "filter",
}


class CelSyntaxError(ValueError):
    """The expression is not (supported) CEL."""


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "num", "str", "ident", "op", "eof"
    text: str
    pos: int
    value: object = None
    lit_kind: str = ""


_TOKEN_RE = re.compile(
    r"""
    (?P<ws>[ \t\n\r\f]+|//[^\n]*)
  | (?P<strstart>(?:[rR][bB]?|[bB][rR]?)?(?:'''|\"\"\"|'|"))
  | (?P<num>0[xX][0-9a-fA-F]+[uU]?
        |\d+\.\d+(?:[eE][+-]?\d+)?
        |\d+[eE][+-]?\d+
        |\.\d+(?:[eE][+-]?\d+)?
        |\d+[uU]?)
  | (?P<ident>[_a-zA-Z][_a-zA-Z0-9]*)
  | (?P<quoted>`[_a-zA-Z0-9.\-/ ]+`)
  | (?P<op>==|!=|<=|>=|&&|\|\||[-+*/%<>!?:.,()\[\]{}])
    """,
    re.VERBOSE,
)

_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "`": "`",
    "?": "?",
}
_HEX_ESCAPES = {"x": 2, "X": 2, "u": 4, "U": 8}


def _decode_escapes(body: str, pos: int) -> str:
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        if i + 1 >= len(body):
            raise CelSyntaxError(f"dangling escape at {pos + i}")
        esc = body[i + 1]
        if esc in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[esc])
            i += 2
        elif esc in _HEX_ESCAPES:
            width = _HEX_ESCAPES[esc]
            digits = body[i + 2 : i + 2 + width]
            if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise CelSyntaxError(f"bad \\{esc} escape at {pos + i}")
            code = int(digits, 16)
            if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
                raise CelSyntaxError(f"invalid code point at {pos + i}")
            out.append(chr(code))
            i += 2 + width
        elif esc in "0123":
            digits = body[i + 1 : i + 4]
            if len(digits) != 3 or not all(c in "01234567" for c in digits):
                raise CelSyntaxError(f"bad octal escape at {pos + i}")
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            raise CelSyntaxError(f"unknown escape \\{esc} at {pos + i}")
    return "".join(out)


def _decode_bytes(body: str, pos: int) -> bytes:
    """A bytes literal: ``\\x`` and octal escapes are single bytes, the rest is UTF-8."""
    out = bytearray()
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            esc = body[i + 1]
            if esc in {"x", "X"}:
                digits = body[i + 2 : i + 4]
                if len(digits) != 2 or not all(c in "0123456789abcdefABCDEF" for c in digits):
                    raise CelSyntaxError(f"bad \\x escape at {pos + i}")
                out.append(int(digits, 16))
                i += 4
                continue
            if esc in "0123":
                digits = body[i + 1 : i + 4]
                if len(digits) != 3 or not all(c in "01234567" for c in digits):
                    raise CelSyntaxError(f"bad octal escape at {pos + i}")
                out.append(int(digits, 8))
                i += 4
                continue
            end = i + 2 + _HEX_ESCAPES.get(esc, 0)
            out += _decode_escapes(body[i:end], pos + i).encode("utf-8")
            i = end
            continue
        out += ch.encode("utf-8")
        i += 1
    return bytes(out)


def _scan_string(src: str, start: int, opener: str) -> Token:
    prefix = opener.rstrip("'\"").lower()
    quote = opener[len(prefix) :]
    raw = "r" in prefix
    is_bytes = "b" in prefix
    i = start + len(opener)
    triple = len(quote) == 3
    while True:
        if i >= len(src):
            raise CelSyntaxError(f"unterminated string at {start}")
        ch = src[i]
        if src.startswith(quote, i):
            break
        if not triple and ch in "\r\n":
            raise CelSyntaxError(f"newline in string at {i}")
        i += 2 if ch == "\\" and not raw else 1
    body = src[start + len(opener) : i]
    end = i + len(quote)
    text = src[start:end]
    if is_bytes:
        data = body.encode("utf-8") if raw else _decode_bytes(body, start + len(opener))
        return Token("str", text, start, data, "bytes")
    value = body if raw else _decode_escapes(body, start + len(opener))
    return Token("str", text, start, value, "string")


def _number(text: str, pos: int) -> Token:
    lowered = text.lower()
    if lowered.startswith("0x"):
        if lowered.endswith("u"):
            return Token("num", text, pos, int(lowered[2:-1], 16), "uint")
        return Token("num", text, pos, int(lowered[2:], 16), "int")
    if "." in lowered or "e" in lowered:
        return Token("num", text, pos, float(lowered), "double")
    if lowered.endswith("u"):
        return Token("num", text, pos, int(lowered[:-1]), "uint")
    return Token("num", text, pos, int(lowered), "int")


def tokenize(src: str) -> list[Token]:
    """Split ``src`` into tokens (whitespace and comments dropped)."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(src):
        m = _TOKEN_RE.match(src, pos)
        if m is None:
            raise CelSyntaxError(f"unexpected character {src[pos]!r} at {pos}")
        kind = m.lastgroup
        text = m.group()
        if kind == "strstart":
            tok = _scan_string(src, pos, text)
            tokens.append(tok)
            pos += len(tok.text)
            continue
        if kind == "num":
            tokens.append(_number(text, pos))
        elif kind == "ident":
            tokens.append(Token("ident", text, pos))
        elif kind == "quoted":
            tokens.append(Token("quoted", text, pos, text[1:-1]))
        elif kind == "op":
            tokens.append(Token("op", text, pos))
        pos = m.end()
    tokens.append(Token("eof", "", len(src)))
    return tokens


_RELOPS = frozenset({"<", "<=", ">", ">=", "==", "!=", "in"})


class _Parser:
    def __init__(self, src: str) -> None:
        self.tokens = tokenize(src)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def at(self, text: str) -> bool:
        tok = self.tokens[self.i]
        return tok.kind in ("op", "ident") and tok.text == text

    def take(self, text: str) -> None:
        if not self.at(text):
            raise CelSyntaxError(f"expected {text!r} at {self.tok.pos}, got {self.tok.text!r}")
        self.i += 1

    def ident(self) -> str:
        tok = self.tok
        if tok.kind != "ident" or tok.text in RESERVED:
            raise CelSyntaxError(f"expected an identifier at {tok.pos}")
        self.i += 1
        return tok.text

    def parse(self) -> Node:
        node = self.expr()
        if self.tok.kind != "eof":
            raise CelSyntaxError(f"unexpected {self.tok.text!r} at {self.tok.pos}")
        return node

    def expr(self) -> Node:
        cond = self.conditional_or()
        if self.at("?"):
            self.i += 1
            then = self.conditional_or()
            self.take(":")
            return Conditional(cond, then, self.expr())
        return cond

    def conditional_or(self) -> Node:
        node = self.conditional_and()
        while self.at("||"):
            self.i += 1
            node = Binary("||", node, self.conditional_and())
        return node

    def conditional_and(self) -> Node:
        node = self.relation()
        while self.at("&&"):
            self.i += 1
            node = Binary("&&", node, self.relation())
        return node

    def relation(self) -> Node:
        node = self.addition()
        while self.tok.kind in ("op", "ident") and self.tok.text in _RELOPS:
            op = self.tok.text
            self.i += 1
            node = Binary(op, node, self.addition())
        return node

    def addition(self) -> Node:
        node = self.multiplication()
        while self.at("+") or self.at("-"):
            op = self.tok.text
            self.i += 1
            node = Binary(op, node, self.multiplication())
        return node

    def multiplication(self) -> Node:
        node = self.unary()
        while self.at("*") or self.at("/") or self.at("%"):
            op = self.tok.text
            self.i += 1
            node = Binary(op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.at("!"):
            count = 0
            while self.at("!"):
                self.i += 1
                count += 1
            operand = self.member()
            for _ in range(count):
                operand = Unary("!", operand)
            return operand
        if self.at("-"):
            count = 0
            while self.at("-"):
                self.i += 1
                count += 1
            if self.tok.kind == "num" and self.tok.lit_kind in ("int", "double"):
                # cel-spec folds the sign into a numeric literal (so -9223372036854775808 is
                # an int), but only when no member access follows the literal.
                nxt = self.tokens[self.i + 1]
                if not (nxt.kind == "op" and nxt.text in (".", "[")):
                    lit = self.negated_literal(self.tok)
                    self.i += 1
                    node: Node = lit
                    for _ in range(count - 1):
                        node = Unary("-", node)
                    return node
            node = self.member()
            for _ in range(count):
                node = Unary("-", node)
            return node
        return self.member()

    @staticmethod
    def negated_literal(tok: Token) -> Literal:
        value = tok.value
        if tok.lit_kind == "int":
            assert isinstance(value, int)
            if -value < INT64_MIN:
                raise CelSyntaxError(f"int literal out of range at {tok.pos}")
            return Literal("int", -value, tok.text, negated=True)
        assert isinstance(value, float)
        return Literal("double", -value, tok.text, negated=True)

    def member(self) -> Node:
        node = self.primary()
        while True:
            if self.at("."):
                self.i += 1
                if self.tok.kind == "quoted":  # `field-name`: a field selection only
                    node = Select(node, str(self.tok.value))
                    self.i += 1
                    continue
                name = self.ident_or_keyword()
                if self.at("("):
                    args = self.call_args()
                    node = self.receiver_call(node, name, args)
                else:
                    node = Select(node, name)
            elif self.at("["):
                self.i += 1
                index = self.expr()
                self.take("]")
                node = Index(node, index)
            else:
                return node

    def ident_or_keyword(self) -> str:
        tok = self.tok
        if tok.kind != "ident":
            raise CelSyntaxError(f"expected a field name at {tok.pos}")
        self.i += 1
        return tok.text

    def call_args(self) -> tuple[Node, ...]:
        self.take("(")
        args: list[Node] = []
        if not self.at(")"):
            args.append(self.expr())
            while self.at(","):
                self.i += 1
                args.append(self.expr())
        self.take(")")
        return tuple(args)

    @staticmethod
    def receiver_call(target: Node, name: str, args: tuple[Node, ...]) -> Node:
        macro = MACROS.get(name)
        if macro is not None and len(args) in (2, 3):
            var = args[0]
            if not isinstance(var, Ident):
                raise CelSyntaxError(f"{name}() needs a variable name")
            if len(args) == 3:
                if macro != "map":
                    raise CelSyntaxError(f"{name}() takes two arguments")
                return Comprehension(macro, target, var.name, args[1], args[2])
            if macro == "map":
                return Comprehension(macro, target, var.name, None, args[1])
            return Comprehension(macro, target, var.name, args[1], None)
        return Call(name, args, target)

    def primary(self) -> Node:
        tok = self.tok
        if tok.kind == "num":
            self.i += 1
            limit = INT64_MAX if tok.lit_kind == "int" else UINT64_MAX
            if isinstance(tok.value, int) and tok.value > limit:
                raise CelSyntaxError(f"{tok.lit_kind} literal out of range at {tok.pos}")
            value = (
                UInt(tok.value)
                if isinstance(tok.value, int) and tok.lit_kind == "uint"
                else tok.value
            )
            return Literal(tok.lit_kind, value, tok.text)  # type: ignore[arg-type]
        if tok.kind == "str":
            self.i += 1
            return Literal(tok.lit_kind, tok.value, tok.text)  # type: ignore[arg-type]
        if tok.kind == "ident":
            if tok.text == "true":
                self.i += 1
                return Literal("bool", True, tok.text)
            if tok.text == "false":
                self.i += 1
                return Literal("bool", False, tok.text)
            if tok.text == "null":
                self.i += 1
                return Literal("null", None, tok.text)
            name = self.ident()
            if self.at("("):
                args = self.call_args()
                if name == "has":
                    if len(args) != 1 or not isinstance(args[0], Select):
                        raise CelSyntaxError("invalid argument to has() macro")
                    return Has(args[0].operand, args[0].field)
                return Call(name, args)
            if self.at("{"):
                raise CelSyntaxError(f"message construction is not supported at {tok.pos}")
            return Ident(name)
        if self.at("("):
            self.i += 1
            node = self.expr()
            self.take(")")
            return node
        if self.at("["):
            self.i += 1
            items: list[Node] = []
            while not self.at("]"):
                items.append(self.expr())
                if not self.at(","):
                    break
                self.i += 1
            self.take("]")
            return ListLit(tuple(items))
        if self.at("{"):
            self.i += 1
            entries: list[tuple[Node, Node]] = []
            while not self.at("}"):
                key = self.expr()
                self.take(":")
                entries.append((key, self.expr()))
                if not self.at(","):
                    break
                self.i += 1
            self.take("}")
            return MapLit(tuple(entries))
        raise CelSyntaxError(f"unexpected {tok.text or 'end of input'!r} at {tok.pos}")


def parse(src: str) -> Node:
    """Parse a CEL expression. Raises :class:`CelSyntaxError` on anything not supported."""
    try:
        node = _Parser(src).parse()
    except RecursionError as exc:
        raise CelSyntaxError("expression nested too deeply") from exc
    return node
