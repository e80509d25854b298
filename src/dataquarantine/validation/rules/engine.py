"""CEL business rules of a contract, compiled once and evaluated per record.

Semantics. A rule holds iff its expression evaluates to boolean ``true``. ``false`` gives a
``rule_violation`` with the rule's message (or ``rule <id> failed: <expr>``), path and
severity. An evaluation *error* (no such key, no matching overload, a non-bool result,
division by zero, overflow, an exceeded cost budget, ...) gives a ``rule_violation`` whose
message reads ``rule <id> could not be evaluated: <reason>``, with the rule's severity -- but
only when the record passed its schema (``schema_valid=True``). When the schema already
rejected the record, rule errors are suppressed: a rule over a missing or mistyped field would
only restate the schema violation. ``false`` results are still reported. An identifier other
than ``record``, a comprehension variable or a type name is a compile error, as in a checked
CEL environment; so is a function CEL does not define.

Reference semantics are those of the CEL spec, implemented by our interpreter
(:mod:`.evaluator`); docs/contracts.md has the dialect table (how record values map to CEL
values, what is refused) and the cost budget (:mod:`.budget`).

The interpreter costs microseconds per node, so rules are also transpiled into one Python
function (the fast path). A rule that uses a construct without a translation always uses the
interpreter; a rule whose fast evaluation raises or yields anything but a bool is
re-evaluated by the interpreter for that record. The fast path decides only plain JSON values
and defers everything else, so the outcome never depends on the path taken. It counts the
cost budget exactly as the interpreter does, so a rule that goes over it on the fast path is
reported at once. (Values that no decoder produces, such as sets, are not looked for: a rule
that does not touch them may hold on the fast path where the interpreter would refuse the
whole record.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

from dataquarantine.contracts.model import RuleSpec
from dataquarantine.errors import RuleCompileError
from dataquarantine.kernel.results import ErrorCode, Violation
from dataquarantine.validation.rules.budget import COST_LIMIT, FAST, BudgetExceeded
from dataquarantine.validation.rules.expression import check
from dataquarantine.validation.rules.nodes import (
    Binary,
    Call,
    Comprehension,
    ListLit,
    Literal,
    Node,
    children,
    walk,
)
from dataquarantine.validation.rules.parser import CelSyntaxError, parse
from dataquarantine.validation.rules.reference import (
    EvalError,
    ReferenceProgram,
    Scope,
    cel_type_name,
)
from dataquarantine.validation.rules.transpiler import (
    RECORD_VAR,
    Transpiler,
    Unsupported,
    link,
)

__all__ = ["RuleSet"]

FastFn = Callable[[Any], tuple[tuple[int, Any], ...]]

#: The fast path's result for a rule that went over its cost budget.
OVER_BUDGET: Final = EvalError(str(BudgetExceeded()), over_budget=True)


def _counted(node: Node) -> bool:
    """Whether the fast path must keep a running count of the rule's cost. Not when its one
    comprehension is its only cost: no ``+`` anywhere and no charged operation in the body
    (comparing two computed values, ``in`` a computed list, a string method). Then the
    comprehension's own size check is the whole budget."""
    nodes = walk(node)
    comprehensions = [item for item in nodes if isinstance(item, Comprehension)]
    if len(comprehensions) != 1 or any(isinstance(i, Binary) and i.op == "+" for i in nodes):
        return len(comprehensions) > 0 or any(isinstance(i, Binary) and i.op == "+" for i in nodes)
    for item in (sub for part in children(comprehensions[0])[1:] for sub in walk(part)):
        if isinstance(item, Binary) and item.op in _COMPARISONS:
            right = item.right
            if item.op == "in":
                if not (
                    isinstance(right, ListLit) and all(isinstance(i, Literal) for i in right.items)
                ):
                    return True
            elif not (isinstance(item.left, Literal) or isinstance(right, Literal)):
                return True
        if isinstance(item, Call) and item.function in _SCANS:
            return True
    return False


_COMPARISONS: Final = frozenset({"==", "!=", "<", "<=", ">", ">=", "in"})
#: The string methods the fast path charges in a comprehension's body.
_SCANS: Final = frozenset({"contains", "startsWith", "endsWith", "matches"})


def _build(
    codes: dict[int, str],
    constants: dict[str, object],
    prelude: list[str],
    charging: frozenset[int],
) -> FastFn:
    body = [f"def _fast({RECORD_VAR}):", "    _f = ()"]
    for index, code in codes.items():
        if index in charging:
            body.append("    _FAST.left = _LIMIT")
        body += [
            "    try:",
            f"        _r = {code}",
            "    except _Over:",
            "        _r = _OVER",
            "    except Exception:",
            "        _r = None",
            "    if _r is not True:",
            f"        _f += (({index}, _r),)",
        ]
    body += ["    return _f", "return _fast"]
    fast: FastFn = link(constants, prelude, body)
    return fast


