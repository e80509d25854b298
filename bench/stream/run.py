"""Streaming benchmark: raw topic -> validate -> valid topic / DLQ, on the embedded broker.

One run measures three contenders, each in its own process, on a fresh embedded
Kafka-protocol broker per measurement, fed the same generated events (~5% bad of every kind):

  passthrough  confluent-kafka consumer -> producer with the worker's client settings and no
               validation: batches of up to 500, produce, flush, commit per batch. The
               physical limit of this broker, client and machine.
  seed         the seed design as written: aiokafka consumer, json.loads + jsonschema
               Draft7Validator, ``send_and_wait`` for every message and a commit per message.
               Timed on --seed-sample events (5,000): its rate is steady, so the rate is
               reported as measured (no extrapolation is needed for msgs/s).
  ours         ``dataquarantine stream --config FILE``: the stream worker as the CLI runs it
               (SQLite store, local payloads, /metrics served).

Throughput: all events are produced first, then the contender starts; its rate is taken from
the group's committed offsets, polled every 20 ms, from the first commit to the last (so
start-up and the consumer-group join are not counted). Passthrough and ours run --repeat
times (median reported). Then the outputs are read back and reconciled: valid + DLQ = input.

Latency: the contender runs, and events are produced at a steady --latency-rate (10,000/s)
for --latency-seconds (10), by a producer with linger.ms=--load-linger-ms (5: at 1 ms the
embedded broker needs a whole CPU for the produce requests alone). Each event carries its
produce time (``time.time_ns()`` at ``produce()``) in a header, which the worker keeps. A probe
process reads the valid topic and reports two latencies per message:

  to valid topic  the valid record's timestamp - produce time. The valid topic is created with
                  ``message.timestamp.type=LogAppendTime``, so on Kafka this is the broker's
                  append time, as the issue defines it. The embedded broker ignores that
                  setting and keeps the CreateTime that the contender's producer stamps when
                  the record is handed over (before its linger.ms and the append round trip,
                  so it understates by up to ~3 ms). Timestamps have millisecond resolution.
                  The target applies to this figure.
  to probe        the probe's receive time - produce time: a second consume hop on top (with
                  its own fetch wait), so it overstates the latency.

The passthrough is measured the same way. So is the floor: no contender at all, the probe
reads the raw topic and stamps each message on receipt (cut to the millisecond, as a
timestamp is), which is what a contender with no processing cost would show. The floor is
what this broker, load and machine cost before any worker; the targets show ours over it.
Each latency also comes as a p99 per second of sending: on the embedded broker it climbs
as the run goes on, the floor's included: the broker slows the longer it takes the load
(deleting the records read, or a short retention.ms, does not stop it). CPU seconds of the
contender and the broker are reported for the steady phase.

Usage: python bench/stream/run.py [--records N] [--repeat N] [--seed-sample N]
       [--latency-only NAME ...] [--partitions N] [--latency-rate N] [--latency-seconds S]
       [--load-linger-ms MS] [--fetch-wait-ms MS] [--ours-settings JSON] [--skip NAME ...]
       [--broker HOST:PORT] [--strict]
With --broker HOST:PORT every measurement runs on that broker (Kafka, Redpanda) instead.
Results: a table on stdout and bench/results/stream.json (DQ_BENCH_KEEP=1 keeps the scratch
folder: configs, logs, raw latencies).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/: the seed design (roles)
from harness import (
    CommitWatch,
    broker_pid,
    cpu_seconds,
    create_topics,
    event_key,
    log,
    median_run,
    p99_by_second,
    peak_rss_mb,
    percentile,
    produce_all,
    stop,
    tail,
    topic_count,
)
from report import CONTENDERS, LABELS, LATENCY_CONTENDERS, render, targets
from roles import ROLES, SENT_HEADER, bench_consumer

BENCH_DIR = Path(__file__).resolve().parent.parent
RESULTS_DIR = BENCH_DIR / "results"


# -- the driver -----------------------------------------------------------------------------------


class Run:
    """One benchmark run: the events and a scratch folder; each measurement gets a fresh
    embedded broker (:meth:`on_fresh_broker`), so none inherits another's load or data. With
    ``--broker`` they all use that broker instead, each with topics and a group of its own."""

    def __init__(self, args: argparse.Namespace, scratch: Path) -> None:
        from dataquarantine.demo.generator import generate

        self.args = args
        self.scratch = scratch
        self.bootstrap = ""
        self.metrics_port = 0
        # Topic and group names are unique per measurement (an external broker keeps them).
        self.run_id = f"{os.getpid()}-{int(time.time())}"
        self.measurements = 0
        records = list(generate(args.records, seed=args.seed))
        self.values = [r.raw for r in records]
        self.keys = [event_key(v) for v in self.values]
        self.expected = [r.expected for r in records]

    def on_fresh_broker(self, measure: Any, name: str) -> dict[str, Any]:
        from dataquarantine.stream.embedded import EmbeddedBroker

        self.measurements += 1
        if self.args.broker:
            self.bootstrap = self.args.broker
            return dict(measure(name))
        log_path = self.scratch / f"broker-{measure.__name__}-{name}.log"
        with EmbeddedBroker(log_path=log_path) as broker:
            self.bootstrap = broker.bootstrap_servers
            return dict(measure(name))

    @property
    def tag(self) -> str:
        """This measurement's suffix for topic and group names."""
        return f"{self.run_id}-{self.measurements}"

    def topics(self, name: str, partitions: int) -> tuple[str, str, str]:
        names = (f"{name}-{self.tag}-raw", f"{name}-{self.tag}-valid", f"{name}-{self.tag}-dlq")
        create_topics(self.bootstrap, [names[0], names[2]], partitions)
        # The append time is the end point of the latency (on brokers that honour it).
        create_topics(
            self.bootstrap,
            [names[1]],
            partitions,
            config={"message.timestamp.type": "LogAppendTime"},
        )
        return names

    def start(
        self, name: str, raw: str, valid: str, dlq: str, group: str
    ) -> subprocess.Popen[bytes]:
        """Start a contender (its output goes to a log file in the scratch folder)."""
        logfile = (self.scratch / f"{name}-{group}.log").open("wb")
        if name == "ours":
            cmd = self._ours_command(raw, valid, dlq, group)
        else:
            cmd = [
                sys.executable, str(Path(__file__).resolve()), "--role", name,
                "--bootstrap", self.bootstrap, "--raw", raw, "--valid", valid, "--dlq", dlq,
                "--group", group, "--contracts", str(self.args.contracts),
                "--fetch-wait-ms", str(self.args.fetch_wait_ms),
            ]  # fmt: skip
        proc = subprocess.Popen(cmd, stdout=logfile, stderr=subprocess.STDOUT, cwd=self.scratch)
        logfile.close()
        return proc

    def _ours_command(self, raw: str, valid: str, dlq: str, group: str) -> list[str]:
        from dataquarantine.stream.embedded import free_port

        self.metrics_port = free_port()
        work = self.scratch / group
        work.mkdir(parents=True, exist_ok=True)
        config = {
            "kafka_bootstrap_servers": self.bootstrap,
            "kafka_consumer_group_id": group,
            "kafka_raw_topic": raw,
            "kafka_valid_topic": valid,
            "kafka_dlq_topic": dlq,
            "kafka_consumer_extra": bench_consumer(self.args),
            "contracts_dir": str(self.args.contracts),
            "store_url": f"sqlite:///{work / 'quarantine.db'}",
            "payloads_url": f"file://{work / 'payloads'}",
            "prometheus_port": self.metrics_port,
        }
        for key, value in json.loads(self.args.ours_settings or "{}").items():
            if isinstance(value, dict) and isinstance(config.get(key), dict):
                config[key] = {**config[key], **value}
            else:
                config[key] = value
        path = work / "stream.yaml"
        path.write_text(json.dumps(config, indent=2))  # JSON is YAML
        exe = Path(sys.executable).with_name("dataquarantine")
        cli = [str(exe)] if exe.exists() else [sys.executable, "-m", "dataquarantine.cli.app"]
        return [*cli, "stream", "--config", str(path)]

    # -- throughput ---------------------------------------------------------------------------

    def throughput(self, name: str) -> dict[str, Any]:
        n = self.args.seed_sample if name == "seed" else self.args.records
        n = min(n, len(self.values))
        raw, valid, dlq = self.topics(f"tp-{name}", self.args.partitions)
        produce_all(self.bootstrap, raw, self.values[:n], self.keys[:n])
        group = f"bench-{name}-{self.tag}"
        watch = CommitWatch(self.bootstrap, group, raw, self.args.partitions)
        log(f"measuring {LABELS[name]} on {n:,} events ...")
        started = time.perf_counter()
        proc = self.start(name, raw, valid, dlq, group)
        try:
            span = watch.wait_for(n, self.args.timeout, alive=lambda: proc.poll() is None)
            rss = peak_rss_mb(proc.pid)
            worker = self._worker_metrics() if name == "ours" else None
        finally:
            stop(proc)
            watch.close()
        if span is None:
            why = "exited" if proc.poll() not in (None, 0, -signal.SIGTERM) else "timed out"
            return {
                "name": name,
                "label": LABELS[name],
                "status": "error",
                "note": f"{why}: {tail(self.scratch / f'{name}-{group}.log')}",
            }
        first_at, first_done, last_at = span
        seconds = last_at - first_at
        measured = n - first_done
        landed = {
            "valid_topic": topic_count(self.bootstrap, valid, self.args.partitions),
            "dlq_topic": topic_count(self.bootstrap, dlq, self.args.partitions),
        }
        planted = Counter(self.expected[:n])
        return {
            "name": name,
            "label": LABELS[name],
            "status": "ok",
            "records": n,
            "measured_records": measured,
            "seconds": seconds,
            "rate": measured / seconds if seconds > 0 else None,
            "startup_seconds": first_at - started,
            "peak_rss_mb": rss,
            "landed": landed,
            "reconciled": landed["valid_topic"] + landed["dlq_topic"] >= n,
            "planted_valid": planted["valid"],
            "worker_metrics": worker,
        }

    # -- latency ------------------------------------------------------------------------------

    def latency(self, name: str) -> dict[str, Any]:
        """p50/p99 at a steady rate. ``floor`` starts no contender: the probe reads the raw
        topic itself, so it shows what this broker and load cost before any worker."""
        args = self.args
        partitions = args.latency_partitions
        raw, valid, dlq = self.topics(f"lat-{name}", partitions)
        group = f"bench-lat-{name}-{self.tag}"
        warmup = 2000
        log(f"latency of {LABELS[name]} at {args.latency_rate:,} msgs/s ...")
        proc = None if name == "floor" else self.start(name, raw, valid, dlq, group)
        watch = CommitWatch(self.bootstrap, group, raw, partitions)
        probe: subprocess.Popen[bytes] | None = None
        try:
            produce_all(self.bootstrap, raw, self.values[:warmup], self.keys[:warmup])
            if proc is not None and (
                watch.wait_for(warmup, args.timeout, alive=lambda: proc.poll() is None) is None
            ):
                return {"name": name, "status": "error", "note": "the warm-up never committed"}
            total = int(args.latency_rate * args.latency_seconds)
            picks = [i % len(self.values) for i in range(warmup, warmup + total)]
            values = [self.values[i] for i in picks]
            keys = [self.keys[i] for i in picks]
            expected_valid = (
                sum(1 for i in picks if self.expected[i] == "valid") if name == "ours" else total
            )
            out = self.scratch / f"latency-{name}.json"
            probe = subprocess.Popen(
                [
                    sys.executable, str(Path(__file__).resolve()), "--role", "probe",
                    "--bootstrap", self.bootstrap, "--partitions", str(partitions),
                    # the floor's probe reads the raw topic, at receipt
                    "--valid", raw if proc is None else valid,
                    "--endpoint", "receive" if proc is None else "timestamp",
                    "--fetch-wait-ms", str(args.fetch_wait_ms),
                    "--expect", str(expected_valid), "--out", str(out),
                ],
                stdout=subprocess.PIPE,
            )  # fmt: skip
            assert probe.stdout is not None
            probe.stdout.readline()  # "ready": assigned at the current end of the topic
            pids = (None if proc is None else proc.pid, broker_pid())
            cpu_before = [cpu_seconds(pid) for pid in pids]
            achieved = self._produce_steadily(raw, values, keys, args.latency_rate)
            probe.wait(timeout=args.timeout)
            cpu = [
                round(after - before, 2) if after is not None and before is not None else None
                for before, after in zip(
                    cpu_before, [cpu_seconds(pid) for pid in pids], strict=True
                )
            ]
            rss = None if proc is None else peak_rss_mb(proc.pid)
            worker = self._worker_metrics() if name == "ours" else None
            raw_latencies = json.loads(out.read_text())
            latencies = sorted(v[0] / 1000 for v in raw_latencies)
            to_probe = sorted(v[1] / 1000 for v in raw_latencies)
            by_second = p99_by_second(raw_latencies)
        finally:
            if probe is not None and probe.poll() is None:
                probe.kill()
            if proc is not None:
                stop(proc)
            watch.close()
        return {
            "name": name,
            "status": "ok",
            "rate": args.latency_rate,
            "achieved_rate": achieved,
            "seconds": args.latency_seconds,
            "sent": total,
            "received": len(latencies),
            "expected": expected_valid,
            "p50_ms": percentile(latencies, 0.50),
            "p99_ms": percentile(latencies, 0.99),
            "p999_ms": percentile(latencies, 0.999),
            "max_ms": latencies[-1] if latencies else None,
            "p99_by_second_ms": by_second,
            "to_probe": {
                "p50_ms": percentile(to_probe, 0.50),
                "p99_ms": percentile(to_probe, 0.99),
                "max_ms": to_probe[-1] if to_probe else None,
            },
            "peak_rss_mb": rss,
            "cpu_seconds": {"contender": cpu[0], "broker": cpu[1]},
            "worker_metrics": worker,
        }

    def _worker_metrics(self) -> dict[str, Any] | None:
        """Checkpoints, mean validation and commit time, from the worker's own /metrics."""
        import urllib.request

        try:
            url = f"http://127.0.0.1:{self.metrics_port}/metrics"
            with urllib.request.urlopen(url, timeout=5) as response:
                text = response.read().decode()
        except OSError:
            return None
        values: dict[str, float] = {}
        for line in text.splitlines():
            name, _, value = line.partition(" ")
            if name.startswith(
                ("dataquarantine_validation_duration", "dataquarantine_batch_commit")
            ):
                values[name] = float(value)
        checkpoints = values.get("dataquarantine_batch_commit_duration_seconds_count", 0.0)
        if not checkpoints:
            return None
        return {
            "checkpoints": int(checkpoints),
            "mean_commit_ms": 1000
            * values["dataquarantine_batch_commit_duration_seconds_sum"]
            / checkpoints,
            "mean_validation_ms": 1000
            * values.get("dataquarantine_validation_duration_seconds_sum", 0.0)
            / checkpoints,
        }

    def _produce_steadily(
        self, topic: str, values: list[bytes], keys: list[bytes | None], rate: float
    ) -> float:
        """Produce at ``rate`` msgs/s in 1 ms ticks; each message carries its send time."""
        from confluent_kafka import Producer

        # linger.ms 0 would mean one request per message, which swamps the embedded broker.
        producer = Producer(
            {"bootstrap.servers": self.bootstrap, "linger.ms": self.args.load_linger_ms}
        )
        produce, poll, now_ns = producer.produce, producer.poll, time.time_ns
        start = time.perf_counter()
        sent = 0
        total = len(values)
        while sent < total:
            due = min(total, int((time.perf_counter() - start) * rate) + 1)
            while sent < due:
                produce(
                    topic,
                    values[sent],
                    keys[sent],
                    headers=[(SENT_HEADER, str(now_ns()).encode())],
                )
                sent += 1
            poll(0)
            time.sleep(0.001)
        elapsed = time.perf_counter() - start
        producer.flush(30)
        return total / elapsed


