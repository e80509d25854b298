"""Valid sinks of reprocessing: where a record goes once a reprocess finds it valid.

Every sink is keyed by the quarantine id, so publishing the same record twice (a retried
request, a crash between publishing and marking the record ``reprocessed``) leaves one
downstream record:

``store`` (default)
    the ``dq_reprocessed`` table in the metadata store's own database (SQLite or PostgreSQL),
    primary key = quarantine id, ``INSERT ... ON CONFLICT DO NOTHING``.
``file://PATH.jsonl``
    one JSON line per record (``{"id", "contract", "contract_version", "record"}``; records that
    are not JSON carry ``record_b64``). The ids already in the file are read at start and
    skipped; appends are flushed and fsynced. One process per file.
``kafka://HOST:PORT[,HOST:PORT]/TOPIC``
    the stream producer (:func:`dataquarantine.infra.kafka.make_producer`: idempotent, acks
    all), message key = quarantine id, header ``dq.quarantine.id``. Kafka itself keeps both
    copies of a re-published message; a compacted topic or a consumer that dedups by key sees
    one record.
``kafka://HOST:PORT[,HOST:PORT]/@origin``
    a replay of records ingested from another tool's DLQ (``dlq ingest``) to the topic their
    DLQ headers name, with their own key and headers (the DLQ tool's headers removed): without
    a fix the replayed message is byte for byte the original.
"""

from __future__ import annotations

import base64
import os
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import orjson

from dataquarantine.errors import BrokerUnavailableError, ConfigError, StoreError
from dataquarantine.kernel.results import ContractRef
from dataquarantine.quarantine.envelope import DlqSource, Source

__all__ = [
    "ORIGIN",
    "JsonlReprocessSink",
    "KafkaReprocessSink",
    "ReprocessSink",
    "ReprocessedRecord",
    "StoreTableSink",
    "open_reprocess_sink",
]


#: The topic of a Kafka sink that replays each record to its original topic.
ORIGIN = "@origin"


@dataclass(frozen=True, slots=True)
class ReprocessedRecord:
    """A record that passed reprocessing: the bytes that were validated, by which contract,
    and where it was quarantined from."""

    id: uuid.UUID
    payload: bytes
    contract: ContractRef
    source: Source | None = None


class ReprocessSink(Protocol):
    """Receives reprocessed records, once per quarantine id."""

    def publish(self, record: ReprocessedRecord) -> bool:
        """Durably publish ``record``; ``False`` when that id was published before (no-op)."""
        ...

    def publish_many(self, records: Sequence[ReprocessedRecord]) -> int:
        """:meth:`publish` of each record, as one write where the sink can; returns how many
        were new (an id published before is a no-op, as for :meth:`publish`)."""
        ...

    def check(self) -> None:
        """Raise a transient error when the sink cannot be reached."""
        ...

    def close(self) -> None: ...


class _TableStore(Protocol):
    def publish_reprocessed(
        self,
        record_id: uuid.UUID,
        payload: bytes,
        contract: str | None,
        contract_version: str | None,
    ) -> bool: ...

    def publish_reprocessed_many(
        self, records: Sequence[tuple[uuid.UUID, bytes, str | None, str | None]]
    ) -> int: ...

    def check(self) -> None: ...


class StoreTableSink:
    """The ``dq_reprocessed`` table of the metadata store (created by migration 4)."""

    def __init__(self, store: _TableStore) -> None:
        self.store = store

    def publish(self, record: ReprocessedRecord) -> bool:
        return self.store.publish_reprocessed(
            record.id, record.payload, record.contract.name, record.contract.version
        )

    def publish_many(self, records: Sequence[ReprocessedRecord]) -> int:
        return self.store.publish_reprocessed_many(
            [(r.id, r.payload, r.contract.name, r.contract.version) for r in records]
        )

    def check(self) -> None:
        self.store.check()

    def close(self) -> None:
        """The store belongs to the caller."""


