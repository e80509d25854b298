"""``dlq ingest``: another tool's dead-letter topic read into the quarantine store.

The loop, the checkpoints and the rebalances are the stream worker's; only what is done with a
polled batch differs. Every message is quarantined, none is produced anywhere:

* its bytes, key and headers are kept (:class:`~dataquarantine.quarantine.envelope.DlqSource`);
* its first violation is the upstream error read from the headers (code ``upstream_error``,
  see :mod:`dataquarantine.stream.dialects`), malformed or missing headers included;
* then our own violations, when a contract applies (``--contract``, or the ``_schema`` field);
  a message no contract applies to keeps the upstream error alone.

Delivery is the stream's: the Committer writes the store, then commits the offsets, so a crash
consumes the uncommitted messages again, and the ids (the DLQ coordinates and the bytes' hash)
make that harmless.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from confluent_kafka import Message

from dataquarantine.kernel.results import ErrorCode, ValidationResult, Violation
from dataquarantine.quarantine.envelope import DlqSource, QuarantineItem
from dataquarantine.stream.dialects import DlqFormat, parse
from dataquarantine.stream.worker import StreamWorker
from dataquarantine.validation.engine import gc_paused

__all__ = ["DlqIngestWorker", "dlq_item"]


def dlq_item(
    m: Message, raw: bytes, ours: ValidationResult | None, fmt: DlqFormat, run_id: str
) -> tuple[QuarantineItem, ValidationResult]:
    """The quarantine item of one DLQ message, and its result (for the counts)."""
    headers: Sequence[tuple[str, bytes]] = m.headers() or []  # type: ignore[assignment]
    upstream = parse(headers, fmt)
    errors: list[Violation] = [upstream.violation()]
    contract = ours.contract if ours is not None else None
    if ours is not None and contract is not None:
        errors += [v for v in ours.errors if v.code is not ErrorCode.SCHEMA_NOT_FOUND]
    source = DlqSource(
        topic=str(m.topic()),
        partition=int(m.partition() or 0),
        offset=int(m.offset() or 0),
        dialect=upstream.dialect.value,
        origin=upstream.origin,
        origin_topic=upstream.origin_topic,
        key=m.key(),
        headers=tuple((str(k), bytes(v or b"")) for k, v in headers),
    )
    item = QuarantineItem.identified(source, raw, tuple(errors), contract, run_id)
    return item, ValidationResult(False, tuple(errors), contract=contract)


class DlqIngestWorker(StreamWorker):
    """Reads ``settings.raw_topics`` (the foreign DLQ topics) into the quarantine store."""

    def __init__(self, *args: Any, fmt: DlqFormat = DlqFormat.AUTO, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.format = fmt

    def _process(self, batch: list[Message]) -> None:
        with gc_paused():
            self._ingest(batch)

    def _ingest(self, batch: list[Message]) -> None:
        routing = self._routing
        assert routing is not None and self.committer is not None
        cp = self.committer.open
        started = time.perf_counter()
        raws: list[Any] = [b"" if m.value() is None else m.value() for m in batch]
        topics: list[Any] = [m.topic() for m in batch]
        result = routing.validate(topics, raws)
        cp.validation_seconds += time.perf_counter() - started
        cp.track(
            list(zip(topics, [m.partition() for m in batch], strict=True)),
            [m.offset() for m in batch],
        )
        invalid: dict[int, ValidationResult] = {}
        for i, m in enumerate(batch):
            ours = result.invalid.get(i) or result.result(i)
            item, invalid[i] = dlq_item(m, raws[i], ours, self.format, self.run_id)
            cp.items.append(item)
        cp.count(topics, [r.contract for r in invalid.values()], invalid)
