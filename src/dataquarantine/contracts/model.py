"""The data contract as plain data: what a YAML contract file says, checked but not compiled.

Nothing here validates records; :mod:`dataquarantine.validation` compiles a
:class:`ContractSpec` into something that does.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dataquarantine.contracts.version import Version
from dataquarantine.kernel import pointers
from dataquarantine.kernel.results import ContractRef, ErrorCode, Severity, Violation

__all__ = [
    "FILE_STAGING_SUFFIXES",
    "IDENTIFIER_RE",
    "MAX_NAME_LENGTH",
    "MAX_VERSION_LENGTH",
    "NAME_RE",
    "ContractSpec",
    "LoadSpec",
    "ReferenceSpec",
    "RemediationAction",
    "RemediationSpec",
    "RuleSpec",
    "field_parts",
    "field_to_pointer",
]

#: A contract name: dot-separated segments of ASCII lowercase letters, digits, ``_`` and ``-``,
#: none empty or starting with ``-`` (so no ``..``, no leading or trailing dot); at most
#: :data:`MAX_NAME_LENGTH` characters. Names and versions never contain ``@``, the separator of
#: the file names that registration writes (``NAME@VERSION.yaml``).
NAME_RE = re.compile(r"^[a-z0-9_][a-z0-9_-]*(?:\.[a-z0-9_][a-z0-9_-]*)*\Z")
MAX_NAME_LENGTH = 100
#: Longest version string (semver sets no limit; a file name does).
MAX_VERSION_LENGTH = 100
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

EpochUnit = Literal["auto", "seconds", "milliseconds", "microseconds", "nanoseconds"]
#: Options of a remediation rule and the actions that take them.
_ACTION_OPTIONS: dict[str, tuple[str, ...]] = {
    "value": ("default",),
    "to": ("rename",),
    "region": ("e164_phone",),
    "formats": ("iso_timestamp",),
    "epoch": ("iso_timestamp",),
    "timezone": ("iso_timestamp",),
}


@functools.lru_cache(maxsize=4096)  # a contract has few fields; hot loops ask per record
def field_to_pointer(field: str) -> str:
    """``a.b`` or ``/a/b`` to the JSON Pointer ``/a/b`` (``~`` and ``/`` escaped per RFC 6901)."""
    if field.startswith("/") or field == "":
        return field
    return pointers.join(field.split("."))


def field_parts(field: str) -> tuple[str, ...]:
    """``a.b`` or ``/a/b`` to the unescaped member names ``("a", "b")`` (RFC 6901)."""
    return pointers.parse(field_to_pointer(field))


def _region_code(v: str | None) -> str | None:
    if v is not None and not re.fullmatch(r"[A-Za-z]{2}", v):
        raise ValueError(f"region {v!r} must be an ISO 3166 alpha-2 code, e.g. FR")
    return v.upper() if v is not None else None


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


def _identifier(v: str) -> str:
    if not IDENTIFIER_RE.match(v):
        raise ValueError(f"{v!r} is not a plain SQL identifier")
    return v


def _relative_file(v: str) -> str:
    """A file named relative to the contract's folder and inside it: no absolute path, drive,
    ``~`` or ``..`` (the rule of ``$ref``; links are resolved when the file is opened)."""
    parts = re.split(r"[/\\]", v)
    if v.startswith(("/", "\\", "~")) or re.match(r"^[A-Za-z]:", v) or "\x00" in v:
        raise ValueError(f"{v!r} must be a path relative to the contract's folder")
    if ".." in parts:
        raise ValueError(f"{v!r} must stay inside the contract's folder (no '..')")
    return v


def _column(v: str) -> str:
    if "." in v:
        raise ValueError(f"{v!r} is not a plain column name")
    return _identifier(v)


class ReferenceSpec(_Frozen):
    """A foreign key: ``field`` of the record must exist as ``table.column``."""

    field: str
    table: str
    column: str

    @field_validator("table", "column")
    @classmethod
    def _ident(cls, v: str) -> str:
        return _identifier(v)

    @property
    def path(self) -> str:
        return field_to_pointer(self.field)

    @property
    def field_column(self) -> str:
        """The top-level column holding the reference (``field`` without a leading ``/``)."""
        return self.field.lstrip("/")

    def orphan(self, value: Any) -> Violation:
        """The ``fk_violation`` of a record whose ``value`` has no parent row."""
        return Violation(
            ErrorCode.FK_VIOLATION,
            self.path,
            f"{self.field_column} {value!r} has no parent row in {self.table}.{self.column}",
            keyword="references",
        )

    def missing(self, value: Any) -> dict[str, Any]:
        """The missing reference, as the load's ``missing_references`` lists it."""
        return {
            "field": self.field_column,
            "table": self.table,
            "column": self.column,
            "value": value,
        }


#: Staging values ending with one of these are files (COPYed into a scratch table), not tables.
FILE_STAGING_SUFFIXES = (".csv", ".jsonl", ".ndjson", ".parquet")


