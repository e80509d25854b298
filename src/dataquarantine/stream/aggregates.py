"""Per-minute validation aggregates in the ``validation_metrics`` table of the metadata store.

One row per (minute, topic, schema): ``processed``, ``valid``, ``invalid``,
``duration_ms_total`` (validation milliseconds, additive) and ``avg_duration_ms``
(``duration_ms_total / processed``, kept in step by every write). The worker measures the
validation time of a whole batch; each (topic, schema) of the batch is charged its share
by record count.

Counts are accumulated in memory and written by a background thread: minutes that have ended
are upserted every ``flush_interval`` seconds, everything that is left on :meth:`close`. A
flush is one ``INSERT ... ON CONFLICT DO UPDATE`` that *adds* to the stored counts, so
several workers (or a worker restarted within a minute) sum up correctly. Metrics are not
data: a failed flush is logged and its counts retried at the next one, and nothing here ever
raises into the worker. Counts are those of committed batches, so messages redelivered after
a crash are counted again, and a crash loses the counts not yet flushed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from dataquarantine.db.codec import decode_ts, encode_ts, placeholder, to_utc
from dataquarantine.db.connect import connect, translate
from dataquarantine.db.migrations import ensure_schema
from dataquarantine.db.url import SqliteTarget, parse_store_url
from dataquarantine.errors import ConfigError
from dataquarantine.stream.stats import VALID, BatchStats

__all__ = ["DEFAULT_FLUSH_INTERVAL", "MetricsRow", "ValidationMetricsWriter"]

log = logging.getLogger("dataquarantine.stream.aggregates")

#: Seconds between two flushes of the minutes that have ended.
DEFAULT_FLUSH_INTERVAL: Final = 10.0
# Rows per statement: far below SQLite's 32,766 bind parameters (8 per row).
_CHUNK = 1000
# (minute, topic, schema) keys kept while the store is down (~35 days of 1 topic x 1 schema);
# beyond that the oldest minutes are dropped, with a warning.
_MAX_PENDING = 50_000

_COLUMNS = "minute, topic, schema, processed, valid, invalid, duration_ms_total, avg_duration_ms"
_UPSERT = """
    INSERT INTO validation_metrics ({columns}) VALUES {values}
    ON CONFLICT (minute, topic, schema) DO UPDATE SET
        processed = validation_metrics.processed + excluded.processed,
        valid = validation_metrics.valid + excluded.valid,
        invalid = validation_metrics.invalid + excluded.invalid,
        duration_ms_total = validation_metrics.duration_ms_total + excluded.duration_ms_total,
        avg_duration_ms = (validation_metrics.duration_ms_total + excluded.duration_ms_total)
            / NULLIF(validation_metrics.processed + excluded.processed, 0)
