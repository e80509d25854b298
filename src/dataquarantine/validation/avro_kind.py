"""The ``avro`` validator kind: Avro records as Confluent-framed binary, plain binary or JSON.

**Encodings** (``avro_encoding`` of the contract):

* ``confluent``: magic byte ``0x00``, a 4-byte big-endian schema id, then the binary body. When
  the contract sets ``schema_id``, a message with another id is a parse error.
* ``binary``: the plain (schemaless) binary body.
* ``json``: one JSON document in the *natural* form: a union value is the plain value
  (``"x"``, not ``{"string": "x"}``), ``bytes``/``fixed`` are strings of code points
  U+0000..U+00FF, logical types are their underlying type (a ``date`` is an ``int`` of days).
  The tagged form of the Avro JSON encoding (``{"string": "x"}``, ``{"com.acme.Address": {}}``,
  keyed by the branch's full name) is accepted too, when the plain value matches no branch; the
  value is kept as it came, not rewritten.
* ``auto`` (default), in this order: first byte ``0x00`` and at least 5 bytes: Confluent;
  else first non-whitespace byte ``{`` or ``[`` and the bytes parse as JSON: JSON; else plain
  binary. This is a guess: a plain binary record whose first byte is ``0x00`` (an ``int`` 0, an
  empty ``string``...) is read as Confluent framing, and a binary record that happens to be
  valid JSON is read as JSON. Producers of plain binary should set ``avro_encoding: binary``.

Every body must be consumed exactly; truncated, garbage or trailing bytes are a parse error.

**Decoded values** have the same shape whatever the encoding: records are dicts, logical types
are left as their underlying values (no ``datetime``/``Decimal``/``UUID``), ``bytes``/``fixed``
are Python ``bytes`` from binary and strings from JSON (both are accepted by the checker).

**Binary values are valid by construction**: :meth:`AvroValidator.is_valid` answers ``True``
at once for the value :meth:`~AvroValidator.decode` has just produced from binary; any other
value (JSON, or a binary value handed in again) is checked. Binary bodies are read by fastavro,
except for recursive schemas and arrays of zero-byte items (``null``, empty records), which are
read by the strict reader of :mod:`~dataquarantine.validation.avro_tree`: fastavro's compiled
reader crashes the process (C stack overflow) on deeply nested recursive data and would loop
over absurd item counts. fastavro is laxer than the specification in a few corners that
well-behaved writers never produce (an ``int`` beyond 32 bits, a boolean byte other than 0/1,
a negative enum or union index); the strict reader refuses those too.

**Checks on JSON values**, collected all at once, each with an RFC 6901 pointer and keyword:
``type`` (wrong type; ``int``/``long`` outside 32/64 bits; ``float``/``double`` accept integers;
a boolean is not an integer), ``required`` (a record field without default is missing; the
pointer names the field), ``additionalProperties`` (a member that is not a field of the record:
stricter than an Avro reader, which would silently drop it), ``enum``, ``size`` (``fixed``
length) and ``union`` (no branch matches). When exactly one union branch can hold the value's
JSON type (``["null", "Address"]`` given an object), that branch's own violations are
reported instead of a bare ``union`` one.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from io import BytesIO
from typing import TYPE_CHECKING, Any, Final, Literal, final

import fastavro

from dataquarantine.errors import SchemaCompileError
from dataquarantine.kernel.results import ErrorCode, Violation, ViolationSink
from dataquarantine.validation.avro_tree import Node, compile_tree, json_type_name
from dataquarantine.validation.base import (
    CompileOptions,
    DecodeFailure,
    SchemaValidator,
    register_kind,
)
from dataquarantine.validation.parsing import parse_json

if TYPE_CHECKING:
    from dataquarantine.contracts.model import ContractSpec

__all__ = ["MAX_SCHEMA_DEPTH", "AvroValidator", "compile_avro"]

#: Deepest nesting of the ``.avsc`` document itself (fastavro parses it recursively in C).
MAX_SCHEMA_DEPTH: Final = 200
Encoding = Literal["auto", "confluent", "binary", "json"]

_MISSING: Final = object()
_WS: Final = b" \t\r\n"


# -- schema preparation ----------------------------------------------------------------------


def _too_deep(doc: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return False


def _strip_logical(schema: Any) -> Any:
    """A copy of the schema without ``logicalType``, so fastavro returns underlying values."""
    if isinstance(schema, list):
        return [_strip_logical(b) for b in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: v for k, v in schema.items() if k != "logicalType"}
    t = out.get("type")
    if isinstance(t, (dict, list)):
        out["type"] = _strip_logical(t)
    elif t == "array" and "items" in out:
        out["items"] = _strip_logical(out["items"])
    elif t == "map" and "values" in out:
        out["values"] = _strip_logical(out["values"])
    elif t in ("record", "error") and isinstance(out.get("fields"), list):
        out["fields"] = [
            {**f, "type": _strip_logical(f["type"])} if isinstance(f, dict) and "type" in f else f
            for f in out["fields"]
        ]
    return out


def _fastavro_reader(parsed: Any) -> Callable[[bytes, int], Any]:
    reader = fastavro.schemaless_reader

    def read(raw: bytes, start: int) -> Any:
        stream = BytesIO(raw)
        if start:
            stream.seek(start)
        try:
            value = reader(stream, parsed, None)
        except Exception as exc:  # EOFError, IndexError, StopIteration, UnicodeDecodeError...
            raise DecodeFailure(f"invalid Avro binary: {_describe(exc)}") from None
        end = stream.tell()
        if end != len(raw):
            raise DecodeFailure(f"invalid Avro binary: {len(raw) - end} trailing bytes")
        return value

    return read


def strict_reader(root: Callable[[bytes, int], tuple[Any, int]]) -> Callable[[bytes, int], Any]:
    """Decode a whole binary body from ``start`` with ``root``; :class:`DecodeFailure` when bad."""

    def read(raw: bytes, start: int) -> Any:
        try:
            value, end = root(raw, start)
        except DecodeFailure:
            raise
        except (IndexError, struct.error):
            raise DecodeFailure("invalid Avro binary: truncated") from None
        except UnicodeDecodeError as exc:
            raise DecodeFailure(f"invalid Avro binary: string is not UTF-8 ({exc})") from None
        except RecursionError:
            raise DecodeFailure("invalid Avro binary: nested too deeply") from None
        except MemoryError:
            raise DecodeFailure("invalid Avro binary: too large to decode") from None
        if end != len(raw):
            raise DecodeFailure(f"invalid Avro binary: {len(raw) - end} trailing bytes")
        return value

    return read


def _describe(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, (EOFError, IndexError, StopIteration, struct.error)):
        return "truncated" + (f" ({text})" if text.startswith("Expected") else "")
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# -- the validator ---------------------------------------------------------------------------


@final
class AvroValidator:
    """A compiled Avro schema (see the module documentation for encodings and checks)."""

    __slots__ = ("_check", "_collect", "_memo", "_read", "_trusted", "encoding", "schema_id")

    def __init__(
        self,
        root: Node,
        read: Callable[[bytes, int], Any],
        encoding: Encoding,
        schema_id: int | None,
        memo: dict[tuple[int, int], tuple[Any, bool]] | None = None,
    ) -> None:
        self._check = root.check
        self._collect = root.collect
        # Union answers during one check (see avro_tree.compile_tree); emptied after each.
        self._memo = memo if memo is not None else {}
        self._read = read
        # The value decode() just produced from binary: valid by construction (identity only).
        self._trusted: Any = _MISSING
        self.encoding: Encoding = encoding
        self.schema_id = schema_id

    def decode(self, raw: bytes) -> Any:
        """Decode one message per :attr:`encoding`; :class:`DecodeFailure` when it is bad."""
        if type(raw) is not bytes:
            raw = bytes(raw)
        encoding = self.encoding
        if encoding == "auto":
            if len(raw) >= 5 and raw[0] == 0:
                encoding = "confluent"
            elif raw.lstrip(_WS)[:1] in (b"{", b"["):
                return self._json_or_binary(raw)
            else:
                encoding = "binary"
        if encoding == "json":
            return parse_json(raw)
        start = 0
        if encoding == "confluent":
            start = self._frame(raw)
        value = self._read(raw, start)
        self._trusted = value
        return value

    def _frame(self, raw: bytes) -> int:
        if len(raw) < 5 or raw[0] != 0:
            raise DecodeFailure(
                "not Confluent wire format: expected a 0x00 magic byte and a 4-byte schema id"
            )
        if self.schema_id is not None:
            found = int.from_bytes(raw[1:5], "big")
            if found != self.schema_id:
                raise DecodeFailure(
                    f"schema id {found} does not match contract schema_id {self.schema_id}"
                )
        return 5

    def _json_or_binary(self, raw: bytes) -> Any:
        try:
            return parse_json(raw)
        except DecodeFailure as json_failure:
            try:
                value = self._read(raw, 0)
            except DecodeFailure as failure:
                raise DecodeFailure(
                    f"{json_failure.message}; not Avro binary either: {failure.message}"
                ) from None
        self._trusted = value
        return value

    def is_valid(self, value: Any) -> bool:
        """True when ``value`` matches the schema (at once for a just-decoded binary value)."""
        if value is self._trusted:
            self._trusted = _MISSING  # once: a value changed afterwards is checked again
            return True
        try:
            return self._check(value)
        except RecursionError:
            return False
        finally:
            self._memo.clear()

    def collect(self, value: Any, sink: ViolationSink) -> None:
        """The violations of ``value`` (a JSON-form record), each with its JSON Pointer."""
        try:
            self._collect(value, "", sink)
        except RecursionError:
            message = "the record nests too deeply to be checked"
            sink.append(Violation(ErrorCode.SCHEMA_VIOLATION, "", message, keyword="depth"))
        finally:
            self._memo.clear()

    def violations(self, value: Any) -> list[Violation]:
        """:meth:`collect` into a fresh sink: at most ``MAX_VIOLATIONS``, then a summary."""
        sink = ViolationSink()
        self.collect(value, sink)
        return sink.listed()

    def __repr__(self) -> str:
        return f"AvroValidator(encoding={self.encoding!r}, schema_id={self.schema_id!r})"


@register_kind("avro")
def compile_avro(spec: ContractSpec, options: CompileOptions) -> SchemaValidator:
    """Compile the contract's Avro schema (``options.schema``, the parsed ``.avsc``).

    Raises :class:`~dataquarantine.errors.SchemaCompileError` when it is not a valid schema.
    """
    source = spec.source_path
    schema = options.schema
    if not isinstance(schema, (dict, list, str)):
        raise SchemaCompileError(
            f"an Avro schema is an object, an array or a string, not {json_type_name(schema)}",
            source=source,
        )
    if _too_deep(schema, MAX_SCHEMA_DEPTH):
        raise SchemaCompileError(
            f"the Avro schema nests deeper than {MAX_SCHEMA_DEPTH} levels", source=source
        )
    named: dict[str, Any] = {}
    try:
        fastavro.parse_schema(schema, named_schemas=named)
        parsed = fastavro.parse_schema(_strip_logical(schema))
    except Exception as exc:  # SchemaParseException, UnknownType, KeyError, TypeError...
        raise SchemaCompileError(
            f"invalid Avro schema: {_describe_schema(exc)}", source=source
        ) from exc
    try:
        root, hazard, memo = compile_tree(parsed, named)
    except SchemaCompileError as exc:
        raise SchemaCompileError(exc.problem, source=source) from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise SchemaCompileError(
            f"invalid Avro schema: {_describe_schema(exc)}", source=source
        ) from exc
    read = strict_reader(root.read) if hazard else _fastavro_reader(parsed)
    return AvroValidator(root, read, spec.avro_encoding, spec.schema_id, memo)


def _describe_schema(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"missing attribute {exc}"
    if type(exc).__name__ == "UnknownType":
        return f"unknown type {exc}"
    return str(exc) or type(exc).__name__
