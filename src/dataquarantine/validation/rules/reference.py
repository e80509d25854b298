"""The reference evaluation of a rule: our interpreter (:mod:`.evaluator`), per the CEL spec.

It defines the semantics; the fast path must agree with it. This module adapts it to the
rule engine: a record is converted to CEL values once (:class:`Scope`) and shared by the
rules that need the reference for it, and errors come back as :class:`EvalError` values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dataquarantine.validation.rules.budget import Budget, BudgetExceeded
from dataquarantine.validation.rules.evaluator import evaluate, prepare
from dataquarantine.validation.rules.nodes import Node
from dataquarantine.validation.rules.parser import parse
from dataquarantine.validation.rules.values import CelError, from_record, type_name

__all__ = ["EvalError", "ReferenceProgram", "Scope", "cel_type_name"]


@dataclass(frozen=True, slots=True)
class EvalError:
    """An evaluation error, as a value. ``over_budget`` when the cost budget ran out."""

    reason: str
    over_budget: bool = False


def cel_type_name(value: object) -> str:
    """The CEL type name of a value (``null_type`` is called ``null`` in messages)."""
    name = type_name(value)
    return "null" if name == "null_type" else name


class Scope:
    """One record as CEL values, converted at most once, shared by the rules that need it."""

    __slots__ = ("_done", "_error", "_record", "_value")

    def __init__(self, record: Any) -> None:
        self._record = record
        self._value: Any = None
        self._error: str | None = None
        self._done = False

    def value(self) -> Any:
        """The record as a CEL value (raises :class:`CelError` when it has none)."""
        if not self._done:
            try:
                self._value = from_record(self._record)
            except CelError as exc:
                self._error = f"record cannot be converted: {exc}"
            except RecursionError:
                self._error = "record cannot be converted: nested too deeply"
            self._done = True
        if self._error is not None:
            raise CelError(self._error)
        return self._value


class ReferenceProgram:
    """A parsed expression evaluated by the reference interpreter."""

    __slots__ = ("node", "plan")

    def __init__(self, node: Node | str) -> None:
        """``node`` is a parsed tree, or a source to parse (raises ``CelSyntaxError``). An
        invalid literal pattern of ``matches()`` raises :class:`InvalidPattern`."""
        self.node = parse(node) if isinstance(node, str) else node
        self.plan = prepare(self.node)

    def run(self, scope: Scope) -> Any:
        """The value of the expression, or an :class:`EvalError`."""
        try:
            return evaluate(self.node, {"record": scope.value()}, Budget(), self.plan)
        except CelError as exc:
            return EvalError(exc.message)
        except BudgetExceeded as exc:
            return EvalError(str(exc), over_budget=True)
        except Exception as exc:  # a gap in the interpreter: an error, never a crash
            return EvalError(f"{type(exc).__name__}: {exc}")

    def evaluate(self, record: Any) -> Any:
        """Evaluate against one record (value or :class:`EvalError`)."""
        return self.run(Scope(record))
