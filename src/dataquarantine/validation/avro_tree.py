"""The compiled form of an Avro schema: one closure tree, built once per contract.

Every schema position becomes a :class:`Node` with a fast ``check`` (the hot path), a ``collect``
walk that reports every violation with its JSON Pointer, and a strict binary ``read``. The
checks apply to the natural JSON form of a record (see :mod:`dataquarantine.validation.avro_kind`);
Python ``bytes`` are accepted wherever a ``bytes``/``fixed`` string is.

The binary reader refuses everything the Avro specification forbids and fastavro lets through:
an ``int`` beyond 32 bits, a boolean byte other than 0/1, an enum or union index out of range
(negative included), variable-length integers over 10 bytes, invalid UTF-8 and truncation. It
recurses in Python, so a too deeply nested record is a :class:`RecursionError`, never a crash.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from math import isfinite
from typing import Any, Final

from dataquarantine.errors import SchemaCompileError
from dataquarantine.kernel import pointers
from dataquarantine.kernel.results import ErrorCode, Violation, ViolationSink
from dataquarantine.validation.base import DecodeFailure

__all__ = ["Node", "compile_tree", "json_type_name"]

#: Most items of zero-byte type (``null``, empty record) one array may declare.
_MAX_EMPTY_ITEMS: Final = 1_000_000

Check = Callable[[Any], bool]
Collect = Callable[[Any, str, ViolationSink], None]
Read = Callable[[bytes, int], tuple[Any, int]]

_MISSING: Final = object()
_INT32: Final = (-(2**31), 2**31 - 1)
_INT64: Final = (-(2**63), 2**63 - 1)
_F32_MAX: Final = 3.4028234663852886e38
_F64_MAX: Final = 1.7976931348623157e308
_PRIMITIVES: Final = frozenset(
    {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
)
_unpack_f: Final = struct.Struct("<f").unpack_from
_unpack_d: Final = struct.Struct("<d").unpack_from


def json_type_name(value: object) -> str:
    """The JSON name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _violation(path: str, message: str, keyword: str) -> Violation:
    return Violation(ErrorCode.SCHEMA_VIOLATION, path, message, keyword=keyword)


def _is_latin1(value: str) -> bool:
    return value.isascii() or max(value) <= "\xff"


# -- compiled nodes --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Node:
    """One schema position, compiled once: a fast check, a collecting walk and a reader."""

    label: str
    check: Check
    collect: Collect
    read: Read
    #: Python types a value of this schema can have (picks the union branch to blame).
    pytypes: tuple[type, ...]
    #: Every value encodes to zero bytes (``null``, ``fixed`` of size 0, empty records).
    empty: bool = False


def _type_collect(check: Check, expected: Callable[[Any], str]) -> Collect:
    def collect(value: Any, path: str, out: ViolationSink) -> None:
        if not check(value):
            out.append(_violation(path, expected(value), "type"))

    return collect


def _read_long(buf: bytes, pos: int) -> tuple[int, int]:
    b = buf[pos]  # IndexError at the end of the input: truncated
    pos += 1
    n = b & 0x7F
    shift = 7
    while b & 0x80:
        if shift > 63:
            raise DecodeFailure("invalid Avro binary: variable-length integer longer than 10 bytes")
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
    if n >= 1 << 64:
        raise DecodeFailure("invalid Avro binary: integer does not fit in 64 bits")
    return (n >> 1) ^ -(n & 1), pos


def _read_null(buf: bytes, pos: int) -> tuple[Any, int]:
    return None, pos


def _read_boolean(buf: bytes, pos: int) -> tuple[Any, int]:
    b = buf[pos]
    if b > 1:
        raise DecodeFailure(f"invalid Avro binary: boolean byte {b:#04x}")
    return b == 1, pos + 1


def _read_int(buf: bytes, pos: int) -> tuple[Any, int]:
    n, pos = _read_long(buf, pos)
    if not _INT32[0] <= n <= _INT32[1]:
        raise DecodeFailure(f"invalid Avro binary: {n} does not fit in an int (32 bits)")
    return n, pos


def _read_float(buf: bytes, pos: int) -> tuple[Any, int]:
    return _unpack_f(buf, pos)[0], pos + 4