class LoadSpec(_Frozen):
    """How ``dataquarantine load`` moves staging rows into a target table (the ``load:`` section).

    ``staging`` is a table, or a file (``.csv``, ``.jsonl``, ``.ndjson``, ``.parquet``, relative
    to the contract and inside its folder) that the load copies into a scratch table first.
    """

    staging: str
    target: str
    conflict_key: tuple[str, ...] = Field(min_length=1)
    #: Columns refreshed on conflict; ``None``: every common non-key column.
    update_columns: tuple[str, ...] | None = None
    #: Columns whose changes are written to ``<target>_history``.
    track_changes: tuple[str, ...] = ()
    batch_size: int = Field(default=100_000, ge=1, le=10_000_000)

    @field_validator("staging")
    @classmethod
    def _staging(cls, v: str) -> str:
        if v.lower().endswith(FILE_STAGING_SUFFIXES):
            return _relative_file(v)
        return _identifier(v)

    @field_validator("target")
    @classmethod
    def _target(cls, v: str) -> str:
        return _identifier(v)

    @field_validator("conflict_key", "update_columns", "track_changes")
    @classmethod
    def _columns(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if v is None:
            return v
        for name in v:
            _column(name)
        if len(set(v)) != len(v):
            raise ValueError("a column is listed twice")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> LoadSpec:
        keys = set(self.conflict_key)
        if self.update_columns is not None and keys & set(self.update_columns):
            raise ValueError("update_columns must not contain conflict_key columns")
        if keys & set(self.track_changes):
            raise ValueError("track_changes must not contain conflict_key columns")
        if (
            self.update_columns is not None
            and self.track_changes
            and not set(self.track_changes) <= set(self.update_columns)
        ):
            raise ValueError("track_changes columns must be among update_columns")
        return self

    @property
    def staging_is_file(self) -> bool:
        return self.staging.lower().endswith(FILE_STAGING_SUFFIXES)

    @property
    def history_table(self) -> str:
        """``<target>_history`` (in the target's schema)."""
        return f"{self.target}_history"


class RemediationSpec(_Frozen):
    """One automatic fix applied to an invalid record before it is validated again."""

    field: str
    action: RemediationAction
    #: ``default``: the value to set when the field is missing.
    value: Any = None
    #: ``rename``: the new field name.
    to: str | None = None
    #: ``e164_phone``: the region for numbers without a country code (ISO 3166 alpha-2);
    #: defaults to the contract's ``phone_region``.
    region: str | None = None
    #: ``iso_timestamp``: extra ``strptime`` formats to try (before the built-in ones).
    formats: tuple[str, ...] = ()
    #: ``iso_timestamp``: the unit of numeric (epoch) values; ``auto`` guesses by magnitude.
    epoch: EpochUnit = "auto"
    #: ``iso_timestamp``: the IANA zone of values without an offset (default UTC).
    timezone: str | None = None

    @field_validator("region")
    @classmethod
    def _region(cls, v: str | None) -> str | None:
        return _region_code(v)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                ZoneInfo(v)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {v!r}") from None
        return v

    @model_validator(mode="after")
    def _params(self) -> RemediationSpec:
        if self.action == "rename" and not self.to:
            raise ValueError("remediation 'rename' needs 'to'")
        if self.action == "default" and "value" not in self.model_fields_set:
            raise ValueError("remediation 'default' needs 'value'")
        given = self.model_fields_set & set(_ACTION_OPTIONS)
        wrong = sorted(o for o in given if self.action not in _ACTION_OPTIONS[o])
        if wrong:
            raise ValueError(f"remediation {self.action!r} does not take {', '.join(wrong)}")
        if not field_parts(self.field):
            raise ValueError("remediation 'field' must name a field, not the whole record")
        if self.to is not None and not field_parts(self.target):
            raise ValueError("remediation 'to' must name a field")
        return self

    @property
    def path(self) -> str:
        return field_to_pointer(self.field)

    @property
    def target(self) -> str:
        """``rename``: the JSON Pointer of the new field. A plain name stays in the same
        object; a dotted path or a JSON Pointer is taken from the record's root."""
        to = self.to or ""
        if to.startswith("/") or "." in to:
            return field_to_pointer(to)
        parent = self.path.rsplit("/", 1)[0]
        return parent + "/" + pointers.escape(to)


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
    #: Default region (ISO 3166 alpha-2) of ``e164_phone`` remediation rules without one.
    phone_region: str | None = None
    key: str | None = None
    #: ``dataquarantine load``: staging -> target, upsert key, tracked columns.
    load: LoadSpec | None = None
    #: Where the contract was read from (set by the loader; not part of the YAML).
    source_path: Path | None = Field(default=None, exclude=True)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if len(v) > MAX_NAME_LENGTH or not NAME_RE.match(v):
            raise ValueError(
                f"name {v[:MAX_NAME_LENGTH]!r} must be at most {MAX_NAME_LENGTH} characters of "
                "dot-separated segments of a-z, 0-9, '_' and '-' (not starting with '-')"
            )
        return v

    @field_validator("phone_region")
    @classmethod
    def _phone_region(cls, v: str | None) -> str | None:
        return _region_code(v)

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, v: object) -> Version:
        text = str(v)
        if len(text) > MAX_VERSION_LENGTH:
            raise ValueError(f"version is longer than {MAX_VERSION_LENGTH} characters")
        if isinstance(v, Version):
            return v
        return Version.parse(text)

    @model_validator(mode="after")
    def _shape(self) -> ContractSpec:
        given = [k for k in ("schema_", "schema_file", "model") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'schema', 'schema_file' or 'model'")
        if self.model is not None and self.format != "json":
            raise ValueError("'model' contracts use format: json")
        if self.schema_file is not None and (
            Path(self.schema_file).is_absolute() or "\0" in self.schema_file
        ):
            raise ValueError("schema_file must be a path relative to the contract's folder")
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
    def file_name(self) -> str:
        """``NAME@VERSION.yaml``: the file registration writes. ``@`` appears in neither part,
        so two contracts never share a file name."""
        return f"{self.name}@{self.version}.yaml"

    @property
    def key_pointer(self) -> str | None:
        return field_to_pointer(self.key) if self.key else None

    @property
    def base_dir(self) -> Path | None:
        return self.source_path.parent if self.source_path else None
