"""Validation outcomes as values: error codes, violations, per-record and per-batch results."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

__all__ = [
    "MAX_VIOLATIONS",
    "TRUNCATED",
    "BatchResult",
    "ContractRef",
    "ErrorCode",
    "Severity",
    "ValidationResult",
    "Violation",
    "ViolationSink",
]

#: Most violations listed per record; the rest are counted in one summary violation.
MAX_VIOLATIONS: Final = 100
#: The ``keyword`` of that summary violation (always the last one of a record).
TRUNCATED: Final = "truncated"


class ErrorCode(StrEnum):
    """Stable reason codes. They are stored as these strings; never rename one."""

    PARSE_ERROR = "parse_error"
    SCHEMA_NOT_FOUND = "schema_not_found"
    SCHEMA_VIOLATION = "schema_violation"
    RULE_VIOLATION = "rule_violation"
    FK_VIOLATION = "fk_violation"
    SYSTEM_ERROR = "system_error"
    #: Another tool (Kafka Connect, a Confluent rule, Spring Kafka) sent the record to its DLQ.
    UPSTREAM_ERROR = "upstream_error"
    #: A dbt test failed on a row of a model; ``rule`` is the test, ``keyword`` its kind.
    DBT_TEST_FAILURE = "dbt_test_failure"


class Severity(StrEnum):
    """``error`` quarantines the record; ``warn`` lets it pass, counted and flagged."""

    ERROR = "error"
    WARN = "warn"


@dataclass(frozen=True, slots=True)
class ContractRef:
    """Which contract (name and exact version) a record was validated against."""

    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass(frozen=True, slots=True)
class Violation:
    """One problem found in one record.

    ``path`` is an RFC 6901 JSON Pointer to the offending value (``""`` is the whole record);
    for a missing required property it points at the property that should be there.
    """

    code: ErrorCode
    path: str
    message: str
    rule: str | None = None
    keyword: str | None = None
    severity: Severity = Severity.ERROR

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; ``None`` fields are left out."""
        out: dict[str, Any] = {"code": self.code.value, "path": self.path, "message": self.message}
        if self.rule is not None:
            out["rule"] = self.rule
        if self.keyword is not None:
            out["keyword"] = self.keyword
        if self.severity is not Severity.ERROR:
            out["severity"] = self.severity.value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Violation:
        """Inverse of :meth:`to_dict`."""
        return cls(
            code=ErrorCode(data["code"]),
            path=str(data.get("path", "")),
            message=str(data.get("message", "")),
            rule=data.get("rule"),
            keyword=data.get("keyword"),
            severity=Severity(data.get("severity", Severity.ERROR.value)),
        )


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """The outcome for one record.

    ``errors`` holds every error-severity violation (the record is valid when it is empty);
    ``warnings`` holds the warn-severity rule violations of a record that may still be valid.
    ``value`` is the decoded record when decoding succeeded, else ``None``.
    """

    valid: bool
    errors: tuple[Violation, ...] = ()
    warnings: tuple[Violation, ...] = ()
    value: Any = None
    contract: ContractRef | None = None
    #: Error violations found but not listed in ``errors`` (whose last entry, keyword
    #: :data:`TRUNCATED`, then says so). See :class:`ViolationSink`.
    truncated: int = 0

    @property
    def complete(self) -> bool:
        """False when ``errors`` does not list every violation (see :data:`TRUNCATED`)."""
        return not (self.errors and self.errors[-1].keyword == TRUNCATED)

    @property
    def codes(self) -> tuple[ErrorCode, ...]:
        """The distinct error codes, in first-seen order."""
        return tuple(dict.fromkeys(v.code for v in self.errors))

    @property
    def primary(self) -> Violation | None:
        """The first error, used where one headline is needed (DLQ headers, list views)."""
        return self.errors[0] if self.errors else None


class ViolationSink:
    """The error violations of one record, as they are found: the first ``limit`` are kept,
    the others only counted, so a record never holds more than ``limit`` of them whatever
    its schema or size.

    A validator that stops looking (the violations would cost too much to enumerate) calls
    :meth:`stop`. :meth:`listed` gives the kept violations followed, when any were left out,
    by one summary violation: code of the first one left out (``schema_violation`` when none
    was found), path ``""``, keyword :data:`TRUNCATED`.
    """

    __slots__ = ("dropped", "first_dropped", "kept", "limit", "stopped")

    def __init__(self, limit: int = MAX_VIOLATIONS) -> None:
        self.limit = limit
        self.kept: list[Violation] = []
        self.dropped = 0
        self.first_dropped: ErrorCode | None = None
        self.stopped: str | None = None

    def append(self, violation: Violation) -> None:
        if len(self.kept) < self.limit:
            self.kept.append(violation)
            return
        if self.first_dropped is None:
            self.first_dropped = violation.code
        self.dropped += 1

    def extend(self, violations: Iterable[Violation]) -> None:
        for violation in violations:
            self.append(violation)

    @property
    def room(self) -> int:
        """How many more violations would still be kept."""
        return max(self.limit - len(self.kept), 0)

    def skip(self, count: int, code: ErrorCode) -> None:
        """Count ``count`` violations of ``code`` without building them (past the limit)."""
        if count > 0:
            if self.first_dropped is None:
                self.first_dropped = code
            self.dropped += count

    def stop(self, reason: str) -> None:
        """Say that the violations beyond those appended were not looked for, and why."""
        self.stopped = reason

    def __len__(self) -> int:
        return len(self.kept) + self.dropped

    def listed(self) -> list[Violation]:
        """The kept violations, then the summary violation when any were left out."""
        if not self.dropped and self.stopped is None:
            return list(self.kept)
        if self.stopped is None:
            message = (
                f"{self.dropped} more violation(s) not listed "
                f"(at most {self.limit} are listed per record)"
            )
        elif self.dropped:
            message = f"{self.dropped} more violation(s) not listed; others not looked for: "
            message += self.stopped
        else:
            message = "further violations were not looked for: " + self.stopped
        code = self.first_dropped or ErrorCode.SCHEMA_VIOLATION
        return [*self.kept, Violation(code, "", message, keyword=TRUNCATED)]


@dataclass(slots=True)
class BatchResult:
    """The outcome of a batch, built for speed: valid records get no per-record object.

    ``values[i]`` is the decoded record ``i`` (``None`` when it did not decode, or when the
    batch was validated with ``keep_values=False`` and the record is valid),
    ``contracts[i]`` the contract it was validated against (``None`` when none was found),
    ``invalid`` maps the index of each invalid record to its full result and ``warnings`` maps
    the index of each *valid* record that carries warn-severity violations to them.
    """

    size: int
    values: list[Any]
    contracts: list[ContractRef | None]
    invalid: dict[int, ValidationResult] = field(default_factory=dict)
    warnings: dict[int, tuple[Violation, ...]] = field(default_factory=dict)

    @property
    def valid_count(self) -> int:
        return self.size - len(self.invalid)

    @property
    def invalid_count(self) -> int:
        return len(self.invalid)

    def is_valid(self, index: int) -> bool:
        return index not in self.invalid

    def result(self, index: int) -> ValidationResult:
        """The full result of record ``index`` (materialised on demand for valid ones)."""
        bad = self.invalid.get(index)
        if bad is not None:
            return bad
        return ValidationResult(
            valid=True,
            warnings=self.warnings.get(index, ()),
            value=self.values[index],
            contract=self.contracts[index],
        )
