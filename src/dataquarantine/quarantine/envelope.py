"""The quarantine envelope: one shape for every quarantined record, whatever its source."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from dataquarantine.kernel.lifecycle import Status
from dataquarantine.kernel.results import ContractRef, ErrorCode, Violation
from dataquarantine.kernel.revisions import Revision

__all__ = [
    "DLQ_HEADER_PREFIXES",
    "ENVELOPE_NAMESPACE",
    "DlqSource",
    "FileSource",
    "KafkaSource",
    "PayloadRef",
    "QuarantineFilter",
    "QuarantineItem",
    "QuarantineRecord",
    "Source",
    "TableSource",
    "source_from_dict",
]

#: Namespace of the deterministic (uuid5) quarantine ids.
ENVELOPE_NAMESPACE = uuid.UUID("6f1c8f3e-2d4b-5a7e-9c1d-0b8e4f2a7d31")


def uuid5(name: str) -> uuid.UUID:
    """``uuid.uuid5(ENVELOPE_NAMESPACE, name)``, tolerant of lone surrogates in ``name``."""
    data = _NAMESPACE_BYTES + name.encode("utf-8", "surrogatepass")
    digest = hashlib.sha1(data, usedforsecurity=False).digest()  # RFC 4122 v5 is SHA-1
    return uuid.UUID(bytes=digest[:16], version=5)


_NAMESPACE_BYTES = ENVELOPE_NAMESPACE.bytes


@dataclass(frozen=True, slots=True)
class FileSource:
    """A record read from a file. ``line`` is the 1-based line (JSONL) or row (CSV/Parquet).

    A record located by its byte ``offset`` instead (JSON lines read by Spark, which numbers no
    lines: see docs/spark.md) has ``line=None``; its coordinates are ``file:<uri>@<offset>``,
    which never collide with the line form."""

    uri: str
    line: int | None
    kind: Literal["file"] = "file"
    #: The byte where the record's line starts, for records located by offset.
    offset: int | None = None

    def __post_init__(self) -> None:
        if (self.line is None) == (self.offset is None):
            raise ValueError("a file source has either a line or a byte offset")

    @property
    def name(self) -> str:
        return self.uri

    @property
    def coordinates(self) -> str:
        if self.offset is not None:
            return f"file:{self.uri}@{self.offset}"
        return f"file:{self.uri}:{self.line}"

    @property
    def position(self) -> str:
        """``:<line>`` or ``@<offset>``: where in the file, as the coordinates write it."""
        return f"@{self.offset}" if self.offset is not None else f":{self.line}"

    def to_dict(self) -> dict[str, Any]:
        if self.offset is not None:
            return {"kind": self.kind, "uri": self.uri, "offset": self.offset}
        return {"kind": self.kind, "uri": self.uri, "line": self.line}


@dataclass(frozen=True, slots=True)
class KafkaSource:
    topic: str
    partition: int
    offset: int
    kind: Literal["kafka"] = "kafka"

    @property
    def name(self) -> str:
        return self.topic

    @property
    def coordinates(self) -> str:
        return f"kafka:{self.topic}:{self.partition}:{self.offset}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
        }


@dataclass(frozen=True, slots=True)
class TableSource:
    table: str
    key: str
    kind: Literal["table"] = "table"

    @property
    def name(self) -> str:
        return self.table

    @property
    def coordinates(self) -> str:
        return f"table:{self.table}:{self.key}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "table": self.table, "key": self.key}


#: Prefixes of the headers DLQ tools add: Kafka Connect, Confluent rules, Spring Kafka.
DLQ_HEADER_PREFIXES = ("__connect.errors.", "__rule.", "kafka_dlt-")


@dataclass(frozen=True, slots=True)
class DlqSource:
    """A record read from another tool's dead-letter topic (``dlq ingest``).

    ``topic``, ``partition`` and ``offset`` are the DLQ message's own coordinates (they make
    the id); ``origin`` is where the record first was, as the DLQ headers say (``None`` when
    they do not say). ``key`` and ``headers`` are the DLQ message's, kept for a replay.
    """

    topic: str
    partition: int
    offset: int
    dialect: str
    origin: KafkaSource | None = None
    #: A topic named without partition or offset (Confluent rules say only the topic).
    origin_topic: str | None = None
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()
    kind: Literal["dlq"] = "dlq"

    @property
    def name(self) -> str:
        return self.topic

    @property
    def coordinates(self) -> str:
        return f"dlq:{self.topic}:{self.partition}:{self.offset}"

    @property
    def original_topic(self) -> str | None:
        """The topic the record came from, when the headers name it."""
        return self.origin.topic if self.origin is not None else self.origin_topic

    def original_headers(self) -> list[tuple[str, bytes]]:
        """The headers without those the DLQ tool added: the original message's own."""
        return [(k, v) for k, v in self.headers if not k.startswith(DLQ_HEADER_PREFIXES)]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "dialect": self.dialect,
            "origin": self.origin.to_dict() if self.origin is not None else None,
            "origin_topic": self.origin_topic,
            "key_b64": _b64(self.key) if self.key is not None else None,
            "headers": [[k, _b64(v)] for k, v in self.headers],
        }
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DlqSource:
        origin = data.get("origin")
        key = data.get("key_b64")
        return cls(
            topic=str(data["topic"]),
            partition=int(data["partition"]),
            offset=int(data["offset"]),
            dialect=str(data.get("dialect", "")),
            origin=(
                KafkaSource(str(origin["topic"]), int(origin["partition"]), int(origin["offset"]))
                if origin
                else None
            ),
            origin_topic=data.get("origin_topic"),
            key=base64.b64decode(key) if key is not None else None,
            headers=tuple((str(k), base64.b64decode(v)) for k, v in data.get("headers") or ()),
        )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


