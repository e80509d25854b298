"""ODCS v3 documents read as our contracts (one per schema object) and gates."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError

from dataquarantine.contracts.model import IDENTIFIER_RE, ContractSpec
from dataquarantine.contracts.odcs.common import (
    FORMAT_PROPERTY,
    KEY_PROPERTY,
    LOAD_PROPERTY,
    MODEL_PROPERTY,
    REFERENCES_PROPERTY,
    REMEDIATION_PROPERTY,
    SCHEMA_PROPERTY,
    Unmapped,
)
from dataquarantine.contracts.odcs.quality import QualityMapper
from dataquarantine.contracts.odcs.types import (
    DOCUMENTATION_KEYS,
    schema_from_properties,
    unmapped_keys,
)
from dataquarantine.errors import ContractSyntaxError

__all__ = ["OdcsImport", "Unmapped", "import_odcs", "is_odcs"]

#: Top-level keys that describe the contract and carry no check.
_DOCUMENT_KEYS: Final = frozenset(
    {
        "apiVersion",
        "kind",
        "id",
        "name",
        "version",
        "status",
        "description",
        "domain",
        "dataProduct",
        "tenant",
        "tags",
        "authoritativeDefinitions",
        "contractCreatedTs",
        "team",
        "support",
        "customProperties",
        "schema",
    }
)
_OBJECT_KEYS: Final = frozenset(
    {
        "name",
        "properties",
        "relationships",
        "quality",
        "logicalType",
        "description",
        "dataGranularityDescription",
    }
)
_PROPERTY_KEYS: Final = frozenset({"quality", "relationships", "unique", "primaryKey"})
_NAME_CHARS: Final = re.compile(r"[^a-z0-9_.-]+")


@dataclass(frozen=True)
class OdcsImport:
    """What a document gave: contracts, gates (plain data for ``gates_from_dict``) and the
    parts not mapped, each with its path and reason."""

    contracts: tuple[ContractSpec, ...]
    gates: tuple[dict[str, Any], ...]
    unmapped: tuple[Unmapped, ...] = field(default=())


def is_odcs(data: Any) -> bool:
    """True when ``data`` looks like an ODCS document (``kind: DataContract``, ``apiVersion``)."""
    return (
        isinstance(data, Mapping)
        and data.get("kind") == "DataContract"
        and str(data.get("apiVersion", "")).startswith("v3")
    )


def _contract_name(obj: Mapping[str, Any]) -> str:
    raw = str(obj.get("name", "")).lower()
    name = _NAME_CHARS.sub("_", raw).strip(".").lstrip("-")
    return re.sub(r"\.{2,}", ".", name)[:100] or "contract"


def _custom(obj: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for entry in obj.get("customProperties") or ():
        if isinstance(entry, Mapping) and isinstance(entry.get("property"), str):
            out[entry["property"]] = entry.get("value")
    return out


def _reference(target: Any, field_name: str, path: str) -> dict[str, Any] | Unmapped:
    if not isinstance(target, str) or "." not in target:
        return Unmapped(path, f"relationship target {target!r} is not 'table.column'")
    table, column = target.rsplit(".", 1)
    if not IDENTIFIER_RE.match(table) or not IDENTIFIER_RE.match(column) or "." in column:
        return Unmapped(path, f"relationship target {target!r} is not a plain table.column")
    return {"field": field_name, "table": table, "column": column}


def _relationships(
    rels: Any, path: str, own: str | None, object_name: str, unmapped: list[Unmapped]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, rel in enumerate(rels if isinstance(rels, list) else ()):
        where = f"{path}/{i}"
        if not isinstance(rel, Mapping) or rel.get("type", "foreignKey") != "foreignKey":
            unmapped.append(Unmapped(where, "not a foreignKey relationship"))
            continue
        source = rel.get("from", own)
        if isinstance(source, list) or isinstance(rel.get("to"), list):
            unmapped.append(Unmapped(where, "composite keys are not checked per record"))
            continue
        if not isinstance(source, str):
            unmapped.append(Unmapped(where, "a relationship without 'from'"))
            continue
        prefix = object_name + "."
        field_name = source[len(prefix) :] if source.startswith(prefix) else source
        ref = _reference(rel.get("to"), field_name, where)
        if isinstance(ref, Unmapped):
            unmapped.append(ref)
        else:
            out.append(ref)
    return out


_COLUMN_RE: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}\Z")


@dataclass
class _ObjectMapping:
    """The checks of one schema object, collected property by property."""

    obj: Mapping[str, Any]
    path: str
    mapper: QualityMapper
    unmapped: list[Unmapped]
    references: list[dict[str, Any]] = field(default_factory=list)
    primary: list[tuple[int, int, str]] = field(default_factory=list)

    def relationships(self, rels: Any, path: str, own: str | None) -> None:
        self.references += _relationships(rels, path, own, str(self.obj.get("name")), self.unmapped)

    def property(self, i: int, prop: Mapping[str, Any]) -> None:
        where = f"{self.path}/properties/{i}"
        pname = prop["name"]
        col = str(prop.get("physicalName") or pname)
        column = col if _COLUMN_RE.match(col) else None
        for key in unmapped_keys(prop, _PROPERTY_KEYS):
            self.unmapped.append(
                Unmapped(f"{where}/{key}", f"property field {key!r} is not mapped")
            )
        for j, check in enumerate(prop.get("quality") or ()):
            self.mapper.map(check, f"{where}/quality/{j}", pname, column)
        self.relationships(prop.get("relationships"), where + "/relationships", pname)
        if (prop.get("unique") or prop.get("primaryKey")) and column is None:
            self.unmapped.append(
                Unmapped(where, "unique or primaryKey on a column without a plain name")
            )
        elif prop.get("primaryKey"):
            position = prop.get("primaryKeyPosition")
            self.primary.append((position if isinstance(position, int) else 0, i, str(column)))
        elif prop.get("unique"):
            self.mapper.unique([str(column)], "unique")

    def run(self) -> None:
        self.relationships(self.obj.get("relationships"), self.path + "/relationships", None)
        props = self.obj.get("properties") or []
        for i, prop in enumerate(props if isinstance(props, list) else ()):
            if isinstance(prop, Mapping) and isinstance(prop.get("name"), str):
                self.property(i, prop)
        if self.primary:
            self.mapper.unique([c for *_, c in sorted(self.primary)], "primaryKey")
        for j, check in enumerate(self.obj.get("quality") or ()):
            self.mapper.map(check, f"{self.path}/quality/{j}", None, None)
        for key in self.obj:
            if key not in _OBJECT_KEYS and key not in DOCUMENTATION_KEYS:
                self.unmapped.append(
                    Unmapped(f"{self.path}/{key}", f"schema object field {key!r} is not mapped")
                )


def _object(
    obj: Mapping[str, Any], path: str, doc: Mapping[str, Any], unmapped: list[Unmapped]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Our contract (as data) and the gates of one schema object."""
    name = _contract_name(obj)
    custom = _custom(obj)
    physical = str(obj.get("physicalName") or obj.get("name", ""))
    table = physical if IDENTIFIER_RE.match(physical) else None
    schema = schema_from_properties(
        obj.get("properties") or [], path + "/properties", unmapped.append
    )
    checks = _ObjectMapping(obj, path, QualityMapper(name, table, unmapped.append), unmapped)
    checks.run()
    data: dict[str, Any] = {"name": name, "version": doc.get("version"), "format": "json"}
    description = obj.get("description") or _purpose(doc)
    if description:
        data["description"] = str(description)
    if custom.get(MODEL_PROPERTY) is not None:
        data["model"] = custom[MODEL_PROPERTY]
    else:
        data["schema"] = custom.get(SCHEMA_PROPERTY, schema)
    for key, prop_name in (
        ("format", FORMAT_PROPERTY),
        ("remediation", REMEDIATION_PROPERTY),
        ("load", LOAD_PROPERTY),
        ("key", KEY_PROPERTY),
    ):
        if custom.get(prop_name) is not None:
            data[key] = custom[prop_name]
    references = checks.references + list(custom.get(REFERENCES_PROPERTY) or ())
    if checks.mapper.rules:
        data["rules"] = checks.mapper.rules
    if references:
        data["references"] = references
    return data, checks.mapper.gates


