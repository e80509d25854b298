"""The remediation engine: a contract's ``remediation:`` rules compiled into one applier.

Rules run in the contract's order, each on the result of the previous one (``trim`` then
``e164_phone`` on the same field works). Fields are addressed as in the rest of the contract:
dotted (``customer.phone``) or JSON Pointer (``/customer/phone``; array indexes are numbers).

Semantics of a rule on its field:

* value fixes (``trim``, ``lowercase``, ``uppercase``, ``coerce_int``, ``coerce_float``,
  ``e164_phone``, ``iso_timestamp``): a missing field, or a value of a kind the action does not
  read, is left alone and nothing is recorded. A value the action reads but cannot fix (a text
  that is no phone number) is left as it was and recorded as a *failure* (not a change);
* ``default``: sets ``value`` when the field is missing (``null`` is a value and is kept);
  missing parent objects are created; a parent that is not an object is a failure;
* ``rename``: moves the value to ``to`` when the field exists; if ``to`` already exists both
  are left as they were and it is a failure. Recorded as two changes: the removal (old value,
  ``new: null``) and the addition (``existed_before: false``).

The input value is never modified: the containers on a changed path are copied.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import msgspec

from dataquarantine.contracts.model import RemediationSpec, field_parts
from dataquarantine.kernel.revisions import FieldChange
from dataquarantine.remediation import scalars
from dataquarantine.remediation.scalars import FAIL, SKIP, Fix
from dataquarantine.remediation.timestamps import iso_timestamp
from dataquarantine.validation.base import DecodeFailure
from dataquarantine.validation.parsing import parse_json

__all__ = ["ActionFailure", "ActionOutcome", "Applied", "Remediator", "encode"]

_MISSING: Final = object()
_SIMPLE: Final[dict[str, Fix]] = {
    "trim": scalars.trim,
    "lowercase": scalars.lowercase,
    "uppercase": scalars.uppercase,
    "coerce_int": scalars.coerce_int,
    "coerce_float": scalars.coerce_float,
}


class ActionOutcome(StrEnum):
    """The outcome of one rule on one record (the ``outcome`` label of the action counter)."""

    APPLIED = "applied"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ActionFailure:
    """A rule that applied to a value but could not fix it; the value was left as it was."""

    path: str
    action: str
    reason: str


@dataclass(frozen=True, slots=True)
class Applied:
    """The result of applying the rules to one value: the fixed value (the input itself when
    nothing changed), every change in order, and the rules that failed."""

    value: Any
    changes: tuple[FieldChange, ...]
    failures: tuple[ActionFailure, ...]
    #: ``(action, outcome)`` once per rule that changed something or failed.
    outcomes: tuple[tuple[str, ActionOutcome], ...]

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def encode(value: Any) -> bytes:
    """Compact JSON of a fixed value (integers of any size kept exact, key order kept)."""
    return msgspec.json.encode(value)


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


class _Tree:
    """Copy-on-write access to a JSON value: containers are copied once, on first write."""

    __slots__ = ("_copies", "_owned", "root")

    def __init__(self, root: Any) -> None:
        self.root = root
        self._owned: set[int] = set()
        self._copies: list[Any] = []  # kept alive, so their ids stay unique

    def _owns(self, node: Any) -> bool:
        return id(node) in self._owned

    def _own(self, node: Any) -> None:
        self._owned.add(id(node))
        self._copies.append(node)

    def get(self, parts: Sequence[str]) -> Any:
        node = self.root
        for part in parts:
            node = _child(node, part)
            if node is _MISSING:
                return _MISSING
        return node

    def _writable_parent(self, parts: Sequence[str], *, create: bool) -> Any:
        """The (copied) container holding ``parts[-1]``, or ``None`` when there is none."""
        if not self._owns(self.root):
            if type(self.root) is dict:
                self.root = dict(self.root)
            elif type(self.root) is list:
                self.root = list(self.root)
            else:
                return None
            self._own(self.root)
        node = self.root
        for part in parts[:-1]:
            child = _child(node, part)
            if child is _MISSING:
                if not create or type(node) is not dict:
                    return None
                child = {}
            elif type(child) is dict:
                child = child if self._owns(child) else dict(child)
            elif type(child) is list:
                child = child if self._owns(child) else list(child)
            else:
                return None
            if not self._owns(child):
                self._own(child)
            if type(node) is dict:
                node[part] = child
            else:
                node[int(part)] = child
            node = child
        return node

    def set(self, parts: Sequence[str], value: Any, *, create: bool = False) -> bool:
        parent = self._writable_parent(parts, create=create)
        last = parts[-1]
        if type(parent) is dict:
            parent[last] = value
            return True
        if type(parent) is list and _index(parent, last) is not None:
            parent[int(last)] = value
            return True
        return False

    def delete(self, parts: Sequence[str]) -> None:
        parent = self._writable_parent(parts, create=False)
        if type(parent) is dict:
            parent.pop(parts[-1], None)


def _index(node: list[Any], part: str) -> int | None:
    if part.isdecimal() and part.isascii() and (part == "0" or not part.startswith("0")):
        i = int(part)
        return i if i < len(node) else None
    return None


def _child(node: Any, part: str) -> Any:
    if type(node) is dict:
        return node.get(part, _MISSING)
    if type(node) is list:
        i = _index(node, part)
        return node[i] if i is not None else _MISSING
    return _MISSING


@dataclass(frozen=True, slots=True)
class _Rule:
    action: str
    path: str
    parts: tuple[str, ...]
    fix: Fix | None = None
    value: Any = None
    target: str = ""
    target_parts: tuple[str, ...] = ()


def _compile(spec: RemediationSpec, phone_region: str | None) -> _Rule:
    parts = field_parts(spec.field)
    action = spec.action
    if action in _SIMPLE:
        return _Rule(action, spec.path, parts, fix=_SIMPLE[action])
    if action == "e164_phone":
        return _Rule(action, spec.path, parts, fix=scalars.e164_phone(spec.region or phone_region))
    if action == "iso_timestamp":
        fix = iso_timestamp(spec.formats, spec.epoch, spec.timezone)
        return _Rule(action, spec.path, parts, fix=fix)
    if action == "default":
        return _Rule(action, spec.path, parts, value=spec.value)
    target = spec.target
    return _Rule(action, spec.path, parts, target=target, target_parts=field_parts(target))


class Remediator:
    """The compiled ``remediation:`` rules of one contract. Thread-safe and reusable."""

    __slots__ = ("_rules",)

    def __init__(
        self, specs: Sequence[RemediationSpec], *, phone_region: str | None = None
    ) -> None:
        self._rules = tuple(_compile(s, phone_region) for s in specs)

    def __bool__(self) -> bool:
        return bool(self._rules)

    def apply_value(self, value: Any) -> Applied:
        """Apply every rule to a decoded JSON value (which is not modified)."""
        tree = _Tree(value)
        changes: list[FieldChange] = []
        failures: list[ActionFailure] = []
        outcomes: list[tuple[str, ActionOutcome]] = []
        for rule in self._rules:
            failure = self._apply_rule(rule, tree, changes)
            if failure is None:
                continue
            if failure:
                failures.append(ActionFailure(rule.path, rule.action, failure))
                outcomes.append((rule.action, ActionOutcome.FAILED))
            else:
                outcomes.append((rule.action, ActionOutcome.APPLIED))
        return Applied(tree.root, tuple(changes), tuple(failures), tuple(outcomes))

    def apply(self, payload: bytes) -> Applied | None:
        """Decode JSON ``payload`` and apply the rules; ``None`` when it does not decode."""
        try:
            value = parse_json(payload)
        except DecodeFailure:
            return None
        return self.apply_value(value)

    @staticmethod
    def _apply_rule(rule: _Rule, tree: _Tree, changes: list[FieldChange]) -> str | None:
        """``None``: nothing to do; ``""``: applied (changes appended); else why it failed."""
        current = tree.get(rule.parts)
        action = rule.action
        if rule.fix is not None:
            if current is _MISSING:
                return None
            new = rule.fix(current)
            if new is SKIP or _same(new, current):
                return None
            if new is FAIL:
                return f"{action} cannot read {_short(current)}"
            tree.set(rule.parts, new)
            changes.append(FieldChange(rule.path, action, current, new))
            return ""
        if action == "default":
            if current is not _MISSING:
                return None
            new = copy.deepcopy(rule.value)
            if not tree.set(rule.parts, new, create=True):
                return "default: the parent of the field is not an object"
            changes.append(FieldChange(rule.path, action, None, new, existed_before=False))
            return ""
        # rename: only members of objects move
        if current is _MISSING or type(tree.get(rule.parts[:-1])) is not dict:
            return None
        if rule.target_parts[: len(rule.parts)] == rule.parts:
            return f"rename: {rule.target} is inside {rule.path}"
        if tree.get(rule.target_parts) is not _MISSING:
            return f"rename: {rule.target} already exists"
        if not tree.set(rule.target_parts, current, create=True):
            return f"rename: the parent of {rule.target} is not an object"
        tree.delete(rule.parts)
        changes.append(FieldChange(rule.path, action, current, None))
        changes.append(FieldChange(rule.target, action, None, current, existed_before=False))
        return ""


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