"""

_Key = tuple[datetime, str, str]  # minute (UTC, seconds zeroed), topic, schema


@dataclass(frozen=True, slots=True)
class MetricsRow:
    """One row of ``validation_metrics``."""

    minute: datetime
    topic: str
    schema: str
    processed: int
    valid: int
    invalid: int
    duration_ms_total: float
    avg_duration_ms: float | None


@dataclass(slots=True)
class _Tally:
    processed: int = 0
    valid: int = 0
    invalid: int = 0
    seconds: float = 0.0

    def add(self, other: _Tally) -> None:
        self.processed += other.processed
        self.valid += other.valid
        self.invalid += other.invalid
        self.seconds += other.seconds


class _Connection:
    """The writer's own connection to the store's database (not the store's: never shared)."""

    def __init__(self, store_url: str) -> None:
        self.target = parse_store_url(store_url)
        self._conn: Any = None

    @property
    def placeholder(self) -> str:
        return placeholder(self.target)

    def encode_minute(self, minute: datetime) -> Any:
        return encode_ts(self.target, minute)

    def decode_minute(self, value: Any) -> datetime:
        return decode_ts(value)

    def execute(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Run one statement in autocommit; drop the connection after any error.

        Raises StoreUnavailableError (worth retrying) or StoreIntegrityError."""
        try:
            if self._conn is None:
                self._conn = connect(
                    self.target, autocommit=True, application_name="dataquarantine-metrics"
                )
            cur = self._conn.execute(sql, params)
            return list(cur.fetchall()) if cur.description is not None else []
        except Exception as exc:
            self.close()
            if isinstance(exc, ConfigError):
                raise
            raise translate(exc, f"{self.target.display}: validation_metrics") from exc

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # closing a broken connection
                log.debug("closing the metrics connection failed", exc_info=True)


class ValidationMetricsWriter:
    """A :class:`~dataquarantine.stream.stats.BatchObserver` that writes per-minute aggregates.

    ``store_url`` is the metadata store's URL (SQLite or PostgreSQL); the table comes with the
    store's migrations, applied on the first flush if needed. With ``flush_interval`` ``None``
    no thread is started and only :meth:`flush` / :meth:`close` write. A
    ``sqlite:///:memory:`` store is private to one connection, so there the writer is
    disabled (with a warning).
    """

    def __init__(
        self, store_url: str, *, flush_interval: float | None = DEFAULT_FLUSH_INTERVAL
    ) -> None:
        self.store_url = store_url
        self._conn = _Connection(store_url)  # parses the URL: ConfigError when malformed
        self.enabled = not (
            isinstance(self._conn.target, SqliteTarget) and self._conn.target.path is None
        )
        if not self.enabled:
            log.warning("validation_metrics is not written to an in-memory SQLite store")
        self._pending: dict[_Key, _Tally] = {}
        self._lock = threading.Lock()  # guards _pending
        self._flush_lock = threading.Lock()  # one flush at a time
        self._migrated = False
        self._closed = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if flush_interval is not None and self.enabled:
            self._thread = threading.Thread(
                target=self._run,
                args=(flush_interval,),
                name="dataquarantine-metrics-writer",
                daemon=True,
            )
            self._thread.start()

    # -- BatchObserver -------------------------------------------------------------------------

    def observe_batch(self, stats: BatchStats) -> None:
        """Add a committed batch to its minute (memory only: no I/O on the worker's thread)."""
        if not self.enabled:
            return
        total = sum(stats.counts.values())
        if total <= 0:
            return
        minute = to_utc(stats.at).replace(second=0, microsecond=0)
        per_record = stats.validation_seconds / total
        groups: dict[_Key, _Tally] = {}
        for (topic, schema, error_type), n in stats.counts.items():
            if n <= 0:
                continue
            tally = groups.setdefault((minute, topic, schema), _Tally())
            tally.processed += n
            if error_type == VALID:
                tally.valid += n
            else:
                tally.invalid += n
            tally.seconds += per_record * n
        with self._lock:
            self._merge(groups)

    def set_lag(self, topic: str, partition: int, lag: int) -> None:
        """Lag is not aggregated (Prometheus has it)."""

    # -- writing -------------------------------------------------------------------------------

    def flush(self, *, everything: bool = False) -> int:
        """Upsert the minutes that have ended (all minutes when ``everything``).

        Returns the number of rows written; on failure logs, keeps the counts for the next
        flush and returns 0. Never raises.
        """
        if not self.enabled:
            return 0
        with self._flush_lock:
            now = datetime.now(UTC).replace(second=0, microsecond=0)
            with self._lock:
                taken = {k: v for k, v in self._pending.items() if everything or k[0] < now}
                for key in taken:
                    del self._pending[key]
            if not taken:
                return 0
            try:
                self._write(taken)
            except Exception as exc:
                log.warning(
                    "validation_metrics: could not write %d row(s), retrying at the next flush: %s",
                    len(taken),
                    exc,
                )
                with self._lock:
                    self._merge(taken)
                return 0
            return len(taken)

    def _ensure_table(self) -> None:
        if not self._migrated:
            ensure_schema(self._conn.target, application_name="dataquarantine-metrics")
            self._migrated = True

    def _write(self, rows: Mapping[_Key, _Tally]) -> None:
        self._ensure_table()
        conn = self._conn
        p = conn.placeholder
        one = f"({', '.join([p] * 8)})"
        items = sorted(rows.items())
        for start in range(0, len(items), _CHUNK):
            chunk = items[start : start + _CHUNK]
            params: list[Any] = []
            for (minute, topic, schema), t in chunk:
                ms = t.seconds * 1000.0
                params += (conn.encode_minute(minute), topic, schema, t.processed, t.valid)
                params += (t.invalid, ms, ms / t.processed if t.processed else None)
            values = ", ".join([one] * len(chunk))
            conn.execute(_UPSERT.format(columns=_COLUMNS, values=values), params)

    def _merge(self, groups: Mapping[_Key, _Tally]) -> None:
        pending = self._pending
        for key, tally in groups.items():
            mine = pending.get(key)
            if mine is None:
                pending[key] = _Tally(tally.processed, tally.valid, tally.invalid, tally.seconds)
            else:
                mine.add(tally)
        if len(pending) > _MAX_PENDING:
            dropped = sorted(pending)[: len(pending) - _MAX_PENDING]
            for key in dropped:
                del pending[key]
            log.warning(
                "validation_metrics: dropped the %d oldest unwritten row(s) (store unreachable)",
                len(dropped),
            )

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.flush()

    def rows(self, *, topic: str | None = None) -> list[MetricsRow]:
        """The stored rows (of one topic), oldest minute first. For reports and tests.

        Raises :class:`~dataquarantine.errors.StoreError` when the store cannot be read."""
        conn = self._conn
        where, params = "", []
        if topic is not None:
            where, params = f" WHERE topic = {conn.placeholder}", [topic]
        with self._flush_lock:
            self._ensure_table()
            found = conn.execute(
                f"SELECT {_COLUMNS} FROM validation_metrics{where} ORDER BY minute, topic, schema",
                params,
            )
        return [
            MetricsRow(
                minute=conn.decode_minute(r[0]),
                topic=str(r[1]),
                schema=str(r[2]),
                processed=int(r[3]),
                valid=int(r[4]),
                invalid=int(r[5]),
                duration_ms_total=float(r[6]),
                avg_duration_ms=None if r[7] is None else float(r[7]),
            )
            for r in found
        ]

    def close(self) -> None:
        """Stop the thread, write everything still pending, close the connection."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.flush(everything=True)
        with self._flush_lock:
            self._conn.close()
