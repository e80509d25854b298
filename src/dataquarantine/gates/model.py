"""Quality gates as plain data: what a gates YAML file says, checked but not executed.

A gate is a read-only assertion about a database: its query returns the *violating* rows, and
zero rows means it passes. :mod:`dataquarantine.gates.render` turns a gate into SQL and
:mod:`dataquarantine.gates.runner` runs it; nothing here touches a database.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from dataquarantine.contracts.model import IDENTIFIER_RE
from dataquarantine.errors import ConfigError, GateDefinitionError
from dataquarantine.gates.duration import parse_duration, parse_statement_timeout
from dataquarantine.safe_yaml import read_yaml

__all__ = [
    "KINDS",
    "ColumnRef",
    "FreshnessGate",
    "Gate",
    "GateKind",
    "GateSeverity",
    "GateSuite",
    "MaxPerKeyGate",
    "NotNullGate",
    "RelationshipGate",
    "RowCountGate",
    "SqlGate",
    "UniqueGate",
    "gates_from_dict",
    "load_gates",
]

GateKind = Literal[
    "not_null", "relationship", "max_per_key", "unique", "row_count", "freshness", "sql"
]
KINDS: tuple[GateKind, ...] = (
    "not_null",
    "relationship",
    "max_per_key",
    "unique",
    "row_count",
    "freshness",
    "sql",
)

_GATE_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")
_COLUMN_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}\Z")


class GateSeverity(StrEnum):
    """``required`` gates decide the run; ``informational`` ones only report."""

    REQUIRED = "required"
    INFORMATIONAL = "informational"


def _table(value: Any) -> Any:
    if isinstance(value, str) and not IDENTIFIER_RE.match(value):
        raise ValueError(
            f"{value!r} is not a plain SQL table name (letters, digits and _, "
            "optionally schema.table, at most 63 characters each)"
        )
    return value


def _column(value: Any) -> Any:
    if isinstance(value, str) and not _COLUMN_RE.match(value):
        raise ValueError(
            f"{value!r} is not a plain SQL column name (letters, digits and _, at most 63)"
        )
    return value


def _sql_text(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip().rstrip(";").rstrip()
        if not value:
            raise ValueError("must not be empty")
    return value


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


TableName = Annotated[str, BeforeValidator(_table)]
ColumnName = Annotated[str, BeforeValidator(_column)]
#: The user's own SQL (``where:`` and ``sql:``), pasted by design; trailing ``;`` removed.
SqlText = Annotated[str, BeforeValidator(_sql_text)]
Columns = Annotated[tuple[ColumnName, ...], BeforeValidator(_one_or_many), Field(min_length=1)]
Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
#: At most PostgreSQL's limit (see :data:`~dataquarantine.gates.duration.MAX_STATEMENT_TIMEOUT`).
StatementTimeout = Annotated[timedelta, BeforeValidator(parse_statement_timeout)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ColumnRef(_Frozen):
    """One column of one table."""

    table: TableName
    column: ColumnName


class _GateBase(_Frozen):
    name: str
    description: str | None = None
    severity: GateSeverity = GateSeverity.REQUIRED
    #: Sample rows to show (default: the run's ``--samples``).
    sample_size: int | None = Field(default=None, ge=0, le=1000)
    #: Overrides the run's ``--statement-timeout`` for this gate.
    statement_timeout: StatementTimeout | None = None

    @field_validator("name")
    @classmethod
    def _check_name(cls, v: str) -> str:
        if not _GATE_NAME_RE.match(v):
            raise ValueError(f"gate name {v!r}: use letters, digits, _ . - (at most 128)")
        return v

    @property
    def is_report(self) -> bool:
        """True when the rows are a report to show, not violations."""
        return False


class NotNullGate(_GateBase):
    """Violating rows: those where ``column`` is NULL (among rows matching ``where``)."""

    kind: Literal["not_null"]
    table: TableName
    column: ColumnName
    where: SqlText | None = None


class RelationshipGate(_GateBase):
    """Violating rows: child rows with a non-NULL key that no parent row has."""

    kind: Literal["relationship"]
    child: ColumnRef
    parent: ColumnRef
    #: Restricts the child rows checked.
    where: SqlText | None = None


class MaxPerKeyGate(_GateBase):
    """Violating rows: keys with more than ``max`` rows matching ``where`` (NULL keys ignored)."""

    kind: Literal["max_per_key"]
    table: TableName
    key: Columns
    max: int = Field(default=1, ge=0)
    where: SqlText | None = None


class UniqueGate(_GateBase):
    """Violating rows: values of ``columns`` held by more than one row (NULLs never collide)."""

    kind: Literal["unique"]
    table: TableName
    columns: Columns
    #: Compare ``lower(column::text)``, as a unique index on ``lower(email)`` would.
    ignore_case: bool = False
    where: SqlText | None = None


class RowCountGate(_GateBase):
    """Violating row: one row with the actual count when it is below ``min`` or above ``max``."""

    kind: Literal["row_count"]
    table: TableName
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)
    where: SqlText | None = None

    @model_validator(mode="after")
    def _bounds(self) -> RowCountGate:
        if self.min is None and self.max is None:
            raise ValueError("row_count needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class FreshnessGate(_GateBase):
    """Violating row: the newest ``column`` value and its age, when older than ``max_age``.

    An empty table (or no row matching ``where``) fails too: no data is not fresh data.
    """

    kind: Literal["freshness"]
    table: TableName
    column: ColumnName
    max_age: Duration
    where: SqlText | None = None


class SqlGate(_GateBase):
    """A custom read-only query. With ``expect_rows: 0`` its rows are violations; without it
    the gate is a report (status INFO) and must be informational."""

    kind: Literal["sql"]
    sql: SqlText
    expect_rows: Literal[0] | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_severity(cls, data: Any) -> Any:
        # A report cannot pass or fail, so it is informational unless said otherwise.
        if isinstance(data, dict) and data.get("expect_rows") is None and "severity" not in data:
            return {**data, "severity": GateSeverity.INFORMATIONAL.value}
        return data

    @model_validator(mode="after")
    def _report_is_informational(self) -> SqlGate:
        if self.expect_rows is None and self.severity is GateSeverity.REQUIRED:
            raise ValueError(
                "a required sql gate needs `expect_rows: 0` (its rows are the violations); "
                "without it the gate is a report and must be informational"
            )
        return self

    @property
    def is_report(self) -> bool:
        return self.expect_rows is None


Gate = Annotated[
    NotNullGate
    | RelationshipGate
    | MaxPerKeyGate
    | UniqueGate
    | RowCountGate
    | FreshnessGate
    | SqlGate,
    Field(discriminator="kind"),
]


class GateSuite(_Frozen):
    """The gates of one file, in file order; names are unique."""

    gates: tuple[Gate, ...] = Field(min_length=1)
    description: str | None = None
    #: Where the gates came from (not part of the file).
    source: Path | None = Field(default=None, exclude=True)

    @field_validator("gates")
    @classmethod
    def _unique_names(cls, gates: tuple[Gate, ...]) -> tuple[Gate, ...]:
        seen: set[str] = set()
        for gate in gates:
            if gate.name in seen:
                raise ValueError(f"two gates are named {gate.name!r}")
            seen.add(gate.name)
        return gates

    @property
    def name(self) -> str:
        """The file's stem, or ``gates``."""
        return self.source.stem if self.source is not None else "gates"

    def select(self, names: Sequence[str]) -> GateSuite:
        """Only the named gates (in file order); ConfigError naming any unknown name."""
        if not names:
            return self
        wanted = set(names)
        unknown = sorted(wanted - {g.name for g in self.gates})
        if unknown:
            known = ", ".join(g.name for g in self.gates)
            raise ConfigError(f"no gate named {', '.join(map(repr, unknown))} (gates: {known})")
        return self.model_copy(update={"gates": tuple(g for g in self.gates if g.name in wanted)})


