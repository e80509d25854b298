"""The abstract syntax tree of a CEL expression, as produced by :mod:`.parser`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal as TypingLiteral

__all__ = [
    "Binary",
    "Call",
    "Comprehension",
    "Conditional",
    "Has",
    "Ident",
    "Index",
    "ListLit",
    "Literal",
    "LiteralKind",
    "MacroKind",
    "MapLit",
    "Node",
    "Select",
    "Unary",
    "children",
    "depth",
    "free_identifiers",
    "walk",
]

LiteralKind = TypingLiteral["int", "uint", "double", "string", "bytes", "bool", "null"]
MacroKind = TypingLiteral["all", "exists", "exists_one", "map", "filter"]


@dataclass(frozen=True, slots=True)
class Literal:
    """A constant. ``text`` is the source token (without a folded leading ``-``)."""

    kind: LiteralKind
    value: object
    text: str = ""
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Ident:
    name: str


@dataclass(frozen=True, slots=True)
class Select:
    """``operand.field``."""

    operand: Node
    field: str


@dataclass(frozen=True, slots=True)
class Has:
    """The ``has(operand.field)`` macro."""

    operand: Node
    field: str


@dataclass(frozen=True, slots=True)
class Index:
    """``operand[index]``."""

    operand: Node
    index: Node


@dataclass(frozen=True, slots=True)
class Call:
    """``function(args)`` or, with a ``target``, ``target.function(args)``."""

    function: str
    args: tuple[Node, ...]
    target: Node | None = None


@dataclass(frozen=True, slots=True)
class ListLit:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class MapLit:
    entries: tuple[tuple[Node, Node], ...]


@dataclass(frozen=True, slots=True)
class Unary:
    op: TypingLiteral["!", "-"]
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary:
    """Arithmetic, relations and the logical ``&&`` / ``||``."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Conditional:
    cond: Node
    then: Node
    otherwise: Node


@dataclass(frozen=True, slots=True)
class Comprehension:
    """``target.macro(var, ...)``: ``predicate`` for all/exists/exists_one/filter (and the
    three-argument map), ``transform`` for map."""

    macro: MacroKind
    target: Node
    var: str
    predicate: Node | None
    transform: Node | None


Node = (
    Literal
    | Ident
    | Select
    | Has
    | Index
    | Call
    | ListLit
    | MapLit
    | Unary
    | Binary
    | Conditional
    | Comprehension
)


def free_identifiers(node: Node, bound: frozenset[str] = frozenset()) -> set[str]:
    """Identifiers used but not bound by an enclosing comprehension."""
    out: set[str] = set()
    stack: list[tuple[Node, frozenset[str]]] = [(node, bound)]
    while stack:
        item, names = stack.pop()
        if isinstance(item, Ident):
            if item.name not in names:
                out.add(item.name)
        elif isinstance(item, Comprehension):
            stack.append((item.target, names))
            inner = names | {item.var}
            stack.extend((part, inner) for part in (item.predicate, item.transform) if part)
        else:
            stack.extend((child, names) for child in children(item))
    return out


def walk(node: Node) -> list[Node]:
    """Every node of the tree, ``node`` first."""
    out: list[Node] = []
    stack: list[object] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, tuple):
            stack.extend(item)
        elif isinstance(item, Literal | Ident):
            out.append(item)
        elif hasattr(item, "__slots__"):
            out.append(item)  # type: ignore[arg-type]
            stack.extend(getattr(item, name) for name in item.__slots__)
    return out


def children(node: Node) -> tuple[Node, ...]:
    """The direct sub-expressions of ``node``."""
    match node:
        case Literal() | Ident():
            return ()
        case Select(operand, _) | Has(operand, _) | Unary(_, operand):
            return (operand,)
        case Index(operand, index):
            return (operand, index)
        case Call(_, args, target):
            return (target, *args) if target is not None else args
        case ListLit(items):
            return items
        case MapLit(entries):
            return tuple(part for entry in entries for part in entry)
        case Binary(_, left, right):
            return (left, right)
        case Conditional(cond, then, otherwise):
            return (cond, then, otherwise)
        case Comprehension(_, target, _, predicate, transform):
            return tuple(n for n in (target, predicate, transform) if n is not None)
    raise TypeError(f"not a CEL node: {node!r}")  # pragma: no cover


def depth(node: Node) -> int:
    """How deeply ``node`` nests. A chain evaluated in a loop adds no level per link: the
    left spine of ``a + b - c ...`` (operators other than ``&&``/``||``), of ``a && b && ...``
    (one of them), ``!!x``/``--x`` and ``a.b.c``."""
    deepest = 0
    stack: list[tuple[Node, int]] = [(node, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        for child in children(item):
            stack.append((child, level if _links(item, child) else level + 1))
    return deepest


def _links(parent: Node, child: Node) -> bool:
    if isinstance(parent, Binary) and isinstance(child, Binary) and child is parent.left:
        logic = ("&&", "||")
        if parent.op in logic or child.op in logic:
            return parent.op == child.op
        return True
    if isinstance(parent, Unary) and isinstance(child, Unary):
        return True
    return isinstance(parent, Select) and isinstance(child, Select)
