"""The stream benchmark's helpers: process figures, percentiles, topics, producing and
counting on the broker, and the watch on a group's committed offsets."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

POLL_SECONDS = 0.02


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def peak_rss_mb(pid: int) -> float | None:
    """Peak resident set size (VmHWM) of a running process, in MB (Linux)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of a process (and its threads) so far."""
    if pid is None:
        return None
    import psutil

    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return None
    return float(times.user + times.system)


def broker_pid() -> int | None:
    """The embedded broker: the child process of this one that runs its binary (None with
    an external broker). Matched by the binary, not by name: ours runs as ``dataquarantine``."""
    import psutil

    from dataquarantine.stream.embedded import broker_binary

    binary = Path(broker_binary()).resolve()
    for child in psutil.Process().children():
        with contextlib.suppress(psutil.Error):
            if Path(child.exe()).resolve() == binary:
                return int(child.pid)
    return None


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def p99_by_second(raw: list[list[int]]) -> list[float]:
    """The p99 of each second of sending (µs triples from the probe -> ms): on the embedded
    broker it climbs as the run goes on, with or without a worker."""
    if not raw:
        return []
    start = min(v[2] for v in raw)
    seconds: dict[int, list[float]] = {}
    for latency, _, sent in raw:
        seconds.setdefault((sent - start) // 1_000_000, []).append(latency / 1000)
    last = max(seconds)
    # the last second is partial (the run's tail): left out
    return [round(percentile(sorted(seconds[s]), 0.99), 2) for s in sorted(seconds) if s < last]


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median rate (all rates kept); the first failure if any failed."""
    failed = [r for r in runs if r.get("status") != "ok"]
    if failed:
        return failed[0]
    ordered = sorted(runs, key=lambda r: r["rate"])
    chosen = dict(ordered[len(ordered) // 2])
    chosen["rates"] = [r["rate"] for r in runs]
    return chosen


def create_topics(
    bootstrap: str, names: list[str], partitions: int, config: dict[str, str] | None = None
) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(n, partitions, 1, config=config or {}) for n in names])
    for future in futures.values():
        future.result(timeout=30)


def event_key(raw: bytes) -> bytes | None:
    """The key an upstream producer gives an event: its entity id, as the demo contracts'
    ``key`` field (user_id or view_id). Every contender then produces keyed messages (the
    passthrough keeps the input key, ours takes the contract's), spread the same way."""
    import orjson

    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, dict):
        return None
    key = value.get("user_id", value.get("view_id"))
    return None if key is None else str(key).encode()


def produce_all(bootstrap: str, topic: str, values: list[bytes], keys: list[bytes | None]) -> None:
    from confluent_kafka import Producer

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 5,
            "queue.buffering.max.messages": 1_000_000,
            "queue.buffering.max.kbytes": 1_048_576,
        }
    )
    for value, key in zip(values, keys, strict=False):
        producer.produce(topic, value, key)
        producer.poll(0)
    if producer.flush(60) != 0:
        raise RuntimeError("could not produce the input events")


def topic_count(bootstrap: str, topic: str, partitions: int) -> int:
    """Messages in ``topic``, counted by reading it (the embedded broker's high watermarks
    are not exact for compressed batches)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "bench-count", "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    n = 0
    idle_until = time.monotonic() + 3.0
    try:
        while time.monotonic() < idle_until:
            messages = consumer.consume(10_000, 0.2)
            if messages:
                n += sum(1 for m in messages if m.error() is None)
                idle_until = time.monotonic() + 1.0
    finally:
        consumer.close()
    return n


class CommitWatch:
    """Polls the committed offsets of a consumer group on one topic."""

    def __init__(self, bootstrap: str, group: str, topic: str, partitions: int) -> None:
        from confluent_kafka import Consumer, TopicPartition

        # Not subscribed: it only fetches the group's committed offsets, it never joins.
        self._consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
        self._partitions = [TopicPartition(topic, p) for p in range(partitions)]

    def committed(self) -> int:
        found = self._consumer.committed(self._partitions, timeout=10)
        return sum(max(tp.offset, 0) for tp in found)

    def wait_for(
        self, target: int, timeout: float, alive: Any = None
    ) -> tuple[float, int, float] | None:
        """Poll until ``target`` offsets are committed: (first commit time, offsets committed
        then, last commit time), or None on timeout or when ``alive()`` turns false."""
        deadline = time.monotonic() + timeout
        first: tuple[float, int] | None = None
        while time.monotonic() < deadline:
            done = self.committed()
            now = time.perf_counter()
            if done and first is None:
                first = (now, done)
            if done >= target:
                assert first is not None
                return first[0], first[1], now
            if alive is not None and not alive():
                return None
            time.sleep(POLL_SECONDS)
        return None

    def close(self) -> None:
        self._consumer.close()


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def tail(path: Path, lines: int = 5) -> str:
    with contextlib.suppress(OSError):
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    return ""
