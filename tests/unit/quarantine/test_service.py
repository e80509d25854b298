from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataquarantine.errors import (
    ConfigError,
    PayloadNotFoundError,
    PayloadStoreError,
    PayloadStoreUnavailableError,
    StoreIntegrityError,
    StoreUnavailableError,
)
from dataquarantine.infra.retry import RetryPolicy
from dataquarantine.kernel.lifecycle import Status
from dataquarantine.kernel.results import ContractRef, ErrorCode
from dataquarantine.quarantine.envelope import KafkaSource, QuarantineFilter, QuarantineItem
from dataquarantine.quarantine.payloads import LocalPayloadStore
from dataquarantine.quarantine.service import Quarantine, WriteReport
from dataquarantine.testing import (
    InMemoryPayloadStore,
    InMemoryQuarantineStore,
    make_item,
    make_violation,
)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def store() -> InMemoryQuarantineStore:
    return InMemoryQuarantineStore()


@pytest.fixture
def payloads() -> InMemoryPayloadStore:
    return InMemoryPayloadStore()


@pytest.fixture
def make_quarantine(
    store: InMemoryQuarantineStore, payloads: InMemoryPayloadStore, sleeps: Sleeps
) -> Callable[..., Quarantine]:
    def factory(*, max_attempts: int = 4, max_chunk_bytes: int = 8 << 20) -> Quarantine:
        retry = RetryPolicy(max_attempts=max_attempts, deadline=None, jitter=0.0, sleep=sleeps)
        return Quarantine(store, payloads, retry=retry, max_chunk_bytes=max_chunk_bytes)

    return factory


@pytest.fixture
def quarantine(make_quarantine: Callable[..., Quarantine]) -> Quarantine:
    return make_quarantine()


def items(n: int, *, size: int = 10) -> list[QuarantineItem]:
    return [make_item(f"{i:0{size}d}".encode(), line=i + 1) for i in range(n)]


def test_ids_are_deterministic_and_in_input_order(quarantine: Quarantine) -> None:
    batch = items(20)
    report = quarantine.write(batch)
    assert report.ids == tuple(item.record_id() for item in batch)
    assert report.inserted == 20


def test_one_put_per_chunk_and_one_insert_per_write(
    quarantine: Quarantine, store: InMemoryQuarantineStore, payloads: InMemoryPayloadStore
) -> None:
    report = quarantine.write(items(500))
    assert report == WriteReport(ids=report.ids, inserted=500, chunks=1)
    assert payloads.put_count == 1
    assert store.calls["insert_many"] == 1
    assert len(payloads.objects) == 1


def test_payloads_are_packed_into_chunks_of_at_most_max_chunk_bytes(
    make_quarantine: Callable[..., Quarantine], payloads: InMemoryPayloadStore
) -> None:
    quarantine = make_quarantine(max_chunk_bytes=100)
    batch = items(5, size=40)  # 40 + 40 fit, a third would make 120
    report = quarantine.write(batch)
    assert report.chunks == 3
    assert payloads.put_count == 3
    assert sorted(len(chunk) for chunk in payloads.objects.values()) == [40, 80, 80]
    for record_id, item in zip(report.ids, batch, strict=True):
        record = quarantine.get(record_id)
        assert record is not None
        assert quarantine.payload(record) == item.payload


def test_a_payload_larger_than_a_chunk_gets_a_chunk_of_its_own(
    make_quarantine: Callable[..., Quarantine], payloads: InMemoryPayloadStore
) -> None:
    quarantine = make_quarantine(max_chunk_bytes=100)
    big = make_item(b"x" * 250, line=2)
    batch = [make_item(b"a" * 10, line=1), big, make_item(b"b" * 10, line=3)]
    report = quarantine.write(batch)
    assert report.chunks == 3
    record = quarantine.get(report.ids[1])
    assert record is not None
    assert record.payload.offset == 0
    assert record.payload.length == 250
    assert quarantine.payload(record) == big.payload


def test_records_point_at_consecutive_ranges_of_the_chunk(quarantine: Quarantine) -> None:
    batch = [make_item(b"abc", line=1), make_item(b"", line=2), make_item(b"defgh", line=3)]
    report = quarantine.write(batch)
    records = [quarantine.get(record_id) for record_id in report.ids]
    assert [(r.payload.offset, r.payload.length) for r in records if r] == [(0, 3), (3, 0), (3, 5)]
    assert len({r.payload.key for r in records if r}) == 1


