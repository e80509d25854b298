"""Transpile a CEL syntax tree into one Python expression (the fast path).

The generated expression evaluates to exactly the value the reference interpreter returns, or
raises (any exception) when the fast path cannot decide; the caller then asks the interpreter.
Common operations are emitted inline behind ``type(x) is T`` guards (bool is not an int in
CEL); everything else calls the helpers of :mod:`.runtime`. Constructs without a translation
raise :class:`Unsupported` at compile time and the whole rule keeps the reference evaluator.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from types import CodeType
from typing import Any, Final
from typing import Literal as TypingLiteral

from dataquarantine.validation.rules.budget import COST_LIMIT, FAST, weight
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
    free_identifiers,
)
from dataquarantine.validation.rules.regex import UNANCHORED, InvalidPattern, compile_pattern
from dataquarantine.validation.rules.runtime import HELPERS

__all__ = [
    "RECORD_VAR",
    "Transpiler",
    "Unsupported",
    "compile_expression",
    "compile_source",
    "link",
]

RECORD_VAR: Final = "v_record"
#: Literal numbers below this magnitude compare with any decoded number as the interpreter
#: does (which turns ints beyond 2**64 into doubles).
SMALL: Final = 2**52

Type = TypingLiteral["bool", "int", "double", "string", "null", "list", "map", "dyn"]

_NO_CONST: Final = object()
_REL_HELPER = {"<": "_lt", "<=": "_le", ">": "_gt", ">=": "_ge"}
_ARITH_HELPER = {"+": "_add", "-": "_sub", "*": "_mul", "/": "_div", "%": "_mod"}
_CONVERSIONS: dict[str, tuple[str, Type]] = {
    "int": ("_to_int", "int"),
    "double": ("_to_double", "double"),
    "string": ("_to_string", "string"),
}
_STRING_METHODS = {"startsWith": "_starts", "endsWith": "_ends", "contains": "_contains"}


class Unsupported(Exception):
    """The construct has no fast-path translation."""


@dataclass(frozen=True, slots=True)
class Code:
    """A Python expression that is safe to use as an operand (an atom or parenthesised)."""

    src: str
    type: Type = "dyn"
    const: object = _NO_CONST
    #: A plain name: reading it twice costs nothing and needs no temporary.
    simple: bool = False

    def __str__(self) -> str:
        return self.src


def _small_number(code: Code) -> bool:
    value = code.const
    return (
        type(value) in (int, float)
        and not math.isnan(value)  # type: ignore[arg-type]
        and abs(value) < SMALL  # type: ignore[arg-type]
    )


class Transpiler:
    """Turns nodes into :class:`Code`; collects the constants the code refers to."""

    def __init__(
        self, constants: dict[str, object], prefix: str = "", counted: bool = True
    ) -> None:
        self.constants = constants
        self.prefix = prefix
        #: Whether comprehensions charge the thread's budget; ``False`` for a rule whose one
        #: comprehension is its only cost (it then only checks its own size: no reset needed).
        self.counted = counted
        self.counter = 0
        self.scope: dict[str, str] = {"record": RECORD_VAR}
        #: Definitions made once per compiled module (see :meth:`function`).
        self.prelude: list[str] = []
        #: How many comprehension bodies enclose the node being emitted: there, operations
        #: whose work grows with their operands are charged to the budget.
        self.body = 0

    # -- plumbing -------------------------------------------------------------------------

    def temp(self) -> str:
        self.counter += 1
        return f"_t{self.prefix}_{self.counter}"

    def const(self, value: object) -> str:
        name = f"_c{len(self.constants)}"
        self.constants[name] = value
        return name

    def function(self, var: str, body: Node, code: Code) -> str:
        """A ``lambda v_<var>: code``; defined once per module when it needs nothing but its
        argument (building a closure per record costs more than the rule's check)."""
        src = f"lambda v_{var}: {code}"
        if free_identifiers(body, frozenset({var})):
            return f"({src})"
        name = f"_l{self.prefix}_{len(self.prelude)}"
        self.prelude.append(f"{name} = {src}")
        return name

    def bind(self, code: Code) -> tuple[str, str]:
        """``(first, name)``: evaluate ``first`` once, then read ``name``."""
        if code.simple:
            return code.src, code.src
        name = self.temp()
        return f"({name} := {code.src})", name

    def as_bool(self, code: Code) -> Code:
        if code.type == "bool":
            return code
        first, name = self.bind(code)
        return Code(f"({name} if type({first}) is bool else _fail())", "bool")

    # -- nodes ----------------------------------------------------------------------------

    def emit(self, node: Node) -> Code:
        match node:
            case Literal():
                return self.literal(node)
            case Ident(name):
                return self.ident(name)
            case Select(operand, field):
                return Code(f"{self.emit(operand)}[{field!r}]")
            case Has(operand, field):
                first, name = self.bind(self.emit(operand))
                return Code(f"({field!r} in {name} if type({first}) is dict else _fail())", "bool")
            case Index(operand, index):
                return self.index(self.emit(operand), self.emit(index))
            case Call():
                return self.call(node)
            case ListLit(items):
                return Code("[" + ", ".join(str(self.emit(i)) for i in items) + "]", "list")
            case MapLit(entries):
                return self.map_literal(entries)
            case Unary(op, operand):
                return self.unary(op, operand)
            case Binary(op, left, right):
                return self.binary(op, left, right)
            case Conditional(cond, then, otherwise):
                c = self.as_bool(self.emit(cond))
                t = self.emit(then)
                f = self.emit(otherwise)
                return Code(f"({t} if {c} else {f})", t.type if t.type == f.type else "dyn")
            case Comprehension():
                return self.comprehension(node)
        raise Unsupported(type(node).__name__)

    def ident(self, name: str) -> Code:
        if name not in self.scope:
            raise Unsupported(f"identifier {name}")
        return Code(self.scope[name], simple=True)

    def unary(self, op: str, operand: Node) -> Code:
        if op == "!":
            inner = self.emit(operand)
            if inner.type == "bool":
                return Code(f"(not {inner})", "bool")
            return Code(f"_not({inner})", "bool")
        if op == "-":
            inner = self.emit(operand)
            if inner.type == "double":
                return Code(f"(-{inner})", "double")
            return Code(f"_neg({inner})", "int" if inner.type == "int" else "dyn")
        raise Unsupported(Unary.__name__)

    def literal(self, node: Literal) -> Code:
        value = node.value
        match node.kind:
            case "int":
                return Code(f"({value!r})", "int", value)
            case "double":
                assert isinstance(value, float)
                if not math.isfinite(value):
                    raise Unsupported("non-finite double literal")
                return Code(f"({value!r})", "double", value)
            case "string":
                return Code(repr(value), "string", value)
            case "bool":
                return Code(repr(value), "bool", value)
            case "null":
                return Code("None", "null", None)
        raise Unsupported(f"{node.kind} literal")

    def index(self, operand: Code, index: Code) -> Code:
        if index.type == "string":
            return Code(f"{operand}[{index}]")  # only a mapping accepts a str subscript
        if isinstance(index.const, int) and index.type == "int" and index.const >= 0:
            first, name = self.bind(operand)
            return Code(f"({name}[{index}] if type({first}) is list else _index({name}, {index}))")
        return Code(f"_index({operand}, {index})")

    def map_literal(self, entries: tuple[tuple[Node, Node], ...]) -> Code:
        parts = []
        seen: set[object] = set()
        for key, value in entries:
            if not (isinstance(key, Literal) and key.kind == "string"):
                raise Unsupported("map literal with a non-string key")
            if key.value in seen:
                raise Unsupported("map literal with a repeated key (an error)")
            seen.add(key.value)
            parts.append(f"{key.value!r}: {self.emit(value)}")
        return Code("{" + ", ".join(parts) + "}", "map")

    # -- operators ------------------------------------------------------------------------

    def binary(self, op: str, left: Node, right: Node) -> Code:
        if op in ("&&", "||"):
            a = self.as_bool(self.emit(left))
            b = self.as_bool(self.emit(right))
            return Code(f"({a} {'and' if op == '&&' else 'or'} {b})", "bool")
        if op == "in":
            return self.membership(self.emit(left), right)
        a = self.emit(left)
        b = self.emit(right)
        # In a comprehension's body, comparing two computed values is charged (see budget.py).
        charged = self.body > 0 and not (isinstance(left, Literal) or isinstance(right, Literal))
        if op in ("==", "!="):
            if charged:
                return Code(f"{'_nec' if op == '!=' else '_eqc'}({a}, {b})", "bool")
            return self.equality(op, a, b)
        if op in _REL_HELPER:
            if charged:
                return Code(f"_relc({_REL_HELPER[op]}, {a}, {b})", "bool")
            return self.relation(op, a, b)
        helper = _ARITH_HELPER.get(op)
        if helper is None:
            raise Unsupported(op)
        if a.type == b.type == "double" and op in "+-*":
            return Code(f"({a} {op} {b})", "double")
        if a.type == b.type and a.type in ("string", "list") and op == "+":
            return Code(f"_cat({a}, {b})", a.type)
        typed: Type = "int" if a.type == b.type == "int" else "dyn"
        return Code(f"{helper}({a}, {b})", typed)

    def equality(self, op: str, a: Code, b: Code) -> Code:
        negate = op == "!="
        for lit, other in ((b, a), (a, b)):
            if lit.type == "null":
                return Code(f"({other} is {'not ' if negate else ''}None)", "bool")
            if lit.type == "bool" and lit.const is not _NO_CONST:
                return Code(f"({other} is {'not ' if negate else ''}{lit})", "bool")
        if a.type == b.type and a.type in ("int", "string", "bool"):
            return Code(f"({a} {op} {b})", "bool")
        for lit, other in ((b, a), (a, b)):
            if lit.type == "string" and lit.const is not _NO_CONST:
                guard = "str"
            elif lit.type == "int" and _small_number(lit):
                guard = "int"
            elif lit.type == "double" and _small_number(lit):
                guard = "float"
            else:
                continue
            first, name = self.bind(other)
            slow = f"{'_ne' if negate else '_eq'}({name}, {lit})"
            return Code(f"({name} {op} {lit} if type({first}) is {guard} else {slow})", "bool")
        return Code(f"{'_ne' if negate else '_eq'}({a}, {b})", "bool")

    def relation(self, op: str, a: Code, b: Code) -> Code:
        helper = _REL_HELPER[op]
        if a.type == b.type and a.type in ("int", "string"):
            return Code(f"({a} {op} {b})", "bool")
        for lit, other, lit_right in ((b, a, True), (a, b, False)):
            if _small_number(lit):
                if other.type == "int":
                    return Code(f"({a} {op} {b})", "bool")
                first, name = self.bind(other)
                # NaN goes to the helper: the reference refuses to order it.
                guard = f"type({first}) is int or type({name}) is float and {name} == {name}"
            elif lit.type == "string" and lit.const is not _NO_CONST:
                first, name = self.bind(other)
                guard = f"type({first}) is str"
            else:
                continue
            pair = f"{name} {op} {lit}" if lit_right else f"{lit} {op} {name}"
            args = f"{name}, {lit}" if lit_right else f"{lit}, {name}"
            return Code(f"({pair} if {guard} else {helper}({args}))", "bool")
        return Code(f"{helper}({a}, {b})", "bool")

    def membership(self, element: Code, container: Node) -> Code:
        literal = isinstance(container, ListLit) and all(
            isinstance(i, Literal) for i in container.items
        )
        if self.body > 0 and not literal:
            return Code(f"_inc({element}, {self.emit(container)})", "bool")
        if isinstance(container, ListLit) and all(
            isinstance(i, Literal) and i.kind in ("string", "int") for i in container.items
        ):
            values = [i.value for i in container.items if isinstance(i, Literal)]
            kinds = {type(v) for v in values}
            small = all(isinstance(v, str) or abs(v) < SMALL for v in values)  # type: ignore[arg-type]
            if len(kinds) == 1 and small:
                guard = "str" if kinds == {str} else "int"
                members = self.const(frozenset(values))
                if element.type == ("string" if guard == "str" else "int"):
                    return Code(f"({element} in {members})", "bool")
                listed = self.const(list(values))
                first, name = self.bind(element)
                return Code(
                    f"({name} in {members} if type({first}) is {guard} else _in({name}, {listed}))",
                    "bool",
                )
        return Code(f"_in({element}, {self.emit(container)})", "bool")

    # -- calls ----------------------------------------------------------------------------

    def call(self, node: Call) -> Code:
        fn, args, target = node.function, node.args, node.target
        if fn == "size" and (
            (target is None and len(args) == 1) or (target is not None and not args)
        ):
            return self.size(self.emit(target if target is not None else args[0]))
        if target is None and len(args) == 1:
            if fn in _CONVERSIONS:
                helper, typed = _CONVERSIONS[fn]
                return Code(f"{helper}({self.emit(args[0])})", typed)
            if fn == "dyn":
                return self.emit(args[0])
        if target is not None and len(args) == 1:
            if fn in _STRING_METHODS:
                return self.string_method(fn, self.emit(target), self.emit(args[0]))
            if fn == "matches":
                return self.matches(self.emit(target), args[0])
        raise Unsupported(f"function {fn}")

    def size(self, operand: Code) -> Code:
        if operand.type in ("list", "map"):
            return Code(f"len({operand})", "int")
        first, name = self.bind(operand)
        return Code(
            f"(len({name}) if type({first}) is str or type({name}) is list else _size({name}))",
            "int",
        )

    def string_method(self, fn: str, target: Code, arg: Code) -> Code:
        first, name = self.bind(target)
        scan = f"_scan({name}) or " if self.body > 0 else ""
        if arg.type != "string":
            if not scan:
                return Code(f"{_STRING_METHODS[fn]}({first}, {arg})", "bool")
            return Code(f"(_scan({first}) or {_STRING_METHODS[fn]}({name}, {arg}))", "bool")
        if fn == "contains":
            test = f"{arg} in {name}"
        else:
            test = f"{name}.{'startswith' if fn == 'startsWith' else 'endswith'}({arg})"
        return Code(f"({scan}{test} if type({first}) is str else _fail())", "bool")

    def matches(self, target: Code, pattern: Node) -> Code:
        if not (isinstance(pattern, Literal) and isinstance(pattern.value, str)):
            raise Unsupported("matches() with a computed pattern")
        try:
            compiled = compile_pattern(pattern.value)
        except InvalidPattern as exc:
            raise Unsupported("an invalid pattern (an evaluation error)") from exc
        match = self.const(compiled.match)
        anchor = self.const(UNANCHORED)
        first, name = self.bind(target)
        data = self.temp()
        test = f"{match}({anchor}, ({data} := {name}.encode()), 0, len({data}))[0][0] >= 0"
        scan = f"_scan({name}) or " if self.body > 0 else ""
        return Code(f"({scan}{test} if type({first}) is str else _fail())", "bool")

    def comprehension(self, node: Comprehension) -> Code:
        target = self.emit(node.target)
        var = f"v_{node.var}"
        saved = self.scope.get(node.var)
        self.scope[node.var] = var
        self.body += 1
        try:
            pred = self.as_bool(self.emit(node.predicate)) if node.predicate is not None else None
            transform = self.emit(node.transform) if node.transform is not None else None
        finally:
            self.body -= 1
            if saved is None:
                del self.scope[node.var]
            else:
                self.scope[node.var] = saved
        macro, var = node.macro, node.var
        flag = f", {weight(node)}" + ("" if self.counted else ", False")
        pred_fn = None
        if node.predicate is not None and pred is not None:
            pred_fn = self.function(var, node.predicate, pred)
        if macro == "map":
            assert node.transform is not None and transform is not None
            map_fn = self.function(var, node.transform, transform)
            if pred_fn is None:
                return Code(f"_map({target}, {map_fn}{flag})", "list")
            return Code(f"_map_filter({target}, {pred_fn}, {map_fn}{flag})", "list")
        assert pred_fn is not None
        if macro == "filter":
            return Code(f"_filter({target}, {pred_fn}{flag})", "list")
        return Code(f"_{macro}({target}, {pred_fn}{flag})", "bool")


def compile_source(src: str, filename: str) -> CodeType:
    """Compile generated source. Constant operands (``1 is not None``, ``1.5['a']``) are
    legitimate CEL errors to be raised at run time, so the compiler's warnings are muted."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        return compile(src, filename, "exec")


def link(constants: dict[str, object], prelude: list[str], body: list[str]) -> Any:
    """Compile ``body`` (statements ending in a ``return``) inside a factory whose locals are
    the helpers, the constants and the prelude, and return what it returns."""
    names = [*HELPERS, *constants]
    lines = [f"def _make({', '.join(names)}):"]
    lines += ["    " + line for line in (*prelude, *body)]
    namespace: dict[str, Any] = {}
    # The source is generated from our own syntax tree: names are ours, values are repr()'d.
    exec(compile_source("\n".join(lines) + "\n", "<cel rules>"), namespace)  # noqa: S102
    return namespace["_make"](*HELPERS.values(), *constants.values())


def compile_expression(node: Node) -> Callable[[Any], Any]:
    """A Python function ``record -> value`` for one expression (raises to fall back).

    Used by tests and tools; :class:`~.engine.RuleSet` compiles all its rules into one.
    """
    constants: dict[str, object] = {"_FAST": FAST, "_LIMIT": COST_LIMIT}
    transpiler = Transpiler(constants)
    code = transpiler.emit(node)
    body = [f"def _one({RECORD_VAR}):", "    _FAST.left = _LIMIT", f"    return {code}"]
    fn: Callable[[Any], Any] = link(constants, transpiler.prelude, [*body, "return _one"])
    return fn
