"""The reference CEL evaluator: a tree-walking interpreter over :mod:`.nodes`, per the spec.

Errors are values in CEL; here they are raised as :class:`~.values.CelError` and caught
where the spec absorbs them: ``&&`` and ``||`` are commutative over errors (``false &&
error`` and ``error && false`` are ``false``), and ``all``/``exists`` absorb an error when
another element decides the result. Every evaluation has a cost budget (:mod:`.budget`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from dataquarantine.validation.rules.budget import CHARS_PER_UNIT, Budget, BudgetExceeded, weight
from dataquarantine.validation.rules.functions import TYPE_NAMES, call_function, pattern_search
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
    MapLit,
    Node,
    Select,
    Unary,
    walk,
)
from dataquarantine.validation.rules.operators import (
    arith,
    compare,
    contains,
    equal,
    index,
    negate,
    no_overload,
)
from dataquarantine.validation.rules.regex import Pattern, compile_pattern
from dataquarantine.validation.rules.strings_ext import STRING_EXT
from dataquarantine.validation.rules.values import CelError, map_key, to_python_key, type_name

__all__ = ["BudgetExceeded", "Evaluator", "Plan", "evaluate", "prepare", "qualified_name"]

Env = dict[str, Any]
_RELATIONS: Final = frozenset({"<", "<=", ">", ">="})
#: String methods whose work grows with the string (charged in a comprehension's body).
_SCANS: Final = frozenset({"contains", "startsWith", "endsWith", "matches", *STRING_EXT})
_CONVERSIONS: Final = frozenset(
    {"int", "uint", "double", "string", "bytes", "bool", "timestamp", "duration"}
)
_ARITH: Final = frozenset({"+", "-", "*", "/", "%"})


def qualified_name(node: Node) -> str | None:
    """``a.b.c`` for a chain of selections on an identifier, else ``None``."""
    parts: list[str] = []
    while isinstance(node, Select):
        parts.append(node.field)
        node = node.operand
    if isinstance(node, Ident):
        parts.append(node.name)
        return ".".join(reversed(parts))
    return None


class Evaluator:
    """Evaluates one expression tree against variables, within one :class:`Budget`."""

    __slots__ = ("body", "budget", "env", "patterns", "weights")

    def __init__(self, env: Env, budget: Budget | None = None, plan: Plan | None = None) -> None:
        self.env = env
        self.budget = budget if budget is not None else Budget()
        self.patterns = plan.patterns if plan is not None else {}
        self.weights = plan.weights if plan is not None else {}
        #: How many comprehension bodies are being evaluated: there, operations whose work
        #: grows with their operands are charged (see budget.py).
        self.body = 0

    def eval(self, node: Node) -> Any:
        return _DISPATCH[type(node)](self, node)

    # -- leaves ---------------------------------------------------------------------------

    def literal(self, node: Literal) -> Any:
        return node.value

    def ident(self, node: Ident) -> Any:
        env = self.env
        if node.name in env:
            return env[node.name]
        found = TYPE_NAMES.get(node.name)
        if found is not None:
            return found
        raise CelError(f"undeclared reference to {node.name!r}")

    def select(self, node: Select) -> Any:
        fields: list[str] = []
        base: Node = node
        while type(base) is Select:  # a.b.c...: a loop, however long the chain
            fields.append(base.field)
            base = base.operand
        if type(base) is Ident and base.name not in self.env:  # google.protobuf.Timestamp
            found = TYPE_NAMES.get(".".join([base.name, *reversed(fields)]))
            if found is not None:
                return found
        value = self.eval(base)
        for field in reversed(fields):
            if type(value) is not dict:
                raise CelError(f"no such field {field!r} on {type_name(value)}")
            if field not in value:
                raise CelError(f"no such key: {field!r}")
            value = value[field]
        return value

    def has(self, node: Has) -> bool:
        operand = self.eval(node.operand)
        if type(operand) is dict:
            return node.field in operand
        raise no_overload("has", operand)

    def index(self, node: Index) -> Any:
        return index(self.eval(node.operand), self.eval(node.index))

    def list_lit(self, node: ListLit) -> list[Any]:
        return [self.eval(item) for item in node.items]

    def map_lit(self, node: MapLit) -> dict[object, Any]:
        out: dict[object, Any] = {}
        for key_node, value_node in node.entries:
            key = map_key(self.eval(key_node))
            if key in out:
                raise CelError(f"Failed with repeated key: {to_python_key(key)!r}")
            out[key] = self.eval(value_node)
        return out

    # -- operators ------------------------------------------------------------------------

    def unary(self, node: Unary) -> Any:
        ops: list[str] = []
        base: Node = node
        while isinstance(base, Unary):  # !!!x, --x: a loop, however long the chain
            ops.append(base.op)
            base = base.operand
        value = self.eval(base)
        for op in reversed(ops):
            if op == "-":
                value = negate(value)
            elif type(value) is bool:
                value = not value
            else:
                raise no_overload("!", value)
        return value

    def logic(self, node: Binary) -> bool:
        """``a && b && ...`` (or ``||``), the whole chain at once: the first operand that
        decides wins, else the first error, else the other truth value."""
        op = node.op
        operands: list[Node] = []
        base: Node = node
        while isinstance(base, Binary) and base.op == op:
            operands.append(base.right)
            base = base.left
        operands.append(base)
        short = op == "||"  # the value that decides: true for ||, false for &&
        error: CelError | None = None
        for operand in reversed(operands):
            try:
                value = self.eval(operand)
            except CelError as exc:
                error = error or exc
                continue
            if type(value) is not bool:
                error = error or no_overload(op, value)
            elif value is short:
                return short
        if error is not None:
            raise error
        return not short

    def binary(self, node: Binary) -> Any:
        if node.op in ("&&", "||"):
            return self.logic(node)
        left = node.left
        if type(left) is not Binary or left.op in ("&&", "||"):
            return self.operate(node, self.eval(left), self.eval(node.right))
        steps: list[Binary] = []
        base: Node = node
        while isinstance(base, Binary) and base.op not in ("&&", "||"):
            steps.append(base)  # a + b + c ...: a loop along the left spine
            base = base.left
        value = self.eval(base)
        for step in reversed(steps):
            value = self.operate(step, value, self.eval(step.right))
        return value

    def operate(self, node: Binary, a: Any, b: Any) -> Any:
        op = node.op
        literal = isinstance(node.left, Literal) or isinstance(node.right, Literal)
        charged = self.budget if self.body and not literal else None
        if op == "==":
            return equal(a, b, charged)
        if op == "!=":
            return not equal(a, b, charged)
        if op in _RELATIONS:
            return compare(op, a, b, charged)
        if op in _ARITH:
            return arith(op, a, b, self.budget)
        if op == "in":
            right = node.right
            if isinstance(right, ListLit) and all(isinstance(i, Literal) for i in right.items):
                return contains(a, b)
            return contains(a, b, self.budget if self.body else None)
        raise CelError(f"unknown operator {op}")

    def conditional(self, node: Conditional) -> Any:
        cond = self.eval(node.cond)
        if type(cond) is not bool:
            raise no_overload("_?_:_", cond)
        return self.eval(node.then if cond else node.otherwise)

    def call(self, node: Call) -> Any:
        has_target = node.target is not None
        target = self.eval(node.target) if node.target is not None else None
        if self.body and has_target and node.function in _SCANS and type(target) is str:
            self.budget.charge(len(target) // CHARS_PER_UNIT)
        args = [self.eval(arg) for arg in node.args]
        if self.body and not has_target and args:
            self._charge_call(node.function, args)
        pattern = self.patterns.get(id(node))
        if pattern is not None:
            subject = target if has_target else args[0]
            if type(subject) is str:
                return pattern_search(pattern, subject)
        elif self.body and node.function == "matches" and args and type(args[-1]) is str:
            # A computed pattern is compiled (or found in a bounded cache): one unit per
            # character. The fast path leaves computed patterns to the interpreter.
            self.budget.charge(len(args[-1]))
        return call_function(node.function, target, args, has_target, self.budget)

    def _charge_call(self, function: str, args: list[Any]) -> None:
        """A global call in a body: ``matches(s, p)`` scans ``s``; a conversion of a string
        or bytes (but ``string(s)``, which is ``s``) reads all of it."""
        first = args[0]
        scans = function in _SCANS or (function in _CONVERSIONS and type(first) is bytes)
        if function in _CONVERSIONS and type(first) is str and function != "string":
            scans = True
        if scans and type(first) in (str, bytes):
            self.budget.charge(len(first) // CHARS_PER_UNIT)

    # -- macros ---------------------------------------------------------------------------

    def comprehension(self, node: Comprehension) -> Any:
        target = self.eval(node.target)
        if type(target) is list:
            items: list[Any] = target
        elif type(target) is dict:
            items = [to_python_key(key) for key in target]
        else:
            raise no_overload(node.macro, target)
        units = self.weights.get(id(node))
        self.budget.charge(len(items) * (units if units is not None else weight(node)))
        env = self.env
        var = node.var
        missing = object()
        saved = env.get(var, missing)
        self.body += 1
        try:
            return _MACROS[node.macro](self, node, items)
        finally:
            self.body -= 1
            if saved is missing:
                env.pop(var, None)
            else:
                env[var] = saved

    def _test(self, predicate: Node, var: str, item: Any) -> bool:
        self.env[var] = item
        value = self.eval(predicate)
        if type(value) is not bool:
            raise no_overload("predicate", value)
        return value

    def quantifier(self, node: Comprehension, items: list[Any]) -> bool:
        """``all`` (decided by a false) and ``exists`` (decided by a true); an error is
        the result only when no element decides."""
        assert node.predicate is not None
        decisive = node.macro == "exists"
        error: CelError | None = None
        for item in items:
            try:
                if self._test(node.predicate, node.var, item) is decisive:
                    return decisive
            except CelError as exc:
                error = error or exc
        if error is not None:
            raise error
        return not decisive

    def exists_one(self, node: Comprehension, items: list[Any]) -> bool:
        assert node.predicate is not None
        count = 0
        for item in items:
            if self._test(node.predicate, node.var, item):
                count += 1
        return count == 1

    def map(self, node: Comprehension, items: list[Any]) -> list[Any]:
        assert node.transform is not None
        out = []
        for item in items:
            if node.predicate is not None and not self._test(node.predicate, node.var, item):
                continue
            self.env[node.var] = item
            out.append(self.eval(node.transform))
        return out

    def filter(self, node: Comprehension, items: list[Any]) -> list[Any]:
        assert node.predicate is not None
        return [item for item in items if self._test(node.predicate, node.var, item)]


_DISPATCH: Final[dict[type, Callable[[Evaluator, Any], Any]]] = {
    Literal: Evaluator.literal,
    Ident: Evaluator.ident,
    Select: Evaluator.select,
    Has: Evaluator.has,
    Index: Evaluator.index,
    Call: Evaluator.call,
    ListLit: Evaluator.list_lit,
    MapLit: Evaluator.map_lit,
    Unary: Evaluator.unary,
    Binary: Evaluator.binary,
    Conditional: Evaluator.conditional,
    Comprehension: Evaluator.comprehension,
}
_MACROS: Final[dict[str, Callable[[Evaluator, Comprehension, list[Any]], Any]]] = {
    "all": Evaluator.quantifier,
    "exists": Evaluator.quantifier,
    "exists_one": Evaluator.exists_one,
    "map": Evaluator.map,
    "filter": Evaluator.filter,
}


@dataclass(frozen=True, slots=True)
class Plan:
    """What is worked out once per expression, by node ``id`` (the tree must outlive it):
    its literal ``matches()`` patterns, compiled, and its comprehensions' weights."""

    patterns: dict[int, Pattern]
    weights: dict[int, int]


def prepare(node: Node) -> Plan:
    """The :class:`Plan` of ``node``. Raises :class:`InvalidPattern` on a bad literal pattern."""
    patterns: dict[int, Pattern] = {}
    weights: dict[int, int] = {}
    for item in walk(node):
        if isinstance(item, Comprehension):
            weights[id(item)] = weight(item)
        elif isinstance(item, Call) and item.function == "matches":
            arity = 1 if item.target is not None else 2
            if len(item.args) == arity:
                last = item.args[-1]
                if isinstance(last, Literal) and type(last.value) is str:
                    patterns[id(item)] = compile_pattern(last.value)
    return Plan(patterns, weights)


def evaluate(node: Node, env: Env, budget: Budget | None = None, plan: Plan | None = None) -> Any:
    """The value of ``node`` with variables ``env``; raises :class:`CelError` or
    :class:`BudgetExceeded`. ``plan`` is :func:`prepare`'s for ``node`` (else worked out as
    needed)."""
    try:
        return Evaluator(dict(env), budget, plan).eval(node)
    except RecursionError:
        raise CelError("expression nested too deeply to evaluate") from None
