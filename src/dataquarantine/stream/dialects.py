"""The headers other tools put on their dead-letter messages, read into one
:class:`UpstreamError`.

=============  ==========================================  ====================================
dialect        written by                                  headers
=============  ==========================================  ====================================
``connect``    Kafka Connect (``DeadLetterQueueReporter``)  ``__connect.errors.topic``,
                                                           ``.partition``, ``.offset`` (text),
                                                           ``.exception.class.name``,
                                                           ``.exception.message``, ...
``confluent``  Confluent data-contract rules (``DlqAction``) ``__rule.name``, ``.mode``,
                                                           ``.subject``, ``.topic``,
                                                           ``.exception``
``spring``     Spring Kafka (``DeadLetterPublishingRecoverer``) ``kafka_dlt-original-topic``,
                                                           ``-partition`` (4-byte big-endian),
                                                           ``-offset`` (8-byte big-endian),
                                                           ``kafka_dlt-exception-fqcn``, ...
=============  ==========================================  ====================================

Parsing never fails: a header that is missing or malformed is listed in
:attr:`UpstreamError.problems`, and a message in no known dialect is ``unknown``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from dataquarantine.kernel.results import ErrorCode, Violation
from dataquarantine.quarantine.envelope import DLQ_HEADER_PREFIXES, KafkaSource

__all__ = [
    "CONNECT_HEADERS",
    "Dialect",
    "DlqFormat",
    "UpstreamError",
    "detect",
    "is_dialect_header",
    "parse",
]

Header = tuple[str, bytes]

CONNECT, RULE, SPRING = DLQ_HEADER_PREFIXES

#: The Kafka Connect headers our own DLQ messages carry too (``stream/dlq.py``).
CONNECT_HEADERS: Final = (
    CONNECT + "topic",
    CONNECT + "partition",
    CONNECT + "offset",
    CONNECT + "exception.class.name",
    CONNECT + "exception.message",
)


class Dialect(StrEnum):
    CONNECT = "connect"
    CONFLUENT = "confluent"
    SPRING = "spring"
    UNKNOWN = "unknown"


class DlqFormat(StrEnum):
    """``dlq ingest --format``: one dialect, or ``auto`` (detected per message)."""

    AUTO = "auto"
    CONNECT = "connect"
    CONFLUENT = "confluent"
    SPRING = "spring"


_TOOLS: Final = {
    Dialect.CONNECT: "kafka-connect",
    Dialect.CONFLUENT: "confluent-rule",
    Dialect.SPRING: "spring-kafka",
    Dialect.UNKNOWN: "unknown",
}
_PREFIXES: Final = ((Dialect.CONNECT, CONNECT), (Dialect.CONFLUENT, RULE), (Dialect.SPRING, SPRING))


def is_dialect_header(name: str) -> bool:
    """True for a header a DLQ tool added (dropped again when a record is replayed)."""
    return name.startswith(DLQ_HEADER_PREFIXES)


@dataclass(frozen=True, slots=True)
class UpstreamError:
    """What a DLQ message's headers say about the failure and where the record came from."""

    dialect: Dialect
    exception: str | None = None
    message: str | None = None
    origin: KafkaSource | None = None
    origin_topic: str | None = None
    #: Other context (connector, task, stage, rule name and mode, subject, consumer group).
    context: tuple[tuple[str, str], ...] = ()
    #: Headers that were expected but missing or malformed.
    problems: tuple[str, ...] = ()

    @property
    def tool(self) -> str:
        return _TOOLS[self.dialect]

    def violation(self) -> Violation:
        """The upstream error as a violation: code ``upstream_error``, ``rule`` = tool and
        exception class, ``keyword`` = dialect."""
        parts = [f"{self.tool}: {self.exception or 'unknown exception'}"]
        if self.message:
            parts.append(self.message)
        context = ", ".join(f"{k}={v}" for k, v in self.context)
        if context:
            parts.append(f"({context})")
        if self.problems:
            parts.append("[" + "; ".join(self.problems) + "]")
        rule = f"{self.tool}:{self.exception}" if self.exception else self.tool
        return Violation(
            ErrorCode.UPSTREAM_ERROR, "", " ".join(parts), rule=rule, keyword=self.dialect.value
        )


