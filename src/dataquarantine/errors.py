"""The exception tree of DataQuarantine.

Bad *data* is never an exception: it is a :class:`~dataquarantine.kernel.results.Violation`
value. Exceptions are for bad configuration and for failing infrastructure. Every leaf says
whether it is **transient** (retry, pause or spool: the same call may succeed later) or
**terminal** (retrying cannot help), so "retry or give up" is one check: :func:`is_transient`.
Third-party exceptions (psycopg, sqlite3, botocore, yaml, ...) are translated into this tree at
the adapter boundary and chained with ``raise ... from``.

::

    DataQuarantineError
    ├── ConfigError                       terminal  bad settings, URL or usage
    │   ├── MissingExtraError             terminal  a feature whose optional extra is not installed
    │   ├── UnsafeIdentifierError         terminal  a SQL identifier that is not a plain name
    │   ├── UnsafeSqlError                terminal  a gate's SQL that is not one read-only query
    │   └── GateDefinitionError           terminal  a quality-gates file cannot be used (names it)
    ├── ContractError                     terminal  a contract file cannot be used (names the file)
    │   ├── ContractSyntaxError           terminal  invalid YAML / JSON / field values
    │   ├── SchemaCompileError            terminal  invalid JSON Schema, Avro schema or model
    │   ├── RuleCompileError              terminal  a CEL expression that does not compile
    │   ├── DuplicateContractError        terminal  two files define the same name + version
    │   └── IncompatibleContractError     terminal  a new version breaks backward compatibility
    ├── ContractNotFoundError             terminal  no contract with that name / version
    ├── RuleEvaluationError               terminal  a CEL expression's evaluation error
    ├── StoreError                        (base of the quarantine metadata store)
    │   ├── StoreUnavailableError         transient connection refused, database down, locked
    │   └── StoreIntegrityError           terminal  schema mismatch, constraint, corrupt row
    ├── PayloadStoreError                 (base of the payload object store)
    │   ├── PayloadStoreUnavailableError  transient endpoint down, timeout, throttled
    │   └── PayloadNotFoundError          terminal  the object or range does not exist
    ├── BrokerError                       (base of the Kafka broker / client)
    │   ├── BrokerUnavailableError        transient broker unreachable, timeout, coordinator moving
    │   └── BrokerFatalError              terminal  authentication, authorisation, fatal producer
    ├── InputError                        terminal  an input file cannot be read or decoded
    ├── OutputError                       terminal  an output cannot be written (disk full, ...)
    ├── WorkerError                       terminal  a validation worker process died
    ├── RecordNotFoundError               terminal  no quarantined record with that id
    ├── StatusConflictError               terminal  the record's status forbids the action
    ├── JobNotFoundError                  terminal  no background job with that id
    ├── LoadError                         terminal  a batch load statement failed (rolled back)
    ├── RegistryError                     terminal  a contract registry refused a request
    │   └── RegistryUnavailableError      transient the contract registry cannot be reached
    └── DatabaseUnavailableError          transient a database under inspection cannot be reached
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from dataquarantine.masking import mask_secrets

__all__ = [
    "BrokerError",
    "BrokerFatalError",
    "BrokerUnavailableError",
    "ConfigError",
    "ContractError",
    "ContractNotFoundError",
    "ContractSyntaxError",
    "DataQuarantineError",
    "DatabaseUnavailableError",
    "DuplicateContractError",
    "FixDefinitionError",
    "GateDefinitionError",
    "IncompatibleContractError",
    "InputError",
    "JobNotFoundError",
    "LoadError",
    "MissingExtraError",
    "OutputError",
    "PayloadNotFoundError",
    "PayloadStoreError",
    "PayloadStoreUnavailableError",
    "RecordNotFoundError",
    "RegistryError",
    "RegistryUnavailableError",
    "RuleCompileError",
    "RuleEvaluationError",
    "SchemaCompileError",
    "StatusConflictError",
    "StoreError",
    "StoreIntegrityError",
    "StoreUnavailableError",
    "UnsafeIdentifierError",
    "UnsafeSqlError",
    "WorkerError",
    "is_transient",
]


class DataQuarantineError(Exception):
    """Root of every exception raised by DataQuarantine.

    Its message is masked on construction (:func:`~dataquarantine.masking.mask_secrets`): a
    driver's text or a URL carried into it never shows a password or key, wherever it goes.
    """

    transient: ClassVar[bool] = False

    def __init__(self, *args: object) -> None:
        super().__init__(*(mask_secrets(a) if isinstance(a, str) else a for a in args))


class ConfigError(DataQuarantineError):
    """Invalid settings, URL or command-line usage."""


class MissingExtraError(ConfigError):
    """A feature needs an optional extra that is not installed. The message names the extra and
    the ``pip install`` command; ``extra`` and ``feature`` carry them."""

    def __init__(self, extra: str, feature: str) -> None:
        self.extra = extra
        self.feature = feature
        super().__init__(
            f"{feature} needs the {extra!r} extra: pip install 'dataquarantine[{extra}]'"
        )


class UnsafeIdentifierError(ConfigError):
    """A table or column name that is not a plain SQL identifier (e.g. ``x; DROP TABLE y``)."""


class UnsafeSqlError(ConfigError):
    """A gate's SQL that is not one read-only query, or calls a refused function (never sent).

    ``construct`` names what was refused (``COPY``, ``pg_read_file()``, ...); ``code`` is the
    stable reason code a gate result carries."""

    code: ClassVar[str] = "unsafe_sql"

    def __init__(self, message: str, *, construct: str) -> None:
        self.construct = construct
        super().__init__(message)


class GateDefinitionError(ConfigError):
    """A quality-gates file or definition cannot be used. The message names the file."""

    def __init__(self, message: str, *, source: Path | str | None = None) -> None:
        self.source = str(source) if source is not None else None
        self.problem = message
        super().__init__(f"{self.source}: {message}" if self.source else message)


class FixDefinitionError(ConfigError):
    """A bulk fix cannot be used: a step that does not parse, or a fix that cannot become a
    remediation rule. The message names the step."""


class ContractError(DataQuarantineError):
    """A contract file or definition cannot be used. The message names the file."""

    def __init__(self, message: str, *, source: Path | str | None = None) -> None:
        self.source = str(source) if source is not None else None
        self.problem = message
        super().__init__(f"{self.source}: {message}" if self.source else message)


class ContractSyntaxError(ContractError):
    """Invalid YAML or JSON, a missing field or a field with a bad value."""


class SchemaCompileError(ContractError):
    """The JSON Schema, Avro schema or typed model does not compile."""


class RuleCompileError(ContractError):
    """A CEL business rule that does not compile."""


class RuleEvaluationError(DataQuarantineError):
    """A CEL expression evaluated to an error (no such key, no matching overload, overflow,
    an exceeded cost budget, ...) through the public ``Expression.evaluate``. Inside a
    contract the same outcome is a ``rule_violation``, never an exception."""


class DuplicateContractError(ContractError):
    """Two contract files define the same name and version."""


class IncompatibleContractError(ContractError):
    """A new contract version would reject records the previous version accepted.

    ``reasons`` lists every breaking change found."""

    def __init__(
        self, message: str, *, reasons: tuple[str, ...] = (), source: Path | str | None = None
    ) -> None:
        self.reasons = reasons
        super().__init__(message, source=source)


class ContractNotFoundError(DataQuarantineError):
    """No contract is registered under that name (and version)."""

    def __init__(self, name: str, version: str | None = None) -> None:
        self.name = name
        self.version = version
        ref = f"{name}@{version}" if version else name
        super().__init__(f"no contract named {ref!r}")


class StoreError(DataQuarantineError):
    """The quarantine metadata store failed."""


class StoreUnavailableError(StoreError):
    """The metadata store cannot be reached right now."""

    transient = True


class StoreIntegrityError(StoreError):
    """The metadata store answered, but the data or its schema is wrong."""


class PayloadStoreError(DataQuarantineError):
    """The payload object store failed."""


class PayloadStoreUnavailableError(PayloadStoreError):
    """The payload object store cannot be reached right now."""

    transient = True


class PayloadNotFoundError(PayloadStoreError):
    """The payload object (or byte range) does not exist."""


class BrokerError(DataQuarantineError):
    """The Kafka broker or client failed."""


class BrokerUnavailableError(BrokerError):
    """The broker cannot be reached right now (or the group coordinator is moving)."""

    transient = True


class BrokerFatalError(BrokerError):
    """The broker refused for good (authentication, authorisation) or a client is unusable."""


class InputError(DataQuarantineError):
    """An input exists but cannot be used: unreadable, corrupt, or not decodable (e.g. a CSV
    header that is not UTF-8, a damaged Parquet file). A runtime failure, not a usage error."""


class OutputError(DataQuarantineError):
    """An output could not be written (no space, a closed pipe, an I/O error): the run did not
    deliver its output and must not claim success."""


class WorkerError(DataQuarantineError):
    """A worker process of ``validate --workers`` died (killed, out of memory): the run
    published nothing; running it again completes it (quarantine writes are idempotent)."""


class RecordNotFoundError(DataQuarantineError):
    """No quarantined record has that id."""


class LoadError(DataQuarantineError):
    """A statement of ``dataquarantine load`` failed in the database (the batch rolled back)."""


class StatusConflictError(DataQuarantineError):
    """The record's current status does not allow the action (e.g. resolving it twice)."""


class JobNotFoundError(DataQuarantineError):
    """No background job has that id (ids do not survive a restart)."""


class DatabaseUnavailableError(DataQuarantineError):
    """A database that a command inspects (e.g. with quality gates) cannot be reached."""

    transient = True


class RegistryError(DataQuarantineError):
    """A contract registry (PostgreSQL, S3) refused a request: access denied, a bad bucket,
    a corrupt entry."""


class RegistryUnavailableError(RegistryError):
    """The contract registry cannot be reached now (database down, endpoint unreachable)."""

    transient = True


def is_transient(exc: BaseException) -> bool:
    """True when retrying the failed operation later may succeed."""
    return isinstance(exc, DataQuarantineError) and exc.transient