def main(argv: list[str] | None = None) -> int:
    from dataquarantine.demo.generator import DEMO_CONTRACTS_DIR

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--records", type=int, default=300_000, help="events for the throughput runs")
    p.add_argument(
        "--repeat", type=int, default=3, help="throughput runs per contender (median reported)"
    )
    p.add_argument("--seed", type=int, default=42, help="generator seed")
    p.add_argument("--seed-sample", type=int, default=5_000, help="events the seed design gets")
    p.add_argument("--partitions", type=int, default=4, help="partitions of every topic")
    p.add_argument(
        "--latency-partitions",
        type=int,
        default=1,
        help="partitions of the latency run's topics (see the docstring)",
    )
    p.add_argument("--latency-rate", type=int, default=10_000, help="msgs/s of the latency run")
    p.add_argument(
        "--load-linger-ms", type=float, default=5.0, help="linger.ms of the latency load producer"
    )
    p.add_argument(
        "--fetch-wait-ms",
        type=int,
        default=5,
        help="fetch.wait.max.ms of every consumer (contenders and probe)",
    )
    p.add_argument("--latency-seconds", type=float, default=10.0, help="length of the latency run")
    p.add_argument(
        "--broker",
        metavar="HOST:PORT",
        help="an external Kafka-protocol broker (Kafka, Redpanda) instead of a fresh embedded "
        "one per measurement",
    )
    p.add_argument("--contracts", type=Path, default=DEMO_CONTRACTS_DIR)
    p.add_argument(
        "--ours-settings",
        metavar="JSON",
        help="extra stream settings for ours, e.g. '{\"flush_interval_ms\": 100}'",
    )
    p.add_argument("--skip", nargs="*", default=[], choices=[*CONTENDERS, "floor", "latency"])
    p.add_argument(
        "--latency-only",
        nargs="*",
        default=None,
        choices=LATENCY_CONTENDERS,
        help="measure only the latency of these contenders (no throughput runs)",
    )
    p.add_argument("--timeout", type=float, default=300, help="seconds allowed per measurement")
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "stream.json")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    # Internal: run one contender or the latency probe.
    p.add_argument("--role", choices=ROLES, help=argparse.SUPPRESS)
    for flag in ("--bootstrap", "--raw", "--valid", "--dlq", "--group"):
        p.add_argument(flag, help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, default=500, help=argparse.SUPPRESS)
    p.add_argument("--expect", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--idle", type=float, default=5.0, help=argparse.SUPPRESS)
    p.add_argument(
        "--endpoint", choices=["timestamp", "receive"], default="timestamp", help=argparse.SUPPRESS
    )
    args = p.parse_args(argv)
    if args.role:
        ROLES[args.role](args)
        return 0

    scratch = Path(tempfile.mkdtemp(prefix="dq-bench-stream-"))
    load_before = os.getloadavg()[0]
    rows: dict[str, dict[str, Any]] = {}
    lat: dict[str, dict[str, Any]] = {}
    try:
        run = Run(args, scratch)
        for name in CONTENDERS:
            if name not in args.skip and args.latency_only is None:
                rows[name] = median_run(
                    [
                        run.on_fresh_broker(run.throughput, name)
                        for _ in range(1 if name == "seed" else args.repeat)
                    ]
                )
        if "latency" not in args.skip:
            for name in LATENCY_CONTENDERS:
                wanted = args.latency_only if args.latency_only is not None else LATENCY_CONTENDERS
                if name not in args.skip and name in wanted:
                    lat[name] = run.on_fresh_broker(run.latency, name)
    finally:
        keep = os.environ.get("DQ_BENCH_KEEP")
        if not keep:
            shutil.rmtree(scratch, ignore_errors=True)
    load = (load_before, os.getloadavg()[0])
    checks = targets(rows, lat)
    print(
        f"\nstreaming: {args.records:,} events (~5% bad), {args.partitions} partitions, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average {load[0]:.1f} -> {load[1]:.1f}"
    )
    render(rows, lat, checks)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": "python bench/stream/run.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "load_average": {"before": load[0], "after": load[1]},
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "config": {
            "records": args.records,
            "seed_sample": args.seed_sample,
            "partitions": args.partitions,
            "latency_rate": args.latency_rate,
            "latency_seconds": args.latency_seconds,
            "latency_end_point": "receive time of the valid topic's message at a probe consumer",
        },
        "throughput": rows,
        "latency": lat,
        "targets": checks,
    }
    args.out.write_text(json.dumps(report, indent=2))
    print(f"\nresults: {args.out}")
    failed = any(c["verdict"] == "FAIL" for c in checks)
    return 1 if args.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main())