class JsonlReprocessSink:
    """Appends one JSON line per reprocessed record to a file (see the module doc)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._ids: set[str] = set()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists():
                with path.open("rb") as fh:
                    for line in fh:
                        if line.strip():
                            self._ids.add(str(orjson.loads(line)["id"]))
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise ConfigError(f"cannot use {path} as the reprocess sink: {exc}") from exc

    def publish(self, record: ReprocessedRecord) -> bool:
        key = str(record.id)
        line: dict[str, Any] = {
            "id": key,
            "contract": record.contract.name,
            "contract_version": record.contract.version,
        }
        try:
            line["record"] = orjson.Fragment(record.payload) if record.payload.strip() else None
            data = orjson.dumps(line) + b"\n"
            orjson.loads(data)  # a Fragment is spliced unchecked
        except (orjson.JSONEncodeError, orjson.JSONDecodeError):
            del line["record"]
            line["record_b64"] = base64.b64encode(record.payload).decode()
            data = orjson.dumps(line) + b"\n"
        with self._lock:
            if key in self._ids:
                return False
            try:
                with self.path.open("ab") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
            except OSError as exc:
                raise StoreError(f"cannot append to {self.path}: {exc}") from exc
            self._ids.add(key)
            return True

    def publish_many(self, records: Sequence[ReprocessedRecord]) -> int:
        return sum(self.publish(r) for r in records)

    def check(self) -> None:
        if not os.access(self.path.parent, os.W_OK):
            raise ConfigError(f"{self.path.parent} is not writable")

    def close(self) -> None:
        """Nothing is held open."""


class KafkaReprocessSink:
    """Publishes to a Kafka topic with the stream's producer, keyed by the quarantine id."""

    def __init__(self, bootstrap_servers: str, topic: str, *, timeout: float = 10.0) -> None:
        from dataquarantine.extras import require_extra

        require_extra("kafka", "reprocessing to a Kafka topic")
        from dataquarantine.infra.kafka import KafkaClientConfig, make_producer

        self.topic = topic
        self.timeout = timeout
        self._lock = threading.Lock()
        self._failure: str | None = None
        # The stream's extra client properties (DQ_KAFKA_EXTRA, ...) apply here too.
        config = KafkaClientConfig.from_env(bootstrap_servers)
        self._producer = make_producer(
            config, on_error=self._on_error, on_delivery_error=self._on_delivery
        )

    def _on_error(self, err: Any) -> None:
        self._failure = str(err)

    def _on_delivery(self, err: Any, _msg: Any) -> None:
        if err is not None:
            self._failure = str(err)

    def _message(self, record: ReprocessedRecord) -> tuple[str, bytes | None, list[Any]]:
        """``(topic, key, headers)`` of the message that publishes ``record``."""
        if self.topic != ORIGIN:
            key = str(record.id).encode()
            ids = [("dq.quarantine.id", key), ("dq.contract", str(record.contract).encode())]
            return self.topic, key, ids
        src = record.source
        if not isinstance(src, DlqSource) or src.original_topic is None:
            raise ConfigError(
                f"record {record.id} names no original topic (only records read by "
                "`dlq ingest` whose headers name one can be replayed to it)"
            )
        return src.original_topic, src.key, src.original_headers()

    def publish(self, record: ReprocessedRecord) -> bool:
        topic, key, headers = self._message(record)
        with self._lock:
            self._failure = None
            self._producer.produce(topic, value=record.payload, key=key, headers=headers)
            left = self._producer.flush(self.timeout)
            if left or self._failure:
                raise BrokerUnavailableError(
                    f"publishing {record.id} to {topic} failed: {self._failure or 'timeout'}"
                )
        return True

    def publish_many(self, records: Sequence[ReprocessedRecord]) -> int:
        """Every message produced, then one flush (at-least-once, as :meth:`publish`)."""
        messages = [(r.payload, *self._message(r)) for r in records]
        with self._lock:
            self._failure = None
            for payload, topic, key, headers in messages:
                self._producer.produce(topic, value=payload, key=key, headers=headers)
            left = self._producer.flush(self.timeout)
            if left or self._failure:
                raise BrokerUnavailableError(
                    f"publishing {len(messages)} records failed: {self._failure or 'timeout'}"
                )
        return len(messages)

    def check(self) -> None:
        try:
            self._producer.list_topics(
                None if self.topic == ORIGIN else self.topic, timeout=self.timeout
            )
        except Exception as exc:  # librdkafka raises KafkaException
            raise BrokerUnavailableError(f"Kafka is unreachable: {exc}") from exc

    def close(self) -> None:
        self._producer.flush(self.timeout)


def open_reprocess_sink(url: str, store: Any) -> ReprocessSink:
    """The sink for ``url``: ``store``, ``file://PATH`` or ``kafka://SERVERS/TOPIC``."""
    if url == "store":
        if not hasattr(store, "publish_reprocessed"):
            raise ConfigError("the 'store' reprocess sink needs a SQL metadata store")
        return StoreTableSink(store)
    parts = urlsplit(url)
    if parts.scheme == "file":
        path = unquote(parts.netloc + parts.path)
        if not path:
            raise ConfigError(f"reprocess sink {url!r} names no file")
        return JsonlReprocessSink(Path(path))
    if parts.scheme == "kafka":
        topic = parts.path.strip("/")
        if not parts.netloc or not topic:
            raise ConfigError(f"reprocess sink {url!r} must be kafka://SERVERS/TOPIC")
        return KafkaReprocessSink(parts.netloc, topic)
    raise ConfigError(f"unknown reprocess sink {url!r} (store, file://PATH, kafka://SERVERS/TOPIC)")
