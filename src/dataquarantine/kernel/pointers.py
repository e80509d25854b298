"""JSON Pointer (RFC 6901): escaping member names, building pointers and splitting them."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["escape", "join", "parse", "unescape"]


def escape(token: str | int) -> str:
    """One reference token: ``~`` becomes ``~0``, then ``/`` becomes ``~1`` (an index as is)."""
    return str(token).replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    """The member name of a reference token: ``~1`` first, then ``~0`` (so ``~01`` is ``~1``)."""
    return token.replace("~1", "/").replace("~0", "~")


def join(tokens: Iterable[str | int]) -> str:
    """The pointer of a path of keys and indexes: ``["a/b", 0]`` gives ``/a~1b/0``."""
    return "".join("/" + escape(t) for t in tokens)


def parse(pointer: str) -> tuple[str, ...]:
    """The unescaped tokens of ``pointer``: ``/a/b~1c`` gives ``("a", "b/c")``; ``""``, ``()``."""
    if not pointer:
        return ()
    return tuple(unescape(p) for p in pointer[1:].split("/"))
