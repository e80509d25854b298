"""OpenLineage events of ``stream``: START, a RUNNING event every ``lineage_interval_seconds``
with what was committed since the previous one, and COMPLETE at shutdown."""

from __future__ import annotations

import time
from collections import Counter

from dataquarantine.cli.lineage import Check, Emitter, LineageDataset, LineageReport
from dataquarantine.masking import mask_secrets
from dataquarantine.stream.settings import StreamSettings
from dataquarantine.stream.stats import VALID, BatchStats

__all__ = ["StreamLineage"]


class StreamLineage:
    """A batch observer of the stream worker that emits its lineage events."""

    def __init__(
        self, settings: StreamSettings, emitter: Emitter, *, produces: bool = True
    ) -> None:
        self.settings = settings
        #: False for ``dlq ingest``, which writes the store only (no valid or DLQ topic).
        self.produces = produces
        self.emitter = emitter
        self.interval = settings.lineage_interval_seconds
        self.counts: Counter[tuple[str, str, str]] = Counter()
        self._last = time.monotonic()
        emitter.emit("START", None)

    def observe_batch(self, stats: BatchStats) -> None:
        self.counts.update(stats.counts)
        if time.monotonic() - self._last >= self.interval:
            self._emit("RUNNING")

    def set_lag(self, topic: str, partition: int, lag: int) -> None:
        """Lag is the metrics' business."""

    def close(self) -> None:
        self._emit("COMPLETE")

    def report(self) -> LineageReport:
        """What was committed since the previous event."""
        s = self.settings
        namespace = "kafka://" + s.kafka_bootstrap_servers.split(",")[0].strip()
        inputs = []
        valid = invalid = 0
        for topic in s.raw_topics:
            mine = {(schema, out): n for (t, schema, out), n in self.counts.items() if t == topic}
            checks: list[Check] = []
            for schema in sorted({schema for schema, _ in mine}):
                bad = {o: n for (sc, o), n in mine.items() if sc == schema and o != VALID}
                checks.append(Check("contract", schema, not bad, None, sum(bad.values())))
                checks += [
                    Check(o, f"{schema}:{o}", False, None, n) for o, n in sorted(bad.items())
                ]
            rows = sum(mine.values())
            invalid += sum(n for (_, o), n in mine.items() if o != VALID)
            valid += rows - sum(n for (_, o), n in mine.items() if o != VALID)
            inputs.append(LineageDataset(namespace, topic, tuple(checks), rows))
        store = LineageDataset(mask_secrets(s.store_url.split("?", 1)[0]), "dq_quarantine")
        outputs: tuple[tuple[LineageDataset, int | None], ...] = ((store, invalid),)
        if self.produces:
            outputs = (
                (LineageDataset(namespace, s.kafka_valid_topic), valid),
                (LineageDataset(namespace, s.kafka_dlq_topic), invalid),
                *outputs,
            )
        return LineageReport(tuple(inputs), outputs)

    def _emit(self, state: str) -> None:
        self.emitter.emit(state, self.report())
        self.counts.clear()
        self._last = time.monotonic()
