"""The data contract as plain data: what a YAML contract file says, checked but not compiled.

Nothing here validates records; :mod:`dataquarantine.validation` compiles a
:class:`ContractSpec` into something that does.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dataquarantine.contracts.version import Version
from dataquarantine.validation.result import ContractRef, Severity

__all__ = [
    "IDENTIFIER_RE",
    "NAME_RE",
    "ContractSpec",
    "ReferenceSpec",
    "RemediationAction",
    "RemediationSpec",
    "RuleSpec",
    "field_to_pointer",
]

NAME_RE = re.compile(r"^[a-z0-9_.-]+\Z")
RULE_ID_RE = re.compile(r"^[A-Za-z0-9_.-]+\Z")
#: A plain SQL identifier, optionally schema-qualified. Anything else is refused.
IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?\Z")

RemediationAction = Literal[
    "trim",
    "lowercase",
    "uppercase",
    "e164_phone",
    "iso_timestamp",
    "coerce_int",
    "coerce_float",
    "default",
    "rename",
]


def field_to_pointer(field: str) -> str:
    """``a.b`` or ``/a/b`` to the JSON Pointer ``/a/b`` (``~`` and ``/`` escaped per RFC 6901)."""
    if field.startswith("/") or field == "":
        return field
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in field.split("."))


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class RuleSpec(_Frozen):
    """A CEL business rule. ``record`` is the decoded record; the rule holds when it is true."""

    id: str
    expr: str = Field(min_length=1)
    message: str | None = None
    severity: Severity = Severity.ERROR
    #: Optional field the rule is about (dotted or JSON Pointer); it becomes the violation path.
    field: str | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not RULE_ID_RE.match(v):
            raise ValueError(f"rule id {v!r} must match [A-Za-z0-9_.-]+")
        return v

    @property
    def path(self) -> str:
        return field_to_pointer(self.field) if self.field else ""


class ReferenceSpec(_Frozen):
    """A foreign key: ``field`` of the record must exist as ``table.column``."""

    field: str
    table: str
    column: str

    @field_validator("table", "column")
    @classmethod
    def _ident(cls, v: str) -> str:
        if not IDENTIFIER_RE.match(v):
            raise ValueError(f"{v!r} is not a plain SQL identifier")
        return v

    @property
    def path(self) -> str:
        return field_to_pointer(self.field)


class RemediationSpec(_Frozen):
    """One automatic fix applied to an invalid record before it is validated again."""

    field: str
    action: RemediationAction
    #: ``default``: the value to set when the field is missing.
    value: Any = None
    #: ``rename``: the new field name.
    to: str | None = None
    #: ``e164_phone``: the region for numbers without a country code (ISO 3166 alpha-2).
    region: str | None = None
    #: ``iso_timestamp``: extra ``strptime`` formats to try.
    formats: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _params(self) -> RemediationSpec:
        if self.action == "rename" and not self.to:
            raise ValueError("remediation 'rename' needs 'to'")
        if self.action == "default" and "value" not in self.model_fields_set:
            raise ValueError("remediation 'default' needs 'value'")
        return self

    @property
    def path(self) -> str:
        return field_to_pointer(self.field)


class ContractSpec(_Frozen):
    """A versioned data contract, as written in YAML. Exactly one of ``schema``,
    ``schema_file`` or ``model`` says what a record must look like."""

    name: str
    version: Version
    format: Literal["json", "avro"] = "json"
    description: str | None = None
    owner: str | None = None
    schema_: dict[str, Any] | bool | None = Field(default=None, alias="schema")
    schema_file: str | None = None
    model: str | None = None
    #: Avro only: the schema-registry id expected in Confluent wire-format messages.
    schema_id: int | None = Field(default=None, ge=0, le=2**31 - 1)
    #: Avro only: how raw bytes are encoded. ``auto`` detects Confluent framing, then JSON.
    avro_encoding: Literal["auto", "confluent", "binary", "json"] = "auto"
    rules: tuple[RuleSpec, ...] = ()
    references: tuple[ReferenceSpec, ...] = ()
    remediation: tuple[RemediationSpec, ...] = ()
    key: str | None = None
    #: Where the contract was read from (set by the loader; not part of the YAML).
    source_path: Path | None = Field(default=None, exclude=True)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME_RE.match(v):
            raise ValueError(f"name {v!r} must match [a-z0-9_.-]+")
        return v

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, v: object) -> Version:
        if isinstance(v, Version):
            return v
        return Version.parse(str(v))

    @model_validator(mode="after")
    def _shape(self) -> ContractSpec:
        given = [k for k in ("schema_", "schema_file", "model") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'schema', 'schema_file' or 'model'")
        if self.model is not None and self.format != "json":
            raise ValueError("'model' contracts use format: json")
        if self.format == "avro" and self.schema_file and not self.schema_file.endswith(".avsc"):
            raise ValueError("an avro contract's schema_file must be an .avsc file")
        ids = [r.id for r in self.rules]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate rule ids: {', '.join(dupes)}")
        return self

    @property
    def ref(self) -> ContractRef:
        return ContractRef(self.name, str(self.version))

    @property
    def key_pointer(self) -> str | None:
        return field_to_pointer(self.key) if self.key else None

    @property
    def base_dir(self) -> Path | None:
        return self.source_path.parent if self.source_path else None