Source = FileSource | KafkaSource | TableSource | DlqSource


def source_from_dict(data: Mapping[str, Any]) -> Source:
    kind = data.get("kind")
    if kind == "file":
        if data.get("line") is None and "offset" in data:
            return FileSource(uri=str(data["uri"]), line=None, offset=int(data["offset"]))
        return FileSource(uri=str(data["uri"]), line=int(data["line"]))
    if kind == "kafka":
        return KafkaSource(
            topic=str(data["topic"]), partition=int(data["partition"]), offset=int(data["offset"])
        )
    if kind == "table":
        return TableSource(table=str(data["table"]), key=str(data["key"]))
    if kind == "dlq":
        return DlqSource.from_dict(data)
    raise ValueError(f"unknown source kind {kind!r}")


@dataclass(frozen=True, slots=True)
class PayloadRef:
    """Where the original bytes live: a byte range of one payload chunk object."""

    key: str
    offset: int
    length: int
    sha256: str


@dataclass(frozen=True, slots=True)
class QuarantineItem:
    """What a producer (file run, stream, load) hands to the quarantine: one bad record."""

    source: Source
    payload: bytes
    errors: tuple[Violation, ...]
    contract: ContractRef | None = None
    run_id: str = ""
    #: The remediation attempt, stored as revision 1 beside the untouched original. With a
    #: valid attempt the record went on downstream and is stored with status ``remediated``.
    remediation: Revision | None = None
    #: ``(payload SHA-256 hex, record id)`` when whoever built the item needed them already
    #: (the stream worker puts the id in the DLQ message): the write then does not hash the
    #: payload again. See :meth:`identified`.
    identity: tuple[str, uuid.UUID] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def identified(
        cls,
        source: Source,
        payload: bytes,
        errors: tuple[Violation, ...],
        contract: ContractRef | None = None,
        run_id: str = "",
        remediation: Revision | None = None,
    ) -> QuarantineItem:
        """An item with its :attr:`identity` computed."""
        digest = hashlib.sha256(payload).hexdigest()
        record_id = uuid5(f"{source.coordinates}#{digest}")
        return cls(source, payload, errors, contract, run_id, remediation, (digest, record_id))

    @property
    def status(self) -> Status:
        """``remediated`` when the remediation attempt made the record valid."""
        if self.remediation is not None and self.remediation.valid:
            return Status.REMEDIATED
        return Status.QUARANTINED

    @property
    def payload_sha256(self) -> str:
        if self.identity is not None:
            return self.identity[0]
        return hashlib.sha256(self.payload).hexdigest()

    def dedup_key(self, digest: str | None = None) -> str:
        """Same source coordinates and same bytes -> same key (and so the same id)."""
        return f"{self.source.coordinates}#{digest or self.payload_sha256}"

    def record_id(self, digest: str | None = None) -> uuid.UUID:
        """uuid5 of the dedup key (names that are not valid UTF-8, e.g. file names with
        undecodable bytes, are encoded with ``surrogatepass`` instead of failing)."""
        if self.identity is not None and digest in (None, self.identity[0]):
            return self.identity[1]
        return uuid5(self.dedup_key(digest))


@dataclass(frozen=True, slots=True)
class QuarantineRecord:
    """The stored envelope (metadata; the payload is fetched through :class:`PayloadRef`)."""

    id: uuid.UUID
    source: Source
    errors: tuple[Violation, ...]
    payload: PayloadRef
    contract: str | None = None
    contract_version: str | None = None
    status: Status = Status.QUARANTINED
    attempts: int = 0
    quarantined_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    run_id: str = ""
    dedup_key: str = ""

    @property
    def error_code(self) -> ErrorCode:
        """The headline code (of the first violation)."""
        return self.errors[0].code if self.errors else ErrorCode.SYSTEM_ERROR

    @property
    def codes(self) -> tuple[ErrorCode, ...]:
        return tuple(dict.fromkeys(v.code for v in self.errors))

    def to_dict(self) -> dict[str, Any]:
        """The JSON envelope (without the payload bytes)."""
        return {
            "id": str(self.id),
            "contract": self.contract,
            "contract_version": self.contract_version,
            "source": self.source.to_dict(),
            "errors": [v.to_dict() for v in self.errors],
            "error_code": self.error_code.value,
            "status": self.status.value,
            "attempts": self.attempts,
            "quarantined_at": self.quarantined_at.isoformat(),
            "run_id": self.run_id,
            "payload": {
                "key": self.payload.key,
                "offset": self.payload.offset,
                "length": self.payload.length,
                "sha256": self.payload.sha256,
            },
        }


@dataclass(frozen=True, slots=True)
class QuarantineFilter:
    """Filters for listing; every field is optional and they combine with AND."""

    contract: str | None = None
    code: ErrorCode | None = None
    status: Status | None = None
    source_kind: Literal["file", "kafka", "table", "dlq"] | None = None
    #: Topic, file URI or table name (exact match).
    source_name: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    run_id: str | None = None
    #: Case-insensitive substring of any error message.
    text: str | None = None
    #: Path of any violation (exact), a JSON Pointer such as ``/status``.
    path: str | None = None
