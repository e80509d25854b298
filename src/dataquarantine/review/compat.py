"""Backward compatibility of a new contract version with the previous one (pure).

*Backward* (the schema registries' default) means: every record the previous version accepted,
the new version accepts too, so quarantined and in-flight records keep validating. Proving that
for arbitrary JSON Schemas is undecidable in general, so the check is pragmatic and
conservative: it walks both schemas side by side and reports every change that may reject a
record the old schema accepted. A change it does not understand counts as breaking.

JSON Schema rules (at each schema node, recursively through ``properties`` and ``items``):

* ``type`` may only widen (``integer`` -> ``number`` is a widening); adding ``type`` narrows.
* ``enum`` / ``const`` may only gain values; adding one narrows.
* A property newly listed in ``required`` breaks, unless its new schema has a ``default``.
* New optional properties are allowed.
* With ``additionalProperties: false`` in the new schema, removing a property the old one
  declared breaks; turning ``additionalProperties`` to ``false`` breaks.
* Numeric and size bounds may only loosen (``minimum``, ``maxLength``, ``minItems``...);
  ``pattern``, ``format``, ``multipleOf`` may not be added or changed.
* Any other assertion keyword (``allOf``, ``oneOf``, ``$ref``, ``if``...) must be unchanged;
  removing an assertion keyword is always fine. Annotations (``title``, ``description``...)
  are ignored.

Avro rules: every field the new record schema adds needs a ``default``; a field's type may only
change by Avro promotion (int -> long/float/double, long -> float/double, float -> double,
string <-> bytes).

Rules (CEL): a new or changed error-severity rule breaks (it may reject old records).
Contracts of kind ``model`` cannot be compared and are reported as not checkable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dataquarantine.contracts.model import ContractSpec
from dataquarantine.kernel import pointers
from dataquarantine.kernel.results import Severity

__all__ = ["backward_incompatibilities"]

_ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "default",
        "examples",
        "$comment",
        "deprecated",
        "readOnly",
        "writeOnly",
        "$id",
        "$schema",
        "$anchor",
        "$defs",
        "definitions",
    }
)
# keyword -> True when a bigger value loosens it
_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
_HANDLED = frozenset(
    {
        "type",
        "enum",
        "const",
        "required",
        "properties",
        "additionalProperties",
        "items",
        *_LOWER_BOUNDS,
        *_UPPER_BOUNDS,
    }
)
_AVRO_PROMOTIONS = {
    "int": {"long", "float", "double"},
    "long": {"float", "double"},
    "float": {"double"},
    "string": {"bytes"},
    "bytes": {"string"},
}


def backward_incompatibilities(
    old: ContractSpec, new: ContractSpec, schemas: tuple[Any, Any]
) -> list[str]:
    """Every reason ``new`` may reject a record ``old`` accepted (empty: compatible).

    ``schemas`` are the resolved schema documents of ``old`` and ``new``.
    """
    reasons: list[str] = []
    if old.model is not None or new.model is not None:
        if old.model != new.model:
            reasons.append("model contracts cannot be checked for compatibility")
    elif old.format != new.format:
        reasons.append(f"format changed from {old.format} to {new.format}")
    elif new.format == "avro":
        _avro(schemas[0], schemas[1], "", reasons)
    else:
        _json_schema(schemas[0], schemas[1], "", reasons)
    old_rules = {r.id: r for r in old.rules}
    for rule in new.rules:
        if rule.severity is not Severity.ERROR:
            continue
        before = old_rules.get(rule.id)
        if before is None:
            reasons.append(f"rule {rule.id!r} is new")
        elif before.expr != rule.expr or before.severity is not Severity.ERROR:
            reasons.append(f"rule {rule.id!r} changed")
    return reasons


# -- JSON Schema ---------------------------------------------------------------------------------


def _types(node: Mapping[str, Any]) -> set[str] | None:
    t = node.get("type")
    if t is None:
        return None
    return {t} if isinstance(t, str) else {str(x) for x in t}


def _json_schema(old: Any, new: Any, at: str, reasons: list[str]) -> None:
    where = at or "/"
    if new is True or new == {}:
        return  # accepts everything
    if old is False:
        return  # accepted nothing
    if new is False or old is True or old == {}:
        if old != new:
            reasons.append(f"{where}: the schema no longer accepts every value")
        return
    if not isinstance(old, Mapping) or not isinstance(new, Mapping):
        if old != new:
            reasons.append(f"{where}: schema changed")
        return
    _types_rule(old, new, where, reasons)
    _values_rule(old, new, where, reasons)
    _bounds(old, new, where, reasons)
    _object(old, new, at, reasons)
    if "items" in new:
        if "items" in old:
            _json_schema(old["items"], new["items"], f"{at}/items", reasons)
        elif new["items"] not in (True, {}):
            reasons.append(f"{where}: items constraint added")
    _other_keywords(old, new, where, reasons)


def _types_rule(
    old: Mapping[str, Any], new: Mapping[str, Any], where: str, reasons: list[str]
) -> None:
    new_types = _types(new)
    if new_types is None:
        return
    old_types = _types(old)
    if old_types is None:
        reasons.append(f"{where}: type {sorted(new_types)} added")
        return
    widened = set(new_types) | ({"integer"} if "number" in new_types else set())
    lost = old_types - widened
    if lost:
        reasons.append(f"{where}: type narrowed, no longer accepts {sorted(lost)}")


def _values_rule(
    old: Mapping[str, Any], new: Mapping[str, Any], where: str, reasons: list[str]
) -> None:
    for key in ("enum", "const"):
        if key in new:
            before = old.get(key) if key in old else None
            if key == "const":
                ok = key in old and before == new[key]
            else:
                ok = isinstance(before, list) and all(v in new[key] for v in before)
            if not ok:
                reasons.append(f"{where}: {key} narrowed or added")


def _other_keywords(
    old: Mapping[str, Any], new: Mapping[str, Any], where: str, reasons: list[str]
) -> None:
    for key, value in new.items():
        if key in _ANNOTATIONS or key in _HANDLED:
            continue
        if key not in old:
            reasons.append(f"{where}: {key} added")
        elif old[key] != value:
            reasons.append(f"{where}: {key} changed")


def _bounds(old: Mapping[str, Any], new: Mapping[str, Any], where: str, reasons: list[str]) -> None:
    for key in (*_LOWER_BOUNDS, *_UPPER_BOUNDS):
        if key not in new:
            continue
        value, before = new[key], old.get(key)
        if isinstance(value, bool) or isinstance(before, bool):
            if before != value:  # draft-4 boolean exclusive bounds
                reasons.append(f"{where}: {key} changed")
            continue
        if before is None:
            reasons.append(f"{where}: {key} {value} added")
        elif key in _LOWER_BOUNDS and value > before:
            reasons.append(f"{where}: {key} raised from {before} to {value}")
        elif key in _UPPER_BOUNDS and value < before:
            reasons.append(f"{where}: {key} lowered from {before} to {value}")


def _object(old: Mapping[str, Any], new: Mapping[str, Any], at: str, reasons: list[str]) -> None:
    where = at or "/"
    old_props: Mapping[str, Any] = old.get("properties") or {}
    new_props: Mapping[str, Any] = new.get("properties") or {}
    old_required = set(old.get("required") or ())
    for name in new.get("required") or ():
        if name in old_required:
            continue
        prop = new_props.get(name)
        if not (isinstance(prop, Mapping) and "default" in prop):
            reasons.append(f"{where}: property {name!r} is newly required (and has no default)")
    closed = new.get("additionalProperties") is False
    if closed and old.get("additionalProperties") is not False:
        reasons.append(f"{where}: additionalProperties set to false")
    for name, old_prop in old_props.items():
        path = f"{at}/{pointers.escape(name)}"
        if name in new_props:
            _json_schema(old_prop, new_props[name], path, reasons)
        elif closed:
            reasons.append(f"{path}: property removed while additionalProperties is false")
    # A new optional property is allowed (a record that carried an undeclared property of that
    # name with another type would now fail: an accepted risk, as registries in practice take).
    extra = new.get("additionalProperties")
    if isinstance(extra, Mapping) and "additionalProperties" in old:
        _json_schema(old["additionalProperties"], extra, f"{at}/additionalProperties", reasons)


# -- Avro ----------------------------------------------------------------------------------------


def _avro_type_name(t: Any) -> str:
    if isinstance(t, str):
        return t
    if isinstance(t, Mapping):
        return str(t.get("type"))
    return "union"


def _avro(old: Any, new: Any, at: str, reasons: list[str]) -> None:
    where = at or "/"
    if not (isinstance(old, Mapping) and isinstance(new, Mapping)):
        if old != new:
            reasons.append(f"{where}: type changed")
        return
    if old.get("type") != "record" or new.get("type") != "record":
        if old != new:
            reasons.append(f"{where}: schema changed")
        return
    old_fields = {f["name"]: f for f in old.get("fields", ()) if isinstance(f, Mapping)}
    for field in new.get("fields", ()):
        if not isinstance(field, Mapping):
            continue
        name = str(field.get("name"))
        path = f"{at}/{name}"
        before = old_fields.get(name)
        if before is None:
            if "default" not in field:
                reasons.append(f"{path}: new field without a default")
            continue
        old_t, new_t = before.get("type"), field.get("type")
        if old_t == new_t:
            continue
        old_name, new_name = _avro_type_name(old_t), _avro_type_name(new_t)
        if old_name == new_name == "record":
            _avro(old_t, new_t, path, reasons)
        elif isinstance(new_t, list) and old_t in new_t:
            continue  # the old type is one branch of the new union
        elif new_name not in _AVRO_PROMOTIONS.get(old_name, set()):
            reasons.append(f"{path}: type changed from {old_name} to {new_name}")