class RuleSet:
    """The compiled rules of one contract."""

    __slots__ = ("_fast", "_fast_ids", "_held", "_programs", "_slow", "_specs")

    def __init__(
        self,
        specs: tuple[RuleSpec, ...],
        programs: tuple[ReferenceProgram, ...],
        fast: FastFn,
        fast_indexes: tuple[int, ...],
    ) -> None:
        self._specs = specs
        self._programs = programs
        self._fast = fast
        self._fast_ids = tuple(specs[i].id for i in fast_indexes)
        self._slow = tuple(i for i in range(len(specs)) if i not in set(fast_indexes))
        self._held = tuple(
            Violation(
                code=ErrorCode.RULE_VIOLATION,
                path=spec.path,
                message=spec.message or f"rule {spec.id} failed: {spec.expr}",
                rule=spec.id,
                severity=spec.severity,
            )
            for spec in specs
        )

    @classmethod
    def compile(cls, rules: Sequence[RuleSpec], *, source: str | None = None) -> RuleSet:
        """Compile ``rules``; raise :class:`RuleCompileError` naming the rule on a CEL syntax
        error, a reference to anything but ``record`` (and comprehension variables and type
        names) or an unknown function."""
        specs = tuple(rules)
        programs: list[ReferenceProgram] = []
        codes: dict[int, str] = {}
        preludes: dict[int, list[str]] = {}
        constants: dict[str, object] = {"_OVER": OVER_BUDGET, "_FAST": FAST, "_LIMIT": COST_LIMIT}
        charging: set[int] = set()
        for index, spec in enumerate(specs):
            try:
                node = parse(spec.expr)
            except CelSyntaxError as exc:
                raise RuleCompileError(
                    f"rule {spec.id!r}: syntax error: {exc}", source=source
                ) from exc
            problem = check(node)
            if problem is not None:
                raise RuleCompileError(f"rule {spec.id!r}: {problem}", source=source)
            programs.append(ReferenceProgram(node))
            counted = _counted(node)
            if counted:
                charging.add(index)
            try:
                transpiler = Transpiler(constants, prefix=str(index), counted=counted)
                codes[index] = transpiler.emit(node).src
                preludes[index] = transpiler.prelude
            except (Unsupported, RecursionError):
                continue
        fast = cls._link(codes, preludes, constants, frozenset(charging))
        return cls(specs, tuple(programs), fast, tuple(codes))

    @staticmethod
    def _link(
        codes: dict[int, str],
        preludes: dict[int, list[str]],
        constants: dict[str, object],
        charging: frozenset[int],
    ) -> FastFn:
        def prelude(indexes: Iterable[int]) -> list[str]:
            return [line for i in indexes for line in preludes[i]]

        try:
            return _build(codes, constants, prelude(codes), charging)
        except (SyntaxError, RecursionError, MemoryError, ValueError):
            pass
        # Some rule is too deeply nested for Python's compiler: drop those, keep the others.
        for index in list(codes):
            try:
                _build({index: codes[index]}, constants, prelude([index]), charging)
            except (SyntaxError, RecursionError, MemoryError, ValueError):
                del codes[index]
        return _build(codes, constants, prelude(codes), charging)

    def __reduce__(self) -> tuple[Any, ...]:
        # The generated function cannot be pickled; a worker process recompiles the specs.
        return (RuleSet.compile, (self._specs,))

    def __len__(self) -> int:
        return len(self._specs)

    def __repr__(self) -> str:
        return f"RuleSet({len(self._specs)} rules, {len(self._fast_ids)} on the fast path)"

    @property
    def fast_path_rules(self) -> tuple[str, ...]:
        """Ids of the rules compiled to the fast path (the others always use the interpreter)."""
        return self._fast_ids

    @property
    def hot_check(self) -> Callable[[Any], Any]:
        """The cheapest check for the hot path: falsy when every rule holds.

        The compiled fast function itself when every rule is on the fast path, else
        :meth:`evaluate`. A truthy answer means: call :meth:`evaluate` for the violations."""
        return self._fast if not self._slow else self.evaluate

    def evaluate(self, record: Any, *, schema_valid: bool = True) -> tuple[Violation, ...]:
        """The violations of ``record``, in rule order; ``()`` when every rule holds."""
        failed = self._fast(record)
        if not failed and not self._slow:
            return ()
        return self._settle(record, failed, schema_valid)

    def _settle(
        self, record: Any, failed: tuple[tuple[int, Any], ...], schema_valid: bool
    ) -> tuple[Violation, ...]:
        held = self._held
        if not self._slow and all(value is False for _, value in failed):
            return tuple([held[index] for index, _ in failed])  # already in rule order
        found: list[tuple[int, Violation]] = []
        pending: list[int] = []
        for index, value in failed:
            if value is False:
                found.append((index, held[index]))
            elif value is OVER_BUDGET:
                violation = self._judge(index, value, schema_valid)
                if violation is not None:
                    found.append((index, violation))
            else:
                pending.append(index)
        scope = Scope(record)  # converts the record once, on first use, for all rules
        for index in (*pending, *self._slow):
            violation = self._judge(index, self._programs[index].run(scope), schema_valid)
            if violation is not None:
                found.append((index, violation))
        found.sort(key=lambda item: item[0])
        return tuple(violation for _, violation in found)

    def _judge(self, index: int, result: Any, schema_valid: bool) -> Violation | None:
        if result is True:
            return None
        if result is False:
            return self._held[index]
        if not schema_valid:
            return None
        if isinstance(result, EvalError):
            reason = result.reason
        else:
            reason = f"the result is {cel_type_name(result)}, not bool"
        spec = self._specs[index]
        return Violation(
            code=ErrorCode.RULE_VIOLATION,
            path=spec.path,
            message=f"rule {spec.id} could not be evaluated: {reason}",
            rule=spec.id,
            severity=spec.severity,
        )
