"""A bulk fix: an ordered list of steps applied to a quarantined record's JSON value.

A step is one of:

* a remediation action of the contract vocabulary at a path: ``{action: e164_phone, path:
  /phone, region: FR}`` (``trim``, ``lowercase``, ``uppercase``, ``coerce_int``,
  ``coerce_float``, ``e164_phone``, ``iso_timestamp``, ``default``, ``rename``; the options are
  those of a contract's ``remediation:`` rule);
* a JSON Patch (RFC 6902) operation: ``{op: replace, path: /status, value: active}``;
* a CEL expression over ``record`` that computes a field's new value: ``{set: /amount, expr:
  record.amount / 100}``. It runs under the cost budget of a rule; a timestamp or duration
  result is stored as its string form.

Paths may use the wildcard ``*`` over array items (:mod:`.patch`); a CEL step's path may not
(its expression sees the whole record, not the item). Steps run in order, each on the result
of the previous one. A record where any step errors is left as it was (all or nothing).
Pure: no storage access.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from pydantic import ValidationError

from dataquarantine.contracts.model import RemediationSpec
from dataquarantine.errors import FixDefinitionError, RuleCompileError, RuleEvaluationError
from dataquarantine.kernel import pointers
from dataquarantine.kernel.revisions import FieldChange
from dataquarantine.remediation.engine import Remediator
from dataquarantine.remediation.patch import (
    WILDCARD,
    PatchError,
    PatchOp,
    PatchOpName,
    WildPath,
    apply_op,
    expand,
    get,
    parse_path,
)
from dataquarantine.validation.rules import BoolKey, Duration, Expression, Timestamp
from dataquarantine.validation.rules.values import format_duration, format_timestamp

__all__ = [
    "ActionStep",
    "CelStep",
    "Fix",
    "FixResult",
    "PatchStep",
    "Step",
    "StepError",
    "parse_fix",
]

_OPS: Final = ("add", "remove", "replace", "move", "copy", "test")
#: The longest CEL expression a step may have.
MAX_EXPR_CHARS: Final = 10_000
_MISSING: Final = object()


@dataclass(frozen=True, slots=True)
class ActionStep:
    """A remediation action at a (possibly wildcard) path."""

    spec: RemediationSpec
    path: WildPath
    #: The compiled action per concrete pointer (a wildcard path matches several).
    compiled: dict[str, Remediator] = field(default_factory=dict, compare=False, repr=False)

    def describe(self) -> dict[str, Any]:
        data = self.spec.model_dump(exclude_defaults=True, by_alias=True, exclude={"field"})
        return {**data, "path": str(self.path)}

    @property
    def label(self) -> str:
        return self.spec.action

    def apply(self, value: Any) -> tuple[Any, list[FieldChange]]:
        changes: list[FieldChange] = []
        for tokens in list(expand(value, self.path)):
            pointer = pointers.join(tokens)
            remediator = self.compiled.get(pointer)
            if remediator is None:
                if len(self.compiled) > 4096:
                    self.compiled.clear()
                remediator = Remediator([self.spec.model_copy(update={"field": pointer})])
                self.compiled[pointer] = remediator
            applied = remediator.apply_value(value)
            if applied.failures:
                raise PatchError(applied.failures[0].reason)
            value = applied.value
            changes.extend(applied.changes)
        return value, changes


@dataclass(frozen=True, slots=True)
class PatchStep:
    """A JSON Patch operation; a wildcard in ``from`` takes the indexes matched in ``path``."""

    op: PatchOpName
    path: WildPath
    value: Any = None
    from_: WildPath | None = None

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": self.op, "path": str(self.path)}
        if self.op in ("add", "replace", "test"):
            out["value"] = self.value
        if self.from_ is not None:
            out["from"] = str(self.from_)
        return out

    @property
    def label(self) -> str:
        return f"patch:{self.op}"

    def _concrete(self, value: Any) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
        if self.from_ is None:
            missing_ok = self.op == "add"
            return [(t, ()) for t in expand(value, self.path, leaf_may_be_missing=missing_ok)]
        pairs = []
        for source in expand(value, self.from_, leaf_may_be_missing=False):
            indexes = iter(
                s for s, w in zip(source, self.from_.tokens, strict=True) if w == WILDCARD
            )
            target = tuple(next(indexes) if t == WILDCARD else t for t in self.path.tokens)
            pairs.append((target, source))
        return pairs

    def apply(self, value: Any) -> tuple[Any, list[FieldChange]]:
        changes: list[FieldChange] = []
        pairs = self._concrete(value)
        if not pairs and not (self.path.wildcards or (self.from_ and self.from_.wildcards)):
            raise PatchError(f"{self.path} does not exist")
        # removals and moves from the end, so the indexes still matched stay valid
        if self.op in ("remove", "move"):
            pairs.reverse()
        for target, source in pairs:
            before = _at(value, target)
            moved = _at(value, source) if source else _MISSING
            value = apply_op(value, PatchOp(self.op, target, self.value, source))
            if self.op == "test":
                continue
            if source and self.op == "move":
                changes.append(FieldChange(pointers.join(source), self.label, moved, None))
            if self.op == "remove":
                changes.append(FieldChange(pointers.join(target), self.label, before, None))
                continue
            after = _at(value, target)
            if before is _MISSING or type(before) is not type(after) or before != after:
                existed = before is not _MISSING
                old = before if existed else None
                changes.append(FieldChange(pointers.join(target), self.label, old, after, existed))
        return value, changes


def _at(value: Any, tokens: tuple[str, ...]) -> Any:
    try:
        return get(value, tokens)
    except PatchError:
        return _MISSING


@dataclass(frozen=True, slots=True)
class CelStep:
    """``path`` set to the value of a CEL expression over ``record`` (created when missing)."""

    path: WildPath
    expression: Expression

    def describe(self) -> dict[str, Any]:
        return {"set": str(self.path), "expr": self.expression.source}

    @property
    def label(self) -> str:
        return "cel"

    def apply(self, value: Any) -> tuple[Any, list[FieldChange]]:
        try:
            new = _json(self.expression.evaluate(value))
        except RuleEvaluationError as exc:
            raise PatchError(f"{self.expression.source}: {exc}") from None
        before = _at(value, self.path.tokens)
        if before is not _MISSING and type(before) is type(new) and before == new:
            return value, []
        value = apply_op(value, PatchOp("add", self.path.tokens, new))
        existed = before is not _MISSING
        change = FieldChange(str(self.path), self.label, before if existed else None, new, existed)
        return value, [change]


def _json(value: Any) -> Any:
    """A CEL value as JSON: a uint as its number, a timestamp or duration as its text."""
    if type(value) is Timestamp:
        return format_timestamp(value)
    if type(value) is Duration:
        return format_duration(value)
    if isinstance(value, bytes):
        raise RuleEvaluationError("a bytes value has no JSON form")
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    if type(value) is list:
        return [_json(v) for v in value]
    if type(value) is dict:
        return {_key(k): _json(v) for k, v in value.items()}
    if value is None or isinstance(value, bool | str | float):
        return value
    raise RuleEvaluationError(f"a {type(value).__name__} value has no JSON form")


def _key(key: object) -> str:
    if isinstance(key, BoolKey):
        return "true" if key.value else "false"
    return str(key)


Step = ActionStep | PatchStep | CelStep


@dataclass(frozen=True, slots=True)
class StepError:
    """Step ``index`` (from 0) errored on a record."""

    index: int
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.index, "message": self.message}


@dataclass(frozen=True, slots=True)
class FixResult:
    """A fix applied to one value: the new value (the input when nothing changed or a step
    errored), the changes in order, and the step error, if any."""

    value: Any
    changes: tuple[FieldChange, ...]
    error: StepError | None = None

    @property
    def changed(self) -> bool:
        return bool(self.changes) and self.error is None


@dataclass(frozen=True, slots=True)
class Fix:
    """The parsed steps of a fix; :meth:`apply` is pure and thread-safe."""

    steps: tuple[Step, ...]

    def apply(self, value: Any) -> FixResult:
        changes: list[FieldChange] = []
        current = value
        for i, step in enumerate(self.steps):
            try:
                current, made = step.apply(current)
            except PatchError as exc:
                return FixResult(value, (), StepError(i, str(exc)))
            changes.extend(made)
        return FixResult(current, tuple(changes))

    def describe(self) -> list[dict[str, Any]]:
        """The steps as data again (what :func:`parse_fix` reads)."""
        return [s.describe() for s in self.steps]

    def remediation_rules(self) -> list[RemediationSpec]:
        """The steps as a contract's ``remediation:`` rules; raises
        :class:`FixDefinitionError` naming the steps that have no such form."""
        rules: list[RemediationSpec] = []
        refused: list[str] = []
        for i, step in enumerate(self.steps):
            if isinstance(step, ActionStep) and not step.path.wildcards:
                rules.append(step.spec.model_copy(update={"field": str(step.path)}))
            elif (
                isinstance(step, PatchStep)
                and step.op == "move"
                and step.from_ is not None
                and not step.from_.wildcards
                and not step.path.wildcards
            ):
                rules.append(
                    RemediationSpec(field=str(step.from_), action="rename", to=str(step.path))
                )
            else:
                refused.append(f"step {i + 1} ({step.label})")
        if refused:
            raise FixDefinitionError(
                "a remediation rule is an action on one field or a move without wildcard; "
                + ", ".join(refused)
                + " cannot become one"
            )
        return rules


def parse_fix(steps: Sequence[Any]) -> Fix:
    """Parse steps (decoded YAML or JSON); :class:`FixDefinitionError` names the bad step."""
    if not isinstance(steps, Sequence) or isinstance(steps, str | bytes) or not steps:
        raise FixDefinitionError("a fix needs a non-empty list of steps")
    return Fix(tuple(_parse_step(i, s) for i, s in enumerate(steps)))


def _parse_step(i: int, raw: Any) -> Step:
    where = f"step {i + 1}"
    if not isinstance(raw, Mapping):
        raise FixDefinitionError(f"{where}: a step is a mapping, not {type(raw).__name__}")
    data = dict(raw)
    kinds = [k for k in ("action", "op", "set") if k in data]
    if len(kinds) != 1:
        raise FixDefinitionError(f"{where}: give exactly one of 'action', 'op' or 'set'")
    try:
        if kinds[0] == "action":
            return _action(data)
        if kinds[0] == "op":
            return _patch(data)
        return _cel(data)
    except (ValidationError, RuleCompileError, ValueError, TypeError) as exc:
        raise FixDefinitionError(f"{where}: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'step'}: {e['msg']}" for e in exc.errors()
        )
    return str(exc)


def _path(data: dict[str, Any], key: str = "path") -> WildPath:
    path = data.pop(key, None)
    if not isinstance(path, str):
        raise ValueError(f"'{key}' must be a path such as /phone or /items/*/phone")
    return parse_path(path)


def _action(data: dict[str, Any]) -> ActionStep:
    path = _path(data)
    if not path.tokens:
        raise ValueError("an action needs a field, not the whole record")
    spec = RemediationSpec.model_validate({**data, "field": str(path)})
    return ActionStep(spec, path)


def _patch(data: dict[str, Any]) -> PatchStep:
    op = data.pop("op")
    if op not in _OPS:
        raise ValueError(f"unknown JSON Patch op {op!r} (one of {', '.join(_OPS)})")
    path = _path(data)
    has_value = "value" in data
    value = data.pop("value", None)
    from_ = _path(data, "from") if op in ("move", "copy") else None
    if op in ("add", "replace", "test") and not has_value:
        raise ValueError(f"op {op!r} needs 'value'")
    if data:
        raise ValueError(f"unknown field(s) for op {op!r}: {', '.join(sorted(data))}")
    if from_ is not None and from_.wildcards != path.wildcards:
        raise ValueError("'from' and 'path' must have the same number of wildcards")
    if from_ is None and op != "test" and not path.tokens and op != "replace":
        raise ValueError(f"op {op!r} needs a path below the root")
    return PatchStep(op, path, value, from_)


def _cel(data: dict[str, Any]) -> CelStep:
    path = _path(data, "set")
    expr = data.pop("expr", None)
    if not isinstance(expr, str) or not expr.strip():
        raise ValueError("'set' needs 'expr', a CEL expression over record")
    if len(expr) > MAX_EXPR_CHARS:
        raise ValueError(f"'expr' is longer than {MAX_EXPR_CHARS} characters")
    if data:
        raise ValueError(f"unknown field(s) for 'set': {', '.join(sorted(data))}")
    if path.wildcards or not path.tokens:
        raise ValueError("the path of 'set' must name one field (no wildcard)")
    return CelStep(path, Expression(expr))
