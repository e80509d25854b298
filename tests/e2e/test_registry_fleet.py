"""A fleet on one PostgreSQL contract registry: two ``stream`` worker processes in one consumer
group and a ``serve`` process. Version 2 is registered through the API while messages flow;
every message produced after the registration plus the workers' batch window is judged by
version 2 (``contract_version`` in the store, ``dq.contract`` in the DLQ headers), and nothing
is lost."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import Producer
from tests.fixtures.kafka import KafkaTopics, WorkerProcess, drain, ids_of, wait_for

from dataquarantine.quarantine.envelope import QuarantineFilter
from dataquarantine.quarantine.service import Quarantine
from dataquarantine.registry.postgres import PostgresSource
from dataquarantine.review.schemas import register_version
from dataquarantine.validation.registry import ContractRegistry

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

TOKEN = "fleet-test-token-0123456789abcdef"
RATE = 400  # messages per second
SECONDS = 14.0
REGISTER_AFTER = 5.0
#: Notification (at most 2 s) plus a checkpoint and a batch of the workers.
WINDOW = 3.0


def orders(version: str, required: list[str]) -> dict[str, Any]:
    return {
        "name": "orders",
        "version": version,
        "schema": {
            "type": "object",
            "required": required,
            "properties": {"id": {"type": "string"}, "note": {"type": "string"}},
        },
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TimedProducer:
    """Produces ``{"_schema": "orders", "id": ...}`` at a steady rate, noting when each was
    produced (every one is valid under version 1 and invalid under version 2)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
        self.topic = topic
        self.sent: dict[str, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        start, i = time.monotonic(), 0
        while not self.stop.is_set():
            mid = f"m-{i}"
            value = json.dumps({"_schema": "orders", "id": mid}).encode()
            self.producer.produce(self.topic, value, headers=[("test-id", mid.encode())])
            self.sent[mid] = time.monotonic()
            i += 1
            self.producer.poll(0)
            ahead = start + i / RATE - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        assert self.producer.flush(30) == 0


def _serve(tmp_path: Path, url: str) -> tuple[subprocess.Popen[str], str]:
    port = _free_port()
    env = {
        **os.environ,
        "DQ_STORE_URL": url,
        "DQ_PAYLOADS_URL": f"file://{tmp_path / 'payloads'}",
        "DQ_CONTRACTS_URL": url,
        "DQ_CONTRACTS_CACHE": "",
        "DQ_API_TOKEN": TOKEN,
    }
    exe = Path(sys.executable).with_name("dataquarantine")
    proc = subprocess.Popen(
        [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "serve.log").open("w"),
        text=True,
    )
    return proc, f"http://127.0.0.1:{port}"


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_two_workers_and_serve_switch_to_a_version_registered_through_the_api(
    kafka_topics: Callable[..., KafkaTopics],
    worker_processes: Callable[[dict[str, Any]], WorkerProcess],
    pg_schema_url: str,
    tmp_path: Path,
) -> None:
    source = PostgresSource(pg_schema_url)
    register_version(ContractRegistry.from_source(source), orders("1.0.0", ["id"]), actor="ci")
    source.close()
    topics = kafka_topics(partitions=4)
    settings = topics.settings(
        store_url=pg_schema_url,
        payloads_url=f"file://{tmp_path / 'payloads'}",
        contracts_url=pg_schema_url,
        contracts_poll_seconds=60,  # the notification brings version 2, not polling
        contracts_cache="",
    )
    serve, base = _serve(tmp_path, pg_schema_url)
    workers = [worker_processes(settings), worker_processes(settings)]
    try:
        assert wait_for(lambda: _answers(base), timeout=30), "serve did not start"
        assert wait_for(lambda: all("assigned" in w.log() for w in workers), timeout=40), (
            "both workers should own partitions: " + " | ".join(w.log()[-500:] for w in workers)
        )

        producer = TimedProducer(topics.bootstrap, topics.raw)
        producer.thread.start()
        time.sleep(REGISTER_AFTER)
        answer = httpx.post(
            f"{base}/api/v1/schemas",
            json={"contract": orders("2.0.0", ["id", "note"]), "compatibility": "none"},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )
        registered_at = time.monotonic()
        assert answer.status_code == 201, answer.text
        assert answer.json()["latest"] == "2.0.0"
        assert answer.json()["versions"][-1]["registered_by"]
        time.sleep(SECONDS - REGISTER_AFTER)
        producer.stop.set()
        producer.thread.join(30)
        sent = producer.sent

        valid = drain(topics.bootstrap, topics.valid, until=lambda ms: len(ms) > 0, quiet=3.0)
        dlq = drain(
            topics.bootstrap,
            topics.dlq,
            until=lambda ms: len(set(ids_of(valid)) | set(ids_of(ms))) >= len(sent),
            timeout=60,
        )
        assert all(w.running for w in workers), [w.log()[-2000:] for w in workers]
    finally:
        for w in workers:
            w.terminate()
        serve.send_signal(signal.SIGINT)
        serve.wait(timeout=30)

    valid_ids, dlq_ids = set(ids_of(valid)), set(ids_of(dlq))
    assert valid_ids | dlq_ids == set(sent), "messages were lost"
    late = {mid for mid, at in sent.items() if at > registered_at + WINDOW}
    early = {mid for mid, at in sent.items() if at < registered_at - 1.0}
    assert late and early
    assert late <= dlq_ids and not (late & valid_ids), "judged by version 1 after the switch"
    assert early & valid_ids, "version 1 judged the messages before the registration"
    assert {m.header("dq.contract") for m in dlq} == {b"orders@2.0.0"}
    with Quarantine.open(pg_schema_url, f"file://{tmp_path / 'payloads'}") as quarantine:
        stored = quarantine.list(QuarantineFilter(source_name=topics.raw), limit=100_000)
    assert {r.contract_version for r in stored} == {"2.0.0"}
    assert len(stored) == len(dlq_ids)
    print(
        f"{len(sent)} messages, {len(early)} before and {len(late)} {WINDOW:.0f} s after the "
        f"registration; {len(dlq_ids)} judged by version 2"
    )