def detect(headers: Sequence[Header]) -> Dialect:
    """The dialect of a message's headers (the first known prefix found)."""
    for name, _ in headers:
        for dialect, prefix in _PREFIXES:
            if name.startswith(prefix):
                return dialect
    return Dialect.UNKNOWN


def _last(headers: Sequence[Header], name: str) -> bytes | None:
    found = None
    for key, value in headers:
        if key == name:
            found = value
    return found


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("utf-8", "replace")


@dataclass
class _Reader:
    headers: Sequence[Header]
    problems: list[str]

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = _text(_last(self.headers, name))
        if value is None and required:
            self.problems.append(f"missing {name}")
        return value

    def number(self, name: str, *, binary: int = 0) -> int | None:
        """A decimal header, or (``binary`` bytes) a big-endian signed integer."""
        raw = _last(self.headers, name)
        if raw is None:
            self.problems.append(f"missing {name}")
            return None
        if binary and len(raw) == binary:
            return int.from_bytes(raw, "big", signed=True)
        try:
            return int(raw.decode("ascii").strip())
        except (UnicodeDecodeError, ValueError):
            self.problems.append(f"malformed {name}")
            return None


def _origin(topic: str | None, partition: int | None, offset: int | None) -> KafkaSource | None:
    if topic and partition is not None and offset is not None and partition >= 0 and offset >= 0:
        return KafkaSource(topic, partition, offset)
    return None


def _connect(r: _Reader) -> UpstreamError:
    topic = r.text(CONNECT + "topic", required=True)
    origin = _origin(topic, r.number(CONNECT + "partition"), r.number(CONNECT + "offset"))
    context = [
        (label, value)
        for label, name in (
            ("connector", "connector.name"),
            ("task", "task.id"),
            ("stage", "stage"),
        )
        if (value := r.text(CONNECT + name)) is not None
    ]
    return UpstreamError(
        Dialect.CONNECT,
        r.text(CONNECT + "exception.class.name", required=True),
        r.text(CONNECT + "exception.message"),
        origin,
        topic if origin is None else None,
        tuple(context),
    )


def _confluent(r: _Reader) -> UpstreamError:
    context = [
        (label, value)
        for label in ("name", "mode", "subject")
        if (value := r.text(RULE + label)) is not None
    ]
    name = r.text(RULE + "name", required=True)
    return UpstreamError(
        Dialect.CONFLUENT,
        f"rule {name}" if name else None,
        r.text(RULE + "exception"),
        None,
        r.text(RULE + "topic", required=True),
        tuple(("rule", v) if k == "name" else (k, v) for k, v in context),
    )


def _spring(r: _Reader) -> UpstreamError:
    topic = r.text(SPRING + "original-topic", required=True)
    partition = r.number(SPRING + "original-partition", binary=4)
    offset = r.number(SPRING + "original-offset", binary=8)
    origin = _origin(topic, partition, offset)
    group = r.text(SPRING + "original-consumer-group")
    return UpstreamError(
        Dialect.SPRING,
        r.text(SPRING + "exception-fqcn", required=True),
        r.text(SPRING + "exception-message"),
        origin,
        topic if origin is None else None,
        (("group", group),) if group else (),
    )


def parse(headers: Sequence[Header] | None, fmt: DlqFormat = DlqFormat.AUTO) -> UpstreamError:
    """Read the upstream error of a DLQ message (never raises)."""
    headers = list(headers or ())
    dialect = detect(headers) if fmt is DlqFormat.AUTO else Dialect(fmt.value)
    problems: list[str] = []
    reader = _Reader(headers, problems)
    if dialect is Dialect.CONNECT:
        error = _connect(reader)
    elif dialect is Dialect.CONFLUENT:
        error = _confluent(reader)
    elif dialect is Dialect.SPRING:
        error = _spring(reader)
    else:
        return UpstreamError(Dialect.UNKNOWN, problems=("no known DLQ headers",))
    if problems:
        return UpstreamError(
            error.dialect,
            error.exception,
            error.message,
            error.origin,
            error.origin_topic,
            error.context,
            tuple(problems),
        )
    return error
