"""One CEL expression over ``record``: the public entry point to the rule language."""

from __future__ import annotations

from typing import Any, Final

from dataquarantine.errors import RuleCompileError, RuleEvaluationError
from dataquarantine.validation.rules.evaluator import prepare, qualified_name
from dataquarantine.validation.rules.functions import TYPE_NAMES, known_function
from dataquarantine.validation.rules.nodes import (
    Call,
    Ident,
    Node,
    Select,
    depth,
    free_identifiers,
    walk,
)
from dataquarantine.validation.rules.parser import CelSyntaxError, parse
from dataquarantine.validation.rules.reference import EvalError, ReferenceProgram
from dataquarantine.validation.rules.regex import InvalidPattern

__all__ = ["DECLARED", "MAX_DEPTH", "Expression", "check"]

#: The deepest nesting a rule may have (see :func:`~.nodes.depth`: long chains such as
#: ``a && b && ...`` do not nest); deeper would exhaust the evaluator's recursion.
MAX_DEPTH: Final = 100

#: Identifiers an expression may use without binding them: the record and CEL's type names.
DECLARED: Final = frozenset({"record", *(name for name in TYPE_NAMES if "." not in name)})
_QUALIFIED_ROOTS: Final = frozenset(name.split(".")[0] for name in TYPE_NAMES if "." in name)


def check(node: Node) -> str | None:
    """Why ``node`` does not compile (an undeclared identifier, an unknown function, an
    invalid literal ``matches()`` pattern), or ``None`` when it does."""
    if depth(node) > MAX_DEPTH:
        return f"expression nested too deeply (more than {MAX_DEPTH} levels)"
    for name in sorted(free_identifiers(node) - DECLARED):
        if name in _QUALIFIED_ROOTS and _only_qualified(node, name):
            continue
        return f"undeclared reference to {name!r} (the record's fields are read as record.{name})"
    for item in walk(node):
        if isinstance(item, Call) and not known_function(item.function):
            return f"undeclared reference to function {item.function!r}"
    try:
        prepare(node)
    except InvalidPattern as exc:
        return str(exc)
    return None


def _only_qualified(node: Node, root: str) -> bool:
    """Whether ``root`` appears only as the start of a type name (``google.protobuf.X``)."""
    typed: set[int] = set()  # the identifiers that start a whole type name
    for item in walk(node):
        if isinstance(item, Select) and qualified_name(item) in TYPE_NAMES:
            base: Node = item
            while isinstance(base, Select):
                base = base.operand
            typed.add(id(base))
    return all(
        id(item) in typed for item in walk(node) if isinstance(item, Ident) and item.name == root
    )


class Expression:
    """A CEL expression compiled once; :meth:`evaluate` gives its value for a record.

    ``Expression("size(record.name) <= 5").evaluate({"name": "πέντε"})`` is ``True``. The
    only variable is ``record`` (the decoded record, converted as docs/contracts.md states).
    Raises :class:`~dataquarantine.errors.RuleCompileError` when the source does not compile.
    """

    __slots__ = ("_program", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        try:
            node = parse(source)
        except CelSyntaxError as exc:
            raise RuleCompileError(f"syntax error: {exc}") from exc
        problem = check(node)
        if problem is not None:
            raise RuleCompileError(problem)
        self._program = ReferenceProgram(node)

    def evaluate(self, record: Any) -> Any:
        """The CEL value of the expression for ``record`` (int, :class:`UInt`, float, str,
        bytes, bool, None, list, dict, :class:`Timestamp`, :class:`Duration`,
        :class:`CelType`; a map's bool keys are :class:`BoolKey`, so ``true`` and ``1``
        stay two keys). Raises :class:`~dataquarantine.errors.RuleEvaluationError` on a
        CEL evaluation error, including an exceeded cost budget."""
        result = self._program.evaluate(record)
        if isinstance(result, EvalError):
            raise RuleEvaluationError(result.reason)
        return result

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"
