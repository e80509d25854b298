"""The benchmark's child processes: the passthrough, the seed design and the latency probe.

Each runs as ``python bench/stream/run.py --role NAME ...`` (see run.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import time
from pathlib import Path
from typing import Any

from seed_design import seed_validators

SENT_HEADER = "bench.sent_ns"


# Consumer properties for the embedded broker, given to every contender alike (never production
# defaults): the group join takes ~3 s instead of ~20 s, and a fetch waits at most
# --fetch-wait-ms (5), because the embedded broker does not answer a waiting fetch when data
# arrives (Kafka does), so the default 500 ms wait would dominate the latency.
def bench_consumer(args: argparse.Namespace) -> dict[str, str]:
    return {
        "session.timeout.ms": "6000",
        "max.poll.interval.ms": "10000",
        "heartbeat.interval.ms": "1000",
        "fetch.wait.max.ms": str(args.fetch_wait_ms),
    }


def role_passthrough(args: argparse.Namespace) -> None:
    """Consume batches, produce every message unchanged, flush, commit: no validation."""
    from confluent_kafka import Consumer, Producer, TopicPartition

    from dataquarantine.infra.kafka import consumer_config, producer_config
    from dataquarantine.stream.settings import StreamSettings

    # The same client settings as the worker's, so the only difference is the validation.
    settings = StreamSettings.load(
        kafka_bootstrap_servers=args.bootstrap,
        kafka_consumer_group_id=args.group,
        kafka_consumer_extra=bench_consumer(args),
    )
    failed: list[Any] = []
    conf = producer_config(settings.kafka_client())
    for key in ("delivery.report.only.error",):  # a Python-level property: a bool, not text
        if isinstance(conf.get(key), str):
            conf[key] = conf[key].lower() == "true"
    conf["on_delivery"] = lambda err, _msg: failed.append(err) if err is not None else None
    producer = Producer(conf)
    consumer = Consumer(consumer_config(settings.kafka_client()))
    consumer.subscribe([args.raw])
    running = True

    def on_term(*_: object) -> None:
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, on_term)
    produce, poll = producer.produce, producer.poll
    while running:
        # As the worker polls: what is there at once, else wait for one message and drain.
        messages = consumer.consume(args.batch, 0)
        if not messages:
            messages = consumer.consume(1, 0.1)
            if not messages:
                continue
            messages.extend(consumer.consume(args.batch - 1, 0))
        positions: dict[tuple[str, int], int] = {}
        for m in messages:
            if m.error() is None:
                produce(args.valid, m.value(), m.key(), headers=m.headers())
                poll(0)
                positions[m.topic(), m.partition()] = m.offset() + 1
        producer.flush()
        if failed:
            raise RuntimeError(f"delivery failed: {failed[0]}")
        offsets = [TopicPartition(t, p, o) for (t, p), o in positions.items()]
        if offsets:
            consumer.commit(offsets=offsets, asynchronous=False)
    consumer.close()


def role_seed(args: argparse.Namespace) -> None:
    """The seed design's consumer loop, as written: one message at a time, awaited."""
    import asyncio
    from datetime import UTC, datetime

    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.structs import TopicPartition

    validators = seed_validators(Path(args.contracts))

    async def main() -> None:
        consumer = AIOKafkaConsumer(
            args.raw,
            bootstrap_servers=args.bootstrap,
            group_id=args.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=6000,
            fetch_max_wait_ms=args.fetch_wait_ms,
            heartbeat_interval_ms=1000,
            max_poll_interval_ms=10000,
        )
        producer = AIOKafkaProducer(bootstrap_servers=args.bootstrap)
        await consumer.start()
        await producer.start()
        try:
            async for msg in consumer:
                error = None
                try:
                    record = json.loads(msg.value)
                    tag = record.get("_schema") if isinstance(record, dict) else None
                    validator = validators.get(tag) if isinstance(tag, str) else None
                    if validator is None:
                        error = ("schema_not_found", f"no schema {tag!r}", "")
                    else:
                        errors = list(validator.iter_errors(record))
                        if errors:
                            first = errors[0]
                            path = "/".join(str(p) for p in first.absolute_path)
                            error = ("schema_violation", first.message, path)
                except ValueError as exc:
                    error = ("parse_error", str(exc), "")
                if error is None:
                    await producer.send_and_wait(args.valid, msg.value, key=msg.key)
                else:
                    envelope = {
                        "original_message": msg.value.decode("utf-8", "replace"),
                        "validation_error": dict(
                            zip(("error_type", "error_message", "field_path"), error, strict=True)
                        ),
                        "source_topic": msg.topic,
                        "source_partition": msg.partition,
                        "source_offset": msg.offset,
                        "quarantined_at": datetime.now(UTC).isoformat(),
                    }
                    await producer.send_and_wait(args.dlq, json.dumps(envelope).encode())
                await consumer.commit({TopicPartition(msg.topic, msg.partition): msg.offset + 1})
        finally:
            await producer.stop()
            await consumer.stop()

    with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
        asyncio.run(main())


def role_probe(args: argparse.Namespace) -> None:
    """Read a topic (``--valid``) from its current end; write each message's latency (µs).

    With ``--endpoint timestamp`` the end point is the message's timestamp: the moment the
    contender produced it to the valid topic. With ``--endpoint receive`` (the floor, reading
    the raw topic) it is the receive time, cut to the millisecond as a timestamp is: what a
    contender with no processing cost would stamp on a message it produced on receipt."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": "bench-latency-probe",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": str(args.fetch_wait_ms),
        }
    )
    parts = []
    for p in range(args.partitions):
        high = consumer.get_watermark_offsets(TopicPartition(args.valid, p), timeout=10)[1]
        parts.append(TopicPartition(args.valid, p, high))
    consumer.assign(parts)
    print("ready", flush=True)
    # (to the valid topic, to the probe, send time) in µs
    latencies: list[tuple[int, int, int]] = []
    header = SENT_HEADER
    at_receipt = args.endpoint == "receive"
    idle_deadline = time.monotonic() + args.idle
    while len(latencies) < args.expect and time.monotonic() < idle_deadline:
        # The first message, then whatever else has arrived: consume(n, timeout) alone would
        # wait for n messages and hold the first ones back.
        first = consumer.poll(0.05)
        messages = [first, *consumer.consume(1000, 0)] if first is not None else []
        now = time.time_ns()
        for m in messages:
            if m.error() is not None:
                continue
            for key, value in m.headers() or ():
                if key == header:
                    sent = int(value)
                    appended_us = now // 1_000_000 * 1000 if at_receipt else m.timestamp()[1] * 1000
                    latencies.append(
                        (appended_us - sent // 1000, (now - sent) // 1000, sent // 1000)
                    )
                    break
        if messages:
            idle_deadline = time.monotonic() + args.idle
    consumer.close()
    Path(args.out).write_text(json.dumps(latencies))


ROLES = {"passthrough": role_passthrough, "seed": role_seed, "probe": role_probe}