def gates_from_dict(data: Any, *, source: Path | str | None = None) -> GateSuite:
    """Check a parsed gates document; GateDefinitionError (naming ``source``) when it is bad."""
    if not isinstance(data, dict):
        raise GateDefinitionError("a gates file is a mapping with a `gates:` list", source=source)
    try:
        suite = GateSuite.model_validate(data)
    except ValidationError as exc:
        raise GateDefinitionError(_describe(exc, data), source=source) from None
    return suite.model_copy(update={"source": Path(source)}) if source is not None else suite


def load_gates(path: Path | str) -> GateSuite:
    """Read and check a gates YAML file; GateDefinitionError naming the file when it is bad."""
    path = Path(path)
    try:
        data = read_yaml(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise GateDefinitionError(f"cannot read: {exc}", source=path) from exc
    except yaml.YAMLError as exc:
        raise GateDefinitionError(f"invalid YAML: {exc}", source=path) from None
    return gates_from_dict(data, source=path)


def _describe(exc: ValidationError, data: dict[str, Any]) -> str:
    """Pydantic's errors as ``gates[2] (orphan_leads): child.table: <problem>`` lines."""
    gates = data.get("gates")
    lines: list[str] = []
    errors = exc.errors()
    if any(len(e["loc"]) > 1 and e["loc"][0] == "gates" for e in errors):
        # A bad gate also makes pydantic call the list too short: say only what is wrong.
        errors = [e for e in errors if not (e["loc"] == ("gates",) and e["type"] == "too_short")]
    for err in errors:
        loc = list(err["loc"])
        where: list[str] = []
        if len(loc) >= 2 and loc[0] == "gates" and isinstance(loc[1], int):
            index = loc[1]
            name = None
            if isinstance(gates, list) and index < len(gates) and isinstance(gates[index], dict):
                name = gates[index].get("name")
            where.append(f"gates[{index}]" + (f" ({name})" if isinstance(name, str) else ""))
            loc = loc[2:]
            if loc and loc[0] in KINDS:  # pydantic's discriminator tag: not a field
                loc = loc[1:]
        else:
            where.extend(str(p) for p in loc[:1])
            loc = loc[1:]
        field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "union_tag_not_found":
            message = f"missing `kind` (one of {', '.join(KINDS)})"
        elif err["type"] == "union_tag_invalid":
            message = f"unknown kind {err['input'].get('kind')!r} (one of {', '.join(KINDS)})"
        elif err["type"] == "extra_forbidden":
            message = "unknown field"
        prefix = ": ".join(p for p in (" ".join(where), field) if p)
        lines.append(f"{prefix}: {message}" if prefix else message)
    return "; ".join(lines)
