"""The S3 payload store against a real S3 endpoint (moto_server), outages included."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.fixtures.s3 import MotoServer, S3Target, create_bucket

from dataquarantine.errors import (
    PayloadNotFoundError,
    PayloadStoreError,
    PayloadStoreUnavailableError,
)
from dataquarantine.infra.retry import RetryPolicy
from dataquarantine.quarantine.payloads import chunk_key, open_payload_store
from dataquarantine.quarantine.payloads.s3 import S3PayloadStore
from dataquarantine.quarantine.service import Quarantine
from dataquarantine.testing import InMemoryQuarantineStore, make_item

pytestmark = pytest.mark.s3

#: An outage must surface within this many seconds (connection refused is immediate).
OUTAGE_DETECTION_SECONDS = 5.0


@pytest.fixture
def store(s3_target: S3Target) -> Iterator[S3PayloadStore]:
    payloads = open_payload_store(s3_target.url)
    assert isinstance(payloads, S3PayloadStore)
    yield payloads
    payloads.close()


def test_put_and_range_get_are_byte_exact(store: S3PayloadStore, s3_target: S3Target) -> None:
    data = os.urandom(1 << 20) + bytes(range(256))
    key = store.put_chunk(data)
    assert key == chunk_key(data)
    for offset, length in [(0, len(data)), (0, 1), (12345, 54321), (len(data) - 256, 256)]:
        assert store.get_range(key, offset, length) == data[offset : offset + length]
    assert store.get_range(key, len(data), 0) == b""
    # The object sits under the prefix, content-addressed.
    client = s3_target.client()
    body = client.get_object(Bucket=s3_target.bucket, Key=f"{s3_target.prefix}/{key}")["Body"]
    assert hashlib.sha256(body.read()).hexdigest() == key.rsplit("/", 1)[1]
    client.close()


def test_putting_a_chunk_twice_keeps_one_object(store: S3PayloadStore, s3_target: S3Target) -> None:
    assert store.put_chunk(b"same bytes") == store.put_chunk(b"same bytes")
    client = s3_target.client()
    listing = client.list_objects_v2(Bucket=s3_target.bucket, Prefix=s3_target.prefix)
    client.close()
    assert listing["KeyCount"] == 1


def test_empty_chunk(store: S3PayloadStore) -> None:
    key = store.put_chunk(b"")
    assert store.get_range(key, 0, 0) == b""
    with pytest.raises(PayloadNotFoundError):
        store.get_range(key, 0, 1)


def test_a_missing_object_is_not_found(store: S3PayloadStore) -> None:
    with pytest.raises(PayloadNotFoundError, match="NoSuchKey"):
        store.get_range(chunk_key(b"never written"), 0, 10)
    with pytest.raises(PayloadNotFoundError):
        store.get_range(chunk_key(b"never written"), 0, 0)


@pytest.mark.parametrize(("offset", "length"), [(5, 10), (10, 1), (100, 5)])
def test_a_range_past_the_end_is_not_found(store: S3PayloadStore, offset: int, length: int) -> None:
    key = store.put_chunk(b"0123456789")
    with pytest.raises(PayloadNotFoundError):
        store.get_range(key, offset, length)


def test_invalid_keys_are_rejected(store: S3PayloadStore) -> None:
    with pytest.raises(PayloadNotFoundError, match="invalid payload key"):
        store.get_range("../other-prefix/object", 0, 1)


def test_check(store: S3PayloadStore) -> None:
    store.check()


def test_a_missing_bucket_is_a_terminal_error(s3_target: S3Target) -> None:
    store = S3PayloadStore("no-such-bucket-dq", endpoint_url=s3_target.endpoint_url)
    for call in (store.check, lambda: store.put_chunk(b"x")):
        with pytest.raises(PayloadStoreError, match="no such bucket") as info:
            call()
        assert not isinstance(info.value, PayloadStoreUnavailableError)
    store.close()


def test_quarantine_round_trip_over_s3(store: S3PayloadStore) -> None:
    metadata = InMemoryQuarantineStore()
    quarantine = Quarantine(metadata, store, max_chunk_bytes=64 << 10)
    batch = [make_item(os.urandom(i % 700), line=i) for i in range(1000)]
    report = quarantine.write(batch)
    assert report.inserted == 1000
    assert report.chunks > 1
    for record_id, item in zip(report.ids, batch, strict=True):
        record = quarantine.get(record_id)
        assert record is not None
        assert quarantine.payload(record) == item.payload


def test_quarantine_open_with_sqlite_and_s3(s3_target: S3Target, tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    with Quarantine.open(f"sqlite:///{db}", s3_target.url) as quarantine:
        quarantine.check()
        (record_id,) = quarantine.write([make_item(b"over s3")]).ids
        record = quarantine.get(record_id)
        assert record is not None
        assert quarantine.payload(record) == b"over s3"


def test_an_outage_is_reported_quickly_and_nothing_is_dropped(
    moto_server_factory: Callable[[], MotoServer], s3_env: None
) -> None:
    server = moto_server_factory()
    create_bucket(server.endpoint_url, "outage")
    store = S3PayloadStore("outage", "p", endpoint_url=server.endpoint_url)
    metadata = InMemoryQuarantineStore()
    retry = RetryPolicy(max_attempts=3, deadline=5.0, initial_backoff=0.05, max_backoff=0.2)
    quarantine = Quarantine(metadata, store, retry=retry)
    batch = [make_item(f"record {i}".encode(), line=i) for i in range(10)]
    assert quarantine.write(batch[:5]).inserted == 5  # warm: pooled connections exist

    server.stop()

    started = time.monotonic()
    with pytest.raises(PayloadStoreUnavailableError):
        store.put_chunk(b"during the outage")
    assert time.monotonic() - started < OUTAGE_DETECTION_SECONDS
    with pytest.raises(PayloadStoreUnavailableError):
        store.check()

    started = time.monotonic()
    with pytest.raises(PayloadStoreUnavailableError):
        quarantine.write(batch[5:])
    assert time.monotonic() - started < OUTAGE_DETECTION_SECONDS
    # The caller got the error; no metadata row was written without its bytes.
    assert quarantine.count() == 5

    server.start()  # same port; moto's state was in memory, so the bucket is gone
    create_bucket(server.endpoint_url, "outage")
    report = quarantine.write(batch[5:])
    assert report.inserted == 5
    assert quarantine.count() == 10
    for record_id, item in zip(report.ids, batch[5:], strict=True):
        record = quarantine.get(record_id)
        assert record is not None
        assert quarantine.payload(record) == item.payload
    store.close()
