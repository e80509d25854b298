"""ODCS properties to JSON Schema and back: ``logicalType``, ``logicalTypeOptions``,
``required`` and ``description``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from dataquarantine.contracts.odcs.common import Unmapped
from dataquarantine.kernel import pointers

__all__ = ["DOCUMENTATION_KEYS", "properties_from_schema", "schema_from_properties"]

Warn = Callable[[Unmapped], None]

#: Property keys that document and are kept as documentation only (no check follows from them).
DOCUMENTATION_KEYS: Final = frozenset(
    {
        "id",
        "businessName",
        "physicalType",
        "physicalName",
        "authoritativeDefinitions",
        "tags",
        "customProperties",
        "classification",
        "examples",
        "criticalDataElement",
        "partitioned",
        "partitionKeyPosition",
        "primaryKeyPosition",
        "encryptedName",
        "transformSourceObjects",
        "transformLogic",
        "transformDescription",
    }
)
#: Keys mapped here (the quality, relationship and key ones are mapped by the importer).
_TYPE_KEYS: Final = frozenset(
    {"name", "logicalType", "logicalTypeOptions", "required", "description", "items", "properties"}
)

_SIMPLE: Final[dict[str, dict[str, Any]]] = {
    "string": {"type": "string"},
    "number": {"type": "number"},
    "integer": {"type": "integer"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "timestamp": {"type": "string", "format": "date-time"},
    #: RFC 3339 ``time`` requires an offset; ODCS times often have none.
    "time": {"type": "string", "pattern": r"^([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?$"},
    "object": {"type": "object"},
    "array": {"type": "array"},
}
_OPTIONS: Final[dict[str, frozenset[str]]] = {
    "string": frozenset({"minLength", "maxLength", "pattern", "format"}),
    "number": frozenset(
        {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}
    ),
    "integer": frozenset(
        {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}
    ),
    "array": frozenset({"minItems", "maxItems", "uniqueItems"}),
    "object": frozenset({"required", "minProperties", "maxProperties"}),
}
#: String formats of JSON Schema that ODCS documents use with the same meaning.
_FORMATS: Final = frozenset(
    {"email", "uuid", "uri", "hostname", "ipv4", "ipv6", "date", "date-time", "time"}
)
#: ``format`` options that restate the JSON Schema format of the type.
_ISO_FORMATS: Final[dict[str, frozenset[str]]] = {
    "date": frozenset({"yyyy-MM-dd"}),
    "timestamp": frozenset({"yyyy-MM-dd'T'HH:mm:ssXXX", "yyyy-MM-dd'T'HH:mm:ss.SSSXXX"}),
    "time": frozenset({"HH:mm:ss"}),
}


def _options(logical: str, options: Any, schema: dict[str, Any], path: str, warn: Warn) -> None:
    if not isinstance(options, Mapping):
        warn(Unmapped(path, "logicalTypeOptions is not a mapping"))
        return
    allowed = _OPTIONS.get(logical, frozenset())
    for key, value in options.items():
        where = pointers.join([*pointers.parse(path), str(key)])
        if key == "format" and logical in _ISO_FORMATS:
            if value not in _ISO_FORMATS[logical]:
                schema.pop("format", None)
                schema.pop("pattern", None)
                warn(Unmapped(where, f"{logical} format {value!r} is not checked (ISO 8601 only)"))
            continue
        if key == "format" and logical == "string":
            if value in _FORMATS:
                schema["format"] = value
            else:
                warn(Unmapped(where, f"string format {value!r} has no JSON Schema equivalent"))
            continue
        if key not in allowed:
            warn(Unmapped(where, f"option {key!r} of logicalType {logical!r} is not checked"))
            continue
        schema[key] = list(value) if isinstance(value, list | tuple) else value


def _property(prop: Mapping[str, Any], path: str, warn: Warn) -> tuple[dict[str, Any], bool]:
    """The JSON Schema of one property and whether it is required."""
    logical = prop.get("logicalType")
    schema: dict[str, Any] = {}
    if logical is not None:
        if logical not in _SIMPLE:
            warn(Unmapped(path + "/logicalType", f"unknown logicalType {logical!r}"))
        else:
            schema.update(_SIMPLE[logical])
    if "description" in prop:
        schema["description"] = str(prop["description"])
    if "logicalTypeOptions" in prop and logical in _SIMPLE:
        _options(
            str(logical), prop["logicalTypeOptions"], schema, path + "/logicalTypeOptions", warn
        )
    if logical == "object" or "properties" in prop:
        nested = prop.get("properties") or []
        props, required = _properties(nested, path + "/properties", warn)
        schema["properties"] = props
        merged = [*schema.pop("required", []), *required]
        if merged:
            schema["required"] = list(dict.fromkeys(merged))
    if "items" in prop:
        items = prop["items"]
        if isinstance(items, Mapping):
            schema["items"], _ = _property(items, path + "/items", warn)
        else:
            warn(Unmapped(path + "/items", "items is not a mapping"))
    is_required = prop.get("required") is True
    if not is_required and "type" in schema:
        schema["type"] = [schema["type"], "null"]
    return schema, is_required


def _properties(props: Any, path: str, warn: Warn) -> tuple[dict[str, Any], list[str]]:
    out: dict[str, Any] = {}
    required: list[str] = []
    if not isinstance(props, list):
        warn(Unmapped(path, "properties is not a list"))
        return out, required
    for i, prop in enumerate(props):
        where = f"{path}/{i}"
        if not isinstance(prop, Mapping) or not isinstance(prop.get("name"), str):
            warn(Unmapped(where, "a property without a name"))
            continue
        out[prop["name"]], req = _property(prop, where, warn)
        if req:
            required.append(prop["name"])
    return out, required


def schema_from_properties(props: Sequence[Any], path: str, warn: Warn) -> dict[str, Any]:
    """The JSON Schema of a schema object's records (an object of its properties)."""
    properties, required = _properties(list(props), path, warn)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def _logical(schema: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """``(ODCS property fields, nullable)`` of a JSON Schema (best effort)."""
    types = schema.get("type")
    nullable = isinstance(types, list) and "null" in types
    if isinstance(types, list):
        rest = [t for t in types if t != "null"]
        types = rest[0] if len(rest) == 1 else None
    out: dict[str, Any] = {}
    fmt = schema.get("format")
    if types == "string" and fmt == "date":
        out["logicalType"] = "date"
    elif types == "string" and fmt == "date-time":
        out["logicalType"] = "timestamp"
    elif types == "string" and schema.get("pattern") == _SIMPLE["time"]["pattern"]:
        out["logicalType"] = "time"
    elif isinstance(types, str) and types in _SIMPLE:
        out["logicalType"] = types
    logical = out.get("logicalType")
    options = {
        k: schema[k]
        for k in sorted(_OPTIONS.get(str(logical), frozenset()))
        if k in schema and k != "required"
    }
    if logical == "string" and fmt is not None:
        options["format"] = fmt
    if options:
        out["logicalTypeOptions"] = options
    if "description" in schema:
        out["description"] = schema["description"]
    if logical == "array" and isinstance(schema.get("items"), Mapping):
        item, _ = _logical(schema["items"])
        out["items"] = item
    if logical == "object":
        out["properties"] = properties_from_schema(schema)
    return out, nullable


def properties_from_schema(schema: Mapping[str, Any]) -> list[dict[str, Any]]:
    """ODCS properties of an object JSON Schema (the inverse of :func:`schema_from_properties`
    where it can be; the exporter keeps the exact schema when it cannot)."""
    required = set(schema.get("required", ()))
    out: list[dict[str, Any]] = []
    for name, sub in (schema.get("properties") or {}).items():
        fields, _ = _logical(sub) if isinstance(sub, Mapping) else ({}, True)
        prop: dict[str, Any] = {"name": name, **fields}
        if name in required:
            prop["required"] = True
        out.append(prop)
    return out


def unmapped_keys(prop: Mapping[str, Any], handled: frozenset[str]) -> list[str]:
    """The keys of ``prop`` neither mapped nor documentation."""
    return [
        k for k in prop if k not in _TYPE_KEYS and k not in handled and k not in DOCUMENTATION_KEYS
    ]