def test_envelope_fields(quarantine: Quarantine) -> None:
    violation = make_violation(ErrorCode.RULE_VIOLATION, "/total", "total mismatch", rule="r1")
    item = make_item(
        b'{"x": 1}',
        source=KafkaSource(topic="orders", partition=3, offset=42),
        errors=[violation],
        contract=ContractRef("orders", "2.1.0"),
        run_id="run-7",
    )
    before = datetime.now(UTC)
    (record_id,) = quarantine.write([item]).ids
    record = quarantine.get(record_id)
    assert record is not None
    assert record.id == item.record_id()
    assert record.source == item.source
    assert record.errors == (violation,)
    assert record.contract == "orders"
    assert record.contract_version == "2.1.0"
    assert record.status is Status.QUARANTINED
    assert record.attempts == 0
    assert record.run_id == "run-7"
    assert record.dedup_key == item.dedup_key()
    assert record.quarantined_at.tzinfo is not None
    assert before <= record.quarantined_at <= datetime.now(UTC)
    assert record.payload.sha256 == hashlib.sha256(item.payload).hexdigest()


def test_an_item_without_contract_is_stored_without_one(quarantine: Quarantine) -> None:
    (record_id,) = quarantine.write([make_item(contract=None)]).ids
    record = quarantine.get(record_id)
    assert record is not None
    assert (record.contract, record.contract_version) == (None, None)


def test_duplicates_within_one_call_are_written_once(
    quarantine: Quarantine, payloads: InMemoryPayloadStore
) -> None:
    a, b = make_item(b"same", line=1), make_item(b"other", line=2)
    report = quarantine.write([a, b, a])
    assert report.ids == (a.record_id(), b.record_id(), a.record_id())
    assert report.inserted == 2
    assert quarantine.count() == 2
    assert len(next(iter(payloads.objects.values()))) == len(b"sameother")


def test_same_bytes_at_other_coordinates_are_distinct_records(quarantine: Quarantine) -> None:
    report = quarantine.write([make_item(b"x", line=1), make_item(b"x", line=2)])
    assert report.inserted == 2
    assert report.ids[0] != report.ids[1]


def test_writing_again_is_idempotent(quarantine: Quarantine) -> None:
    batch = items(10)
    first = quarantine.write(batch)
    second = quarantine.write(batch)
    assert second.ids == first.ids
    assert second.inserted == 0
    assert quarantine.count() == 10


def test_an_empty_write_does_no_io(
    quarantine: Quarantine, store: InMemoryQuarantineStore, payloads: InMemoryPayloadStore
) -> None:
    assert quarantine.write([]) == WriteReport(ids=(), inserted=0, chunks=0)
    assert payloads.put_count == 0
    assert store.calls["insert_many"] == 0


def test_transient_put_failures_are_retried(
    quarantine: Quarantine, payloads: InMemoryPayloadStore, sleeps: Sleeps
) -> None:
    payloads.fail_next(2)
    report = quarantine.write(items(3))
    assert report.inserted == 3
    assert payloads.put_count == 3
    assert len(sleeps) == 2


def test_when_puts_keep_failing_the_error_propagates_and_nothing_is_recorded(
    make_quarantine: Callable[..., Quarantine],
    store: InMemoryQuarantineStore,
    payloads: InMemoryPayloadStore,
) -> None:
    quarantine = make_quarantine(max_attempts=3)
    payloads.fail_next(3)
    with pytest.raises(PayloadStoreUnavailableError):
        quarantine.write(items(3))
    assert payloads.put_count == 3
    assert store.calls["insert_many"] == 0  # never metadata without bytes
    assert quarantine.count() == 0
    # The outage is over: the same write now succeeds.
    assert quarantine.write(items(3)).inserted == 3


def test_transient_insert_failures_are_retried(
    quarantine: Quarantine, store: InMemoryQuarantineStore
) -> None:
    store.fail_next(2)
    assert quarantine.write(items(4)).inserted == 4
    assert store.calls["insert_many"] == 3


def test_when_inserts_keep_failing_the_error_propagates(
    make_quarantine: Callable[..., Quarantine], store: InMemoryQuarantineStore
) -> None:
    quarantine = make_quarantine(max_attempts=2)
    store.fail_next(5)
    with pytest.raises(StoreUnavailableError):
        quarantine.write(items(2))
    assert store.calls["insert_many"] == 2


def test_terminal_insert_failures_are_not_retried(
    quarantine: Quarantine, store: InMemoryQuarantineStore, sleeps: Sleeps
) -> None:
    store.fail_next(1, error=StoreIntegrityError)
    with pytest.raises(StoreIntegrityError):
        quarantine.write(items(2))
    assert store.calls["insert_many"] == 1
    assert sleeps == []


def test_payload_verifies_the_checksum(
    quarantine: Quarantine, payloads: InMemoryPayloadStore
) -> None:
    (record_id,) = quarantine.write([make_item(b"precious bytes")]).ids
    record = quarantine.get(record_id)
    assert record is not None
    payloads.corrupt(record.payload.key)
    with pytest.raises(PayloadStoreError, match="SHA-256 mismatch"):
        quarantine.payload(record)


