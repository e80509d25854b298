"""Our contracts written as ODCS v3.1.0 documents.

A contract becomes one document with one schema object. Its JSON Schema becomes the object's
properties; when the properties cannot say everything the schema says (``oneOf``, ``$ref``,
a property that is optional but not nullable...), the exact schema also goes in the custom
property ``dataquarantineSchema``, which the import prefers. Rules become ``custom`` quality
entries of engine ``dataquarantine``; references become ``foreignKey`` relationships.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Final

from dataquarantine.contracts.model import ContractSpec, RuleSpec, field_parts
from dataquarantine.contracts.odcs.common import (
    API_VERSION,
    CUSTOM_ENGINE,
    FIELD_PROPERTY,
    FORMAT_PROPERTY,
    KEY_PROPERTY,
    LOAD_PROPERTY,
    MODEL_PROPERTY,
    REFERENCES_PROPERTY,
    REMEDIATION_PROPERTY,
    SCHEMA_PROPERTY,
)
from dataquarantine.contracts.odcs.types import properties_from_schema, schema_from_properties
from dataquarantine.kernel.results import Severity

__all__ = ["export_odcs"]

_NAMESPACE: Final = uuid.UUID("0b7a4f4e-3f7e-5c43-9d55-4a1d2f0c6e21")


def _quality(rule: RuleSpec, custom_field: bool) -> dict[str, Any]:
    check: dict[str, Any] = {
        "type": "custom",
        "engine": CUSTOM_ENGINE,
        "name": rule.id,
        "implementation": rule.expr,
        "severity": "error" if rule.severity is Severity.ERROR else "warning",
    }
    if rule.message:
        check["description"] = rule.message
    if custom_field and rule.field is not None:
        check["customProperties"] = [{"property": FIELD_PROPERTY, "value": rule.field}]
    return check


def _top_field(name: str | None, props: Mapping[str, dict[str, Any]]) -> str | None:
    """``name`` when it is a top-level property of the exported object."""
    if name is None:
        return None
    parts = field_parts(name)
    return parts[0] if len(parts) == 1 and parts[0] in props and parts[0] == name else None


def _custom(name: str, value: Any) -> dict[str, Any]:
    return {"property": name, "value": value}


def _schema(spec: ContractSpec, schema: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The object's properties and the custom properties that keep the rest of the schema."""
    custom: list[dict[str, Any]] = []
    props: list[dict[str, Any]] = []
    if spec.format == "json" and isinstance(schema, Mapping) and schema.get("type") == "object":
        props = properties_from_schema(schema)
        if schema_from_properties(props, "", lambda _: None) != schema:
            custom.append(_custom(SCHEMA_PROPERTY, schema))
    elif spec.model is not None:
        custom.append(_custom(MODEL_PROPERTY, spec.model))
    else:
        custom.append(_custom(SCHEMA_PROPERTY, schema))
    if spec.format != "json":
        custom.append(_custom(FORMAT_PROPERTY, spec.format))
    return props, custom


def _references(spec: ContractSpec, by_name: Mapping[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Add each reference of a top-level property to it as a ``foreignKey`` relationship;
    return the others (a nested field, a schema-qualified table: ODCS shorthand cannot name
    them), which travel in a custom property."""
    qualified: list[dict[str, Any]] = []
    for ref in spec.references:
        target = f"{ref.table}.{ref.column}"
        top = _top_field(ref.field, by_name)
        if "." in ref.table or top is None:
            qualified.append(ref.model_dump())
        else:
            by_name[top].setdefault("relationships", []).append(
                {"type": "foreignKey", "to": target}
            )
    return qualified


def _extras(spec: ContractSpec) -> list[dict[str, Any]]:
    custom: list[dict[str, Any]] = []
    if spec.remediation:
        fixes = [r.model_dump(exclude_defaults=True) for r in spec.remediation]
        custom.append(_custom(REMEDIATION_PROPERTY, fixes))
    if spec.load is not None:
        load = spec.load.model_dump(mode="json", exclude_defaults=True)
        custom.append(_custom(LOAD_PROPERTY, load))
    if spec.key is not None:
        custom.append(_custom(KEY_PROPERTY, spec.key))
    return custom


def export_odcs(spec: ContractSpec, schema: Any) -> dict[str, Any]:
    """The ODCS document of ``spec``; ``schema`` is its resolved schema (the inline one, the
    ``schema_file`` read, or None for a ``model`` contract)."""
    props, custom = _schema(spec, schema)
    by_name = {p["name"]: p for p in props}
    quality: list[dict[str, Any]] = []
    for rule in spec.rules:
        top = _top_field(rule.field, by_name)
        if top is not None:
            by_name[top].setdefault("quality", []).append(_quality(rule, False))
        else:
            quality.append(_quality(rule, True))
    qualified = _references(spec, by_name)
    if qualified:
        custom.append(_custom(REFERENCES_PROPERTY, qualified))
    custom += _extras(spec)
    obj: dict[str, Any] = {"name": spec.name, "physicalType": "table", "properties": props}
    if spec.description:
        obj["description"] = spec.description
    if quality:
        obj["quality"] = quality
    if custom:
        obj["customProperties"] = custom
    doc: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "DataContract",
        "id": str(uuid.uuid5(_NAMESPACE, str(spec.ref))),
        "name": spec.name,
        "version": str(spec.version),
        "status": "active",
    }
    if spec.description:
        doc["description"] = {"purpose": spec.description}
    doc["schema"] = [obj]
    return doc