def _read_double(buf: bytes, pos: int) -> tuple[Any, int]:
    return _unpack_d(buf, pos)[0], pos + 8


def _read_bytes(buf: bytes, pos: int) -> tuple[Any, int]:
    n, pos = _read_long(buf, pos)
    if n < 0:
        raise DecodeFailure(f"invalid Avro binary: negative length {n}")
    end = pos + n
    if end > len(buf):
        raise DecodeFailure(f"invalid Avro binary: truncated ({n} bytes announced)")
    return buf[pos:end], end


def _read_string(buf: bytes, pos: int) -> tuple[Any, int]:
    value, end = _read_bytes(buf, pos)
    return value.decode("utf-8"), end


def _int_node(name: str, lo: int, hi: int, read: Read) -> Node:
    def check(v: Any) -> bool:
        return type(v) is int and lo <= v <= hi

    def expected(v: Any) -> str:
        if type(v) is int:
            bits = 32 if name == "int" else 64
            return f"{v} is out of range for Avro {name} ({bits}-bit signed)"
        return f"expected {name}, got {json_type_name(v)}"

    return Node(name, check, _type_collect(check, expected), read, (int,))


def _float_node(name: str, limit: float, read: Read) -> Node:
    def check(v: Any) -> bool:
        t = type(v)
        if t is float:
            return -limit <= v <= limit or not isfinite(v)
        return t is int and -limit <= v <= limit

    def expected(v: Any) -> str:
        if type(v) in (int, float):
            return f"{_short(v)} is out of range for Avro {name}"
        return f"expected {name}, got {json_type_name(v)}"

    return Node(name, check, _type_collect(check, expected), read, (int, float))


def _bytes_check(v: Any) -> bool:
    t = type(v)
    return t is bytes or t is bytearray or (isinstance(v, str) and _is_latin1(v))


def _bytes_expected(v: Any) -> str:
    if isinstance(v, str):
        return "expected bytes: a string of code points U+0000..U+00FF"
    return f"expected bytes, got {json_type_name(v)}"


def _simple(name: str, check: Check, read: Read, pytypes: tuple[type, ...]) -> Node:
    def expected(v: Any) -> str:
        return f"expected {name}, got {json_type_name(v)}"

    return Node(name, check, _type_collect(check, expected), read, pytypes, empty=name == "null")


_PRIMITIVE_NODES: Final[dict[str, Node]] = {
    "null": _simple("null", lambda v: v is None, _read_null, (type(None),)),
    "boolean": _simple("boolean", lambda v: v is True or v is False, _read_boolean, (bool,)),
    "int": _int_node("int", *_INT32, _read_int),
    "long": _int_node("long", *_INT64, _read_long),
    "float": _float_node("float", _F32_MAX, _read_float),
    "double": _float_node("double", _F64_MAX, _read_double),
    "bytes": Node(
        "bytes",
        _bytes_check,
        _type_collect(_bytes_check, _bytes_expected),
        _read_bytes,
        (str, bytes, bytearray),
    ),
    "string": _simple("string", lambda v: isinstance(v, str), _read_string, (str,)),
}