def _purpose(doc: Mapping[str, Any]) -> str | None:
    desc = doc.get("description")
    if isinstance(desc, Mapping):
        purpose = desc.get("purpose")
        return str(purpose) if purpose else None
    return str(desc) if desc else None


def import_odcs(doc: Any, *, source: Path | str | None = None) -> OdcsImport:
    """Map an ODCS v3 document (parsed YAML) to contracts and gates.

    ContractSyntaxError (naming ``source`` and the schema object) when the document is not
    ODCS v3, or a part it says must hold cannot be expressed as a valid contract.
    """
    if not is_odcs(doc):
        raise ContractSyntaxError(
            "not an ODCS v3 document (needs kind: DataContract and apiVersion: v3.x)",
            source=source,
        )
    objects = doc.get("schema")
    if not isinstance(objects, list) or not objects:
        raise ContractSyntaxError("the ODCS document has no schema objects", source=source)
    unmapped: list[Unmapped] = [
        Unmapped(f"/{key}", f"top-level field {key!r} is not mapped")
        for key in doc
        if key not in _DOCUMENT_KEYS
    ]
    contracts: list[ContractSpec] = []
    gates: list[dict[str, Any]] = []
    names: set[str] = set()
    for i, obj in enumerate(objects):
        path = f"/schema/{i}"
        if not isinstance(obj, Mapping) or not obj.get("name"):
            raise ContractSyntaxError(f"{path}: a schema object needs a name", source=source)
        data, object_gates = _object(obj, path, doc, unmapped)
        if data["name"] in names:
            raise ContractSyntaxError(
                f"{path}: two schema objects map to the contract name {data['name']!r}",
                source=source,
            )
        names.add(data["name"])
        try:
            contracts.append(ContractSpec.model_validate(data))
        except ValidationError as exc:
            problems = "; ".join(
                ".".join(str(p) for p in e["loc"]) + ": " + str(e["msg"]) for e in exc.errors()
            )
            raise ContractSyntaxError(
                f"{path} ({obj.get('name')}): {problems}", source=source
            ) from None
        gates.extend(object_gates)
    return OdcsImport(tuple(contracts), tuple(gates), tuple(unmapped))
