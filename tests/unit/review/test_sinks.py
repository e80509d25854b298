"""Valid sinks of reprocessing: one downstream record per quarantine id."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

import orjson
import pytest

from dataquarantine.errors import ConfigError
from dataquarantine.kernel.results import ContractRef
from dataquarantine.quarantine.sql import open_store
from dataquarantine.review.sinks import (
    JsonlReprocessSink,
    ReprocessedRecord,
    StoreTableSink,
    open_reprocess_sink,
)

REF = ContractRef("orders", "1.0.0")


def test_jsonl_sink_is_idempotent_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "out" / "valid.jsonl"
    sink = open_reprocess_sink(f"file://{path}", None)
    assert isinstance(sink, JsonlReprocessSink)
    a = ReprocessedRecord(uuid.uuid4(), b'{"big": 12345678901234567890}', REF)
    b = ReprocessedRecord(uuid.uuid4(), b"\xff not json", REF)
    assert sink.publish(a) and sink.publish(b)
    assert not sink.publish(a)
    again = JsonlReprocessSink(path)  # a restart reads the ids back
    assert not again.publish(b)
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert [line["id"] for line in lines] == [str(a.id), str(b.id)]
    assert b'{"big": 12345678901234567890}' in path.read_bytes().splitlines()[0]  # as is
    assert base64.b64decode(lines[1]["record_b64"]) == b"\xff not json"


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_store_sink_keeps_one_row(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'dq.db'}"
    else:
        url = request.getfixturevalue("pg_schema_url")
    store = open_store(url)
    store.migrate()
    sink = open_reprocess_sink("store", store)
    assert isinstance(sink, StoreTableSink)
    record = ReprocessedRecord(uuid.uuid4(), b'{"a": 1}', REF)
    assert sink.publish(record)
    assert not sink.publish(record)
    assert store.reprocessed_count() == 1
    assert store.reprocessed(record.id) == b'{"a": 1}'
    store.close()


@pytest.mark.parametrize("url", ["nope://x", "kafka://host-only", "file://", "ftp://x/y"])
def test_bad_sink_urls(url: str) -> None:
    with pytest.raises(ConfigError):
        open_reprocess_sink(url, None)


def test_store_sink_needs_a_sql_store() -> None:
    with pytest.raises(ConfigError):
        open_reprocess_sink("store", object())


@pytest.mark.parametrize(
    "backend", ["sqlite", "jsonl", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_publish_many_is_once_per_id(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store = None
    if backend == "jsonl":
        sink = open_reprocess_sink(f"file://{tmp_path / 'valid.jsonl'}", None)
    else:
        url = (
            f"sqlite:///{tmp_path / 'dq.db'}"
            if backend == "sqlite"
            else request.getfixturevalue("pg_schema_url")
        )
        store = open_store(url)
        store.migrate()
        sink = open_reprocess_sink("store", store)
    a, b, c = (ReprocessedRecord(uuid.uuid4(), b'{"n": %d}' % i, REF) for i in range(3))
    assert sink.publish(a)
    assert sink.publish_many([]) == 0
    # a was published before, and b twice in the batch: each id once
    assert sink.publish_many([a, b, c, b]) == 2
    assert sink.publish_many([a, b, c]) == 0
    if store is not None:
        assert store.reprocessed_count() == 3
        assert store.reprocessed(b.id) == b'{"n": 1}'
        store.close()
    else:
        lines = (tmp_path / "valid.jsonl").read_bytes().splitlines()
        assert [orjson.loads(line)["id"] for line in lines] == [str(a.id), str(b.id), str(c.id)]