class _Compiler:
    """Turns fastavro's parsed schema into a tree of :class:`Node` closures."""

    def __init__(self, named: Mapping[str, Any]) -> None:
        self.named = named
        self.done: dict[str, Node] = {}
        # A named type being compiled: references to it go through this cell (recursion).
        self.cells: dict[str, list[Node]] = {}
        self.hazard = False  # recursive, or an array of zero-byte items
        #: Answers of ambiguous unions during one check (see :func:`compile_tree`).
        self.memo: dict[tuple[int, int], tuple[Any, bool]] = {}

    def node(self, schema: Any) -> Node:
        if isinstance(schema, str):
            if schema in _PRIMITIVES:
                return _PRIMITIVE_NODES[schema]
            return self._named(schema)
        if isinstance(schema, list):
            return self._union(schema)
        if not isinstance(schema, dict):
            raise SchemaCompileError(f"not an Avro schema: {_short(schema)}")
        t = schema.get("type")
        if not isinstance(t, str):
            return self.node(t)
        if t in _PRIMITIVES:
            return _PRIMITIVE_NODES[t]
        if t == "array":
            return self._array(self.node(schema["items"]))
        if t == "map":
            return _map(self.node(schema["values"]))
        if t in ("record", "error", "enum", "fixed"):
            return self._named(str(schema["name"]), schema)
        return self._named(t)

    def _named(self, name: str, schema: Any = None) -> Node:
        done = self.done.get(name)
        if done is not None:
            return done
        pending = self.cells.get(name)
        if pending is not None:
            self.hazard = True
            return _forward(name, pending)
        if schema is None:
            schema = self.named.get(name)
            if schema is None:
                raise SchemaCompileError(f"unknown Avro type {name!r}")
        cell = self.cells[name] = []
        t = schema["type"]
        if t == "enum":
            node = _enum(name, schema["symbols"])
        elif t == "fixed":
            node = _fixed(name, schema["size"])
        else:
            node = self._record(name, schema["fields"])
        cell.append(node)
        del self.cells[name]
        self.done[name] = node
        return node

    def _record(self, name: str, fields: list[dict[str, Any]]) -> Node:
        names = [str(f["name"]) for f in fields]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise SchemaCompileError(f"record {name} repeats field(s) {', '.join(dupes)}")
        entries = tuple((str(f["name"]), self.node(f["type"]), "default" not in f) for f in fields)
        return _record(name, entries)

    def _union(self, branches: list[Any]) -> Node:
        if not branches:
            raise SchemaCompileError("an Avro union needs at least one branch")
        nodes: list[Node] = []
        for b in branches:
            if isinstance(b, list):
                raise SchemaCompileError("an Avro union may not directly contain a union")
            node = self.node(b)
            if any(n.label == node.label for n in nodes):
                raise SchemaCompileError(f"an Avro union lists {node.label} twice")
            nodes.append(node)
        return _union(tuple(nodes), self.memo)

    def _array(self, item: Node) -> Node:
        if item.empty:
            self.hazard = True
        return _array(item)


def _forward(name: str, cell: list[Node]) -> Node:
    """A reference to a record still being compiled; ``cell`` receives it when done."""

    def check(v: Any) -> bool:
        return cell[0].check(v)

    def collect(v: Any, path: str, out: ViolationSink) -> None:
        cell[0].collect(v, path, out)

    def read(buf: bytes, pos: int) -> tuple[Any, int]:
        return cell[0].read(buf, pos)

    return Node(name, check, collect, read, (dict,))


def _enum(name: str, symbols: list[str]) -> Node:
    table = tuple(symbols)
    allowed = frozenset(table)
    listed = ", ".join(table[:10]) + (", ..." if len(table) > 10 else "")

    def check(v: Any) -> bool:
        return isinstance(v, str) and v in allowed

    def collect(v: Any, path: str, out: ViolationSink) -> None:
        if not isinstance(v, str):
            out.append(
                _violation(
                    path, f"expected enum {name} (a string), got {json_type_name(v)}", "type"
                )
            )
        elif v not in allowed:
            out.append(
                _violation(path, f"{_short(v)} is not a symbol of {name} ({listed})", "enum")
            )

    def read(buf: bytes, pos: int) -> tuple[Any, int]:
        i, pos = _read_long(buf, pos)
        if not 0 <= i < len(table):
            raise DecodeFailure(f"invalid Avro binary: enum {name} has no symbol #{i}")
        return table[i], pos

    return Node(name, check, collect, read, (str,))


def _fixed(name: str, size: int) -> Node:
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise SchemaCompileError(f"fixed {name} needs a size >= 0, not {size!r}")

    def check(v: Any) -> bool:
        if type(v) is bytes or type(v) is bytearray:
            return len(v) == size
        return isinstance(v, str) and len(v) == size and _is_latin1(v)

    def collect(v: Any, path: str, out: ViolationSink) -> None:
        if isinstance(v, (str, bytes, bytearray)) and len(v) != size:
            msg = f"fixed {name} is {size} bytes, got {len(v)}"
            out.append(_violation(path, msg, "size"))
        elif not check(v):
            out.append(_violation(path, f"expected fixed {name}, got {json_type_name(v)}", "type"))

    def read(buf: bytes, pos: int) -> tuple[Any, int]:
        end = pos + size
        if end > len(buf):
            raise DecodeFailure(f"invalid Avro binary: truncated fixed {name}")
        return buf[pos:end], end

    return Node(name, check, collect, read, (str, bytes, bytearray), empty=size == 0)


