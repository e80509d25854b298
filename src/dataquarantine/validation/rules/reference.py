"""The reference CEL evaluator: the ``cel`` package (common-expression-language).

It defines the semantics; the fast path must agree with it. This module is its adapter:
compile errors become :class:`ReferenceCompileError`, evaluation errors become readable
reasons, and record values it cannot convert (UUID, date, time) are converted first.
"""

from __future__ import annotations

import datetime as dt
import sys
import types
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def _import_cel() -> types.ModuleType:
    """``import cel``, without the command-line tool its ``__init__`` imports eagerly
    (prompt_toolkit, rich: a fifth of a second of every start-up). A stand-in ``cel.cli`` is
    in place only during the import, so importing ``cel.cli`` later gets the real one."""
    if "cel" in sys.modules or "cel.cli" in sys.modules:
        import cel as loaded

        return loaded
    stub = types.ModuleType("cel.cli")
    sys.modules["cel.cli"] = stub
    try:
        import cel as loaded
    finally:
        if sys.modules.get("cel.cli") is stub:
            del sys.modules["cel.cli"]
    if loaded.__dict__.get("cli") is stub:
        del loaded.cli
    return loaded


cel: Any = _import_cel()

__all__ = [
    "EvalError",
    "ReferenceCompileError",
    "ReferenceProgram",
    "Scope",
    "cel_type_name",
    "evaluate_literal",
    "to_reference",
]


class ReferenceCompileError(ValueError):
    """The reference implementation refuses the expression."""


@dataclass(frozen=True, slots=True)
class EvalError:
    """An evaluation error, as a value."""

    reason: str


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def compile_error_message(exc: BaseException) -> str:
    """The useful part of a ``cel.compile`` error (the ``ERROR: <input>:...`` block)."""
    text = str(exc)
    marker = "ERROR: <input>:"
    at = text.find(marker)
    if at >= 0:
        # Keep the first diagnosis (position, message, caret); later ones are follow-ups.
        text = "at " + text[at + len(marker) :].split("\n" + marker, maxsplit=1)[0]
    return text.rstrip()


def reason(exc: BaseException) -> str:
    """A one-line, human-readable reason for an evaluation error."""
    if isinstance(exc, KeyError):
        return f"no such key: {exc.args[0]!r}" if exc.args else "no such key"
    text = _first_line(str(exc)) or type(exc).__name__
    # The reference appends long advice after the first sentence; keep the diagnosis.
    for sep in (". CEL does not", ". Check ", ". Convert "):
        cut = text.find(sep)
        if cut >= 0:
            text = text[:cut]
    return text.rstrip(".")


def cel_type_name(value: object) -> str:
    """The CEL type name of a value returned by the reference."""
    match value:
        case bool():
            return "bool"
        case int():
            return "int"
        case float():
            return "double"
        case str():
            return "string"
        case bytes():
            return "bytes"
        case None:
            return "null"
        case list():
            return "list"
        case dict():
            return "map"
        case dt.datetime():
            return "timestamp"
        case dt.timedelta():
            return "duration"
    return type(value).__name__


def to_reference(value: Any) -> Any:
    """Decoded values the reference cannot convert, converted: a UUID is its string form, a
    date is a timestamp at UTC midnight, a time of day is the duration since midnight."""
    if isinstance(value, dict):
        return {k: to_reference(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_reference(v) for v in value]
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if isinstance(value, dt.time):
        return dt.timedelta(
            hours=value.hour,
            minutes=value.minute,
            seconds=value.second,
            microseconds=value.microsecond,
        )
    return value


class Scope:
    """The reference's view of one record, converted at most once and shared by the rules
    that need the reference for that record."""

    __slots__ = ("_context", "_error", "_record")

    def __init__(self, record: Any) -> None:
        self._record = record
        self._context: cel.Context | None = None
        self._error: str | None = None

    def context(self) -> cel.Context | str:
        """The evaluation context, or the reason the record cannot be converted."""
        if self._context is None and self._error is None:
            try:
                self._context = cel.Context(variables={"record": self._record})
            except Exception:
                try:
                    self._context = cel.Context(variables={"record": to_reference(self._record)})
                except Exception as exc:
                    self._error = f"record cannot be converted: {reason(exc)}"
        if self._context is not None:
            return self._context
        assert self._error is not None
        return self._error


class ReferenceProgram:
    """A compiled expression evaluated by the reference implementation."""

    __slots__ = ("_execute", "expr")

    def __init__(self, expr: str) -> None:
        try:
            program = cel.compile(expr)
        except Exception as exc:
            raise ReferenceCompileError(compile_error_message(exc)) from exc
        self.expr = expr
        self._execute: Callable[[Any], Any] = program.execute

    def run(self, scope: Scope) -> Any:
        """The value of the expression, or a :class:`EvalError`."""
        context = scope.context()
        if isinstance(context, str):
            return EvalError(context)
        try:
            return self._execute(context)
        except Exception as exc:
            return EvalError(reason(exc))

    def evaluate(self, record: Any) -> Any:
        """Evaluate against one record (value or :class:`EvalError`)."""
        return self.run(Scope(record))


def evaluate_literal(text: str) -> Any:
    """The reference's value of a literal token, or a :class:`EvalError`."""
    try:
        return ReferenceProgram(text).evaluate(None)
    except ReferenceCompileError as exc:
        return EvalError(str(exc))