def test_payload_reads_are_retried(quarantine: Quarantine, payloads: InMemoryPayloadStore) -> None:
    (record_id,) = quarantine.write([make_item(b"abc")]).ids
    record = quarantine.get(record_id)
    assert record is not None
    payloads.fail_next(2, operation="get_range")
    assert quarantine.payload(record) == b"abc"


def test_a_missing_payload_is_not_found(
    quarantine: Quarantine, payloads: InMemoryPayloadStore
) -> None:
    (record_id,) = quarantine.write([make_item(b"abc")]).ids
    record = quarantine.get(record_id)
    assert record is not None
    payloads.objects.clear()
    with pytest.raises(PayloadNotFoundError):
        quarantine.payload(record)


def test_reads_pass_through(quarantine: Quarantine) -> None:
    batch = [
        make_item(b"a", line=1, run_id="r1"),
        make_item(b"b", line=2, run_id="r2"),
        make_item(b"c", line=3, run_id="r2"),
    ]
    ids = quarantine.write(batch).ids
    assert quarantine.get(uuid.uuid4()) is None
    assert quarantine.count() == 3
    assert quarantine.count(QuarantineFilter(run_id="r2")) == 2
    # One write shares one timestamp: the store orders ties by id.
    assert [r.id for r in quarantine.list(QuarantineFilter(run_id="r2"))] == sorted(
        ids[1:], reverse=True
    )
    assert [r.id for r in quarantine.iter()] == sorted(ids)


def test_check_probes_both_stores(
    quarantine: Quarantine, store: InMemoryQuarantineStore, payloads: InMemoryPayloadStore
) -> None:
    quarantine.check()
    assert (store.calls["check"], payloads.calls["check"]) == (1, 1)
    payloads.fail_next(1, operation="check")
    with pytest.raises(PayloadStoreUnavailableError):
        quarantine.check()


def test_close_closes_both_stores_even_if_the_first_fails(
    store: InMemoryQuarantineStore, payloads: InMemoryPayloadStore
) -> None:
    class BrokenClose(InMemoryQuarantineStore):
        def close(self) -> None:
            raise StoreUnavailableError("cannot close")

    with pytest.raises(StoreUnavailableError):
        Quarantine(BrokenClose(), payloads).close()
    assert payloads.closed
    with Quarantine(store, InMemoryPayloadStore()):
        pass
    assert store.closed


def test_works_with_the_local_payload_store(store: InMemoryQuarantineStore, tmp_path: Path) -> None:
    quarantine = Quarantine(store, LocalPayloadStore(tmp_path))
    batch = items(50)
    report = quarantine.write(batch)
    for record_id, item in zip(report.ids, batch, strict=True):
        record = quarantine.get(record_id)
        assert record is not None
        assert quarantine.payload(record) == item.payload


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    payload_list=st.lists(st.binary(max_size=300), max_size=30),
    max_chunk_bytes=st.integers(min_value=1, max_value=1000),
)
def test_payloads_round_trip_byte_for_byte(payload_list: list[bytes], max_chunk_bytes: int) -> None:
    payloads = InMemoryPayloadStore()
    quarantine = Quarantine(InMemoryQuarantineStore(), payloads, max_chunk_bytes=max_chunk_bytes)
    batch = [make_item(payload, line=i) for i, payload in enumerate(payload_list)]
    report = quarantine.write(batch)
    assert report.inserted == len(batch)
    assert payloads.put_count == report.chunks
    assert all(
        len(chunk) <= max_chunk_bytes or chunk in {item.payload for item in batch}
        for chunk in payloads.objects.values()
    )
    for record_id, item in zip(report.ids, batch, strict=True):
        record = quarantine.get(record_id)
        assert record is not None
        assert quarantine.payload(record) == item.payload


def test_open_from_urls_migrates_and_round_trips(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'quarantine.db'}"
    payloads_url = (tmp_path / "payloads").as_uri()
    batch = items(3)
    with Quarantine.open(store_url, payloads_url) as quarantine:
        quarantine.check()
        ids = quarantine.write(batch).ids
    with Quarantine.open(store_url, payloads_url) as quarantine:  # migrating again is a no-op
        assert quarantine.count() == 3
        for record_id, item in zip(ids, batch, strict=True):
            record = quarantine.get(record_id)
            assert record is not None
            assert quarantine.payload(record) == item.payload


def test_open_rejects_a_bad_payload_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        Quarantine.open(f"sqlite:///{tmp_path / 'q.db'}", "ftp://nowhere")