def _record_collect(name: str, entries: tuple[tuple[str, Node, bool], ...]) -> Collect:
    collects = tuple(
        (f, "/" + pointers.escape(f), n.collect, required) for f, n, required in entries
    )
    fields = frozenset(f for f, _, _ in entries)

    def collect(v: Any, path: str, out: ViolationSink) -> None:
        if not isinstance(v, dict):
            out.append(_violation(path, f"expected record {name}, got {json_type_name(v)}", "type"))
            return
        for f, sub, walk, required in collects:
            x = v.get(f, _MISSING)
            if x is not _MISSING:
                walk(x, path + sub, out)
            elif required:
                out.append(_violation(path + sub, f"required field {f!r} is missing", "required"))
        for key in v:
            if key not in fields:
                msg = f"{_short(key)} is not a field of record {name}"
                out.append(
                    _violation(f"{path}/{pointers.escape(key)}", msg, "additionalProperties")
                )

    return collect


def _record(name: str, entries: tuple[tuple[str, Node, bool], ...]) -> Node:
    checks = tuple((f, n.check, required) for f, n, required in entries)
    reads = tuple((f, n.read) for f, n, _ in entries)

    def check(v: Any) -> bool:
        if not isinstance(v, dict):
            return False
        seen = 0
        for f, chk, required in checks:
            x = v.get(f, _MISSING)
            if x is _MISSING:
                if required:
                    return False
            elif chk(x):
                seen += 1
            else:
                return False
        return seen == len(v)

    def read(buf: bytes, pos: int) -> tuple[Any, int]:
        out: dict[str, Any] = {}
        for f, rd in reads:
            out[f], pos = rd(buf, pos)
        return out, pos

    empty = all(n.empty for _, n, _ in entries)
    return Node(name, check, _record_collect(name, entries), read, (dict,), empty=empty)


def _tagger(nodes: tuple[Node, ...]) -> Callable[[Any], tuple[str, Any, Node] | None]:
    tags = {n.label: n for n in nodes if n.label != "null"}

    def tagged(v: Any) -> tuple[str, Any, Node] | None:
        if type(v) is dict and len(v) == 1:
            key, inner = next(iter(v.items()))
            node = tags.get(key) if isinstance(key, str) else None
            if node is not None:
                return key, inner, node
        return None

    return tagged


def _union(nodes: tuple[Node, ...], memo: dict[tuple[int, int], tuple[Any, bool]]) -> Node:
    checks = tuple(n.check for n in nodes)
    tagged = _tagger(nodes)
    labels = ", ".join(n.label for n in nodes)
    others = tuple(c for n, c in zip(nodes, checks, strict=True) if n.label != "null")
    if len(nodes) == 2 and len(others) == 1:  # the common optional field: ["null", T]
        other = others[0]

        def check(v: Any) -> bool:
            if v is None or other(v):
                return True
            hit = tagged(v)
            return hit is not None and hit[2].check(hit[1])

    else:

        def check(v: Any) -> bool:
            for c in checks:
                if c(v):
                    return True
            hit = tagged(v)
            return hit is not None and hit[2].check(hit[1])

    # Branches that all descend into one value would make a recursive schema cost
    # branches ** depth: then each answer is kept for the rest of the check.
    ambiguous = sum(dict in n.pytypes or list in n.pytypes for n in nodes) > 1
    fast = _memoized(check, memo, id(nodes)) if ambiguous else check

    def collect(v: Any, path: str, out: ViolationSink) -> None:
        if fast(v):
            return
        hit = tagged(v)
        if hit is not None:
            hit[2].collect(hit[1], f"{path}/{pointers.escape(hit[0])}", out)
            return
        candidates = [n for n in nodes if type(v) in n.pytypes]
        if len(candidates) == 1:
            candidates[0].collect(v, path, out)
            return
        msg = f"{json_type_name(v)} value matches none of the union branches ({labels})"
        out.append(_violation(path, msg, "union"))

    def read(buf: bytes, pos: int) -> tuple[Any, int]:
        i, pos = _read_long(buf, pos)
        if not 0 <= i < len(nodes):
            raise DecodeFailure(f"invalid Avro binary: union has no branch #{i}")
        return nodes[i].read(buf, pos)

    pytypes = tuple({t: None for n in nodes for t in n.pytypes})
    return Node(f"union[{labels}]", fast, collect, read, pytypes)


