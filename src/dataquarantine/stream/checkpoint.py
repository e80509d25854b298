"""What the worker consumed since its last commit, and what it reports once that is committed."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import TopicPartition

from dataquarantine.kernel.results import ContractRef, ErrorCode, ValidationResult
from dataquarantine.quarantine.envelope import QuarantineItem
from dataquarantine.stream.stats import VALID, BatchStats

__all__ = ["UNKNOWN_SCHEMA", "Checkpoint", "Partition", "RateLimit", "headline_code"]

#: The ``schema`` label of a message no contract was found for.
UNKNOWN_SCHEMA = "unknown"

Partition = tuple[str, int]


def headline_code(res: ValidationResult) -> str:
    return res.errors[0].code.value if res.errors else ErrorCode.SYSTEM_ERROR.value


@dataclass
class Checkpoint:
    """Messages consumed (and handed to the producer) but not committed yet."""

    #: (topic, partition) -> [first offset, last offset] consumed.
    offsets: dict[Partition, list[int]] = field(default_factory=dict)
    #: The invalid messages, for the quarantine store.
    items: list[QuarantineItem] = field(default_factory=list)
    #: How many of ``items`` are already durable in the store.
    durable: int = 0
    counts: Counter[tuple[str, ContractRef | None, str]] = field(default_factory=Counter)
    records: int = 0
    validation_seconds: float = 0.0
    opened_at: float = 0.0
    sealed_at: float = 0.0

    def track(self, coords: Sequence[Any], offsets: Sequence[Any]) -> None:
        """Extend the offset range of each partition (``coords[i]`` is ``(topic, partition)``
        of the message at ``offsets[i]``; a batch is in offset order per partition)."""
        if not self.records:
            self.opened_at = time.monotonic()
        last = dict(zip(coords, offsets, strict=True))
        firsts = dict(zip(reversed(coords), reversed(offsets), strict=True))
        for tp, first in firsts.items():
            span = self.offsets.get(tp)
            if span is None:
                self.offsets[tp] = [first, last[tp]]
            else:
                span[1] = last[tp]
        self.records += len(offsets)

    def count(
        self,
        topics: Sequence[str],
        contracts: Sequence[ContractRef | None],
        invalid: Mapping[int, ValidationResult],
    ) -> None:
        """Count a batch per (topic, contract, outcome)."""
        # Refs are shared objects: count identities in C, then name the few groups (hashing
        # a ref, a dataclass, costs a Python call).
        ids = list(map(id, contracts))
        refs = dict(zip(ids, contracts, strict=True))
        tally = Counter(zip(topics, ids, strict=True))
        bad: Counter[tuple[str, int, int, str]] = Counter()
        for i, res in invalid.items():
            ref = res.contract
            named = ids[i]  # the outcome is counted under the contract the result names
            if ref is not None:
                named = id(ref)
                refs[named] = ref
            bad[(topics[i], ids[i], named, headline_code(res))] += 1
        for (topic, rid, bad_rid, code), n in bad.items():
            tally[(topic, rid)] -= n
            self.counts[(topic, refs[bad_rid], code)] += n
        for (topic, rid), n in tally.items():
            if n:
                self.counts[(topic, refs[rid], VALID)] += n

    def drop(self, partitions: Iterable[Partition]) -> None:
        """Forget the offsets of ``partitions``: they will not be committed by this worker."""
        for tp in partitions:
            self.offsets.pop(tp, None)

    def commit_offsets(self) -> list[TopicPartition]:
        """The offsets to commit: last consumed + 1, per partition."""
        return [TopicPartition(t, p, span[1] + 1) for (t, p), span in self.offsets.items()]

    def stats(self, commit_seconds: float) -> BatchStats:
        counts: Counter[tuple[str, str, str]] = Counter()
        for (topic, ref, outcome), n in self.counts.items():
            if n:
                counts[(topic, ref.name if ref else UNKNOWN_SCHEMA, outcome)] += n
        return BatchStats(
            counts=dict(counts),
            records=self.records,
            validation_seconds=self.validation_seconds,
            commit_seconds=commit_seconds,
            at=datetime.now(UTC),
        )


class RateLimit:
    """True at most once per key and interval (an outage repeats the same warning)."""

    def __init__(self, interval: float = 10.0) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}

    def __call__(self, key: str) -> bool:
        now = time.monotonic()
        if now - self._last.get(key, -1e9) < self.interval:
            return False
        self._last[key] = now
        return True
