"""Paths with a wildcard over array items, and JSON Patch (RFC 6902) on decoded JSON values.

A path is a JSON Pointer (``/items/0/phone``) or a dotted field (``items.0.phone``). A token
``*`` is a wildcard: on an array it stands for every item, on an object for the member named
``*``. :func:`expand` turns a path into the pointers that exist in one value, in document
order. :func:`apply_op` applies one RFC 6902 operation (``add``, ``remove``, ``replace``,
``move``, ``copy``, ``test``) and returns the new value: the input is never modified.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final, Literal

from dataquarantine.contracts.model import field_to_pointer
from dataquarantine.kernel import pointers

__all__ = [
    "WILDCARD",
    "PatchError",
    "PatchOp",
    "WildPath",
    "apply_op",
    "expand",
    "get",
    "parse_path",
]

WILDCARD: Final = "*"
PatchOpName = Literal["add", "remove", "replace", "move", "copy", "test"]
_MISSING: Final = object()


class PatchError(Exception):
    """An operation that cannot be applied to this value (a missing path, a failed test)."""


@dataclass(frozen=True, slots=True)
class WildPath:
    """A parsed path: its unescaped tokens, some of which may be :data:`WILDCARD`."""

    tokens: tuple[str, ...]

    @property
    def wildcards(self) -> int:
        return sum(1 for t in self.tokens if t == WILDCARD)

    def __str__(self) -> str:
        return pointers.join(self.tokens)


def parse_path(path: str) -> WildPath:
    """``/a/*/b`` or ``a.*.b``; a JSON Pointer must start with ``/`` (``""`` is the root)."""
    return WildPath(pointers.parse(field_to_pointer(path)))


def _index(node: list[Any], part: str, *, end: bool = False) -> int | None:
    """The array index ``part`` names in ``node`` (``end``: its length too), else ``None``."""
    if part.isdecimal() and part.isascii() and (part == "0" or not part.startswith("0")):
        i = int(part)
        return i if i < len(node) or (end and i == len(node)) else None
    return None


def _child(node: Any, token: str) -> Any:
    if type(node) is dict:
        return node.get(token, _MISSING)
    if type(node) is list:
        i = _index(node, token)
        return node[i] if i is not None else _MISSING
    return _MISSING


def get(value: Any, tokens: tuple[str, ...]) -> Any:
    """The value at ``tokens`` or raise :class:`PatchError`."""
    node = value
    for token in tokens:
        node = _child(node, token)
        if node is _MISSING:
            raise PatchError(f"{pointers.join(tokens)} does not exist")
    return node


def expand(
    value: Any, path: WildPath, *, leaf_may_be_missing: bool = True
) -> Iterator[tuple[str, ...]]:
    """The concrete token paths ``path`` matches in ``value`` (document order).

    Wildcards only expand over arrays that exist. The last token need not exist when
    ``leaf_may_be_missing`` (a path to add to); every other token must."""
    yield from _expand(value, path.tokens, (), leaf_may_be_missing)


def _expand(
    node: Any, rest: tuple[str, ...], done: tuple[str, ...], leaf_ok: bool
) -> Iterator[tuple[str, ...]]:
    if not rest:
        yield done
        return
    token, tail = rest[0], rest[1:]
    if token == WILDCARD and type(node) is list:
        for i, item in enumerate(node):
            yield from _expand(item, tail, (*done, str(i)), leaf_ok)
        return
    child = _child(node, token)
    if child is _MISSING:
        if not tail and leaf_ok and type(node) in (dict, list):
            yield (*done, token)
        return
    yield from _expand(child, tail, (*done, token), leaf_ok)


@dataclass(frozen=True, slots=True)
class PatchOp:
    """One RFC 6902 operation on concrete (wildcard-free) token paths."""

    op: PatchOpName
    path: tuple[str, ...]
    value: Any = None
    from_: tuple[str, ...] = ()


def _parent(root: Any, tokens: tuple[str, ...]) -> Any:
    if not tokens:
        raise PatchError("the operation needs a path below the root")
    parent = get(root, tokens[:-1])
    if type(parent) not in (dict, list):
        raise PatchError(f"{pointers.join(tokens[:-1])} is not an object or an array")
    return parent


def _add(root: Any, tokens: tuple[str, ...], value: Any) -> Any:
    if not tokens:
        return value
    parent = _parent(root, tokens)
    last = tokens[-1]
    if type(parent) is dict:
        parent[last] = value
    elif last == "-":
        parent.append(value)
    else:
        i = _index(parent, last, end=True)
        if i is None:
            raise PatchError(f"{pointers.join(tokens)}: no such array index")
        parent.insert(i, value)
    return root


def _remove(root: Any, tokens: tuple[str, ...]) -> tuple[Any, Any]:
    parent = _parent(root, tokens)
    last = tokens[-1]
    if type(parent) is dict:
        if last not in parent:
            raise PatchError(f"{pointers.join(tokens)} does not exist")
        return root, parent.pop(last)
    i = _index(parent, last)
    if i is None:
        raise PatchError(f"{pointers.join(tokens)} does not exist")
    return root, parent.pop(i)


def apply_op(value: Any, op: PatchOp) -> Any:
    """``value`` after ``op`` (a new value; ``value`` is not modified). Raises
    :class:`PatchError` when the operation does not apply (RFC 6902: the patch fails)."""
    root = copy.deepcopy(value)
    match op.op:
        case "add":
            return _add(root, op.path, copy.deepcopy(op.value))
        case "remove":
            if not op.path:
                raise PatchError("cannot remove the root")
            return _remove(root, op.path)[0]
        case "replace":
            get(root, op.path)
            if not op.path:
                return copy.deepcopy(op.value)
            root, _ = _remove(root, op.path)
            return _add(root, op.path, copy.deepcopy(op.value))
        case "move":
            if op.path[: len(op.from_)] == op.from_ and op.path != op.from_:
                raise PatchError(f"cannot move {pointers.join(op.from_)} into itself")
            moved = get(root, op.from_)
            if op.path == op.from_:
                return root
            root, _ = _remove(root, op.from_)
            return _add(root, op.path, moved)
        case "copy":
            return _add(root, op.path, copy.deepcopy(get(root, op.from_)))
        case "test":
            if not _equal(get(root, op.path), op.value):
                raise PatchError(f"test failed at {pointers.join(op.path)}")
            return root
    raise PatchError(f"unknown operation {op.op!r}")  # pragma: no cover - Literal


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: numbers by value, but ``true`` is not ``1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if type(a) is dict and type(b) is dict:
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if type(a) is list and type(b) is list:
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return (
        bool(a == b)
        if type(a) in (int, float) and type(b) in (int, float)
        else (type(a) is type(b) and a == b)
    )