def _block_count(buf: bytes, pos: int, empty: bool, total: int) -> tuple[int, int]:
    n, pos = _read_long(buf, pos)
    if n < 0:
        n = -n
        _, pos = _read_long(buf, pos)  # the block's size in bytes: not needed
    if empty:
        if total + n > _MAX_EMPTY_ITEMS:
            raise DecodeFailure(f"invalid Avro binary: more than {_MAX_EMPTY_ITEMS} empty items")
    elif n > len(buf) - pos:  # every item takes at least one byte
        raise DecodeFailure(f"invalid Avro binary: truncated ({n} items announced)")
    return n, pos


def _array(item: Node) -> Node:
    item_check, item_collect, item_read, empty = item.check, item.collect, item.read, item.empty

    def check(v: Any) -> bool:
        if not isinstance(v, list):
            return False
        return all(map(item_check, v))

    def collect(v: Any, path: str, out: ViolationSink) -> None:
        if not isinstance(v, list):
            out.append(_violation(path, f"expected array, got {json_type_name(v)}", "type"))
            return
        for i, x in enumerate(v):
            item_collect(x, f"{path}/{i}", out)

    def read(buf: bytes, pos: int) -> tuple[Any, int]:
        out: list[Any] = []
        n, pos = _block_count(buf, pos, empty, 0)
        while n:
            for _ in range(n):
                x, pos = item_read(buf, pos)
                out.append(x)
            n, pos = _block_count(buf, pos, empty, len(out))
        return out, pos

    return Node("array", check, collect, read, (list,))


def _map(value: Node) -> Node:
    value_check, value_collect, value_read = value.check, value.collect, value.read

    def check(v: Any) -> bool:
        if not isinstance(v, dict):
            return False
        for k, x in v.items():  # noqa: SIM110 - a plain loop is faster than all(<genexpr>)
            if not (isinstance(k, str) and value_check(x)):
                return False
        return True

    def collect(v: Any, path: str, out: ViolationSink) -> None:
        if not isinstance(v, dict):
            out.append(_violation(path, f"expected map, got {json_type_name(v)}", "type"))
            return
        for k, x in v.items():
            sub = f"{path}/{pointers.escape(k)}"
            if not isinstance(k, str):
                out.append(
                    _violation(sub, f"map keys are strings, got {json_type_name(k)}", "type")
                )
            value_collect(x, sub, out)

    def read(buf: bytes, pos: int) -> tuple[Any, int]:
        out: dict[str, Any] = {}
        n, pos = _block_count(buf, pos, False, 0)
        while n:
            for _ in range(n):
                key, pos = _read_string(buf, pos)
                out[key], pos = value_read(buf, pos)
            n, pos = _block_count(buf, pos, False, 0)
        return out, pos

    return Node("map", check, collect, read, (dict,))


def _memoized(check: Check, memo: dict[tuple[int, int], tuple[Any, bool]], key: int) -> Check:
    def memo_check(v: Any) -> bool:
        entry = memo.get((key, id(v)))
        if entry is not None and entry[0] is v:  # the value itself is kept: ids stay unique
            return entry[1]
        ok = check(v)
        memo[(key, id(v))] = (v, ok)
        return ok

    return memo_check


def compile_tree(
    parsed: Any, named: Mapping[str, Any]
) -> tuple[Node, bool, dict[tuple[int, int], tuple[Any, bool]]]:
    """The node tree of fastavro's ``parsed`` schema (``named``: its named types by full name),
    whether fastavro's reader must be avoided (recursive types, arrays of empty items), and
    the memo of union answers, to clear after each check of a value."""
    compiler = _Compiler(named)
    return compiler.node(parsed), compiler.hazard, compiler.memo
