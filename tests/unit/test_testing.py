"""The in-memory doubles behave like the real ports (filters, dedup, order, keys, faults)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dataquarantine.errors import (
    ConfigError,
    PayloadNotFoundError,
    PayloadStoreUnavailableError,
    StoreError,
    StoreIntegrityError,
    StoreUnavailableError,
)
from dataquarantine.kernel.lifecycle import Status
from dataquarantine.kernel.results import ContractRef, ErrorCode
from dataquarantine.quarantine.envelope import KafkaSource, QuarantineFilter, TableSource
from dataquarantine.quarantine.payloads import chunk_key
from dataquarantine.testing import (
    InMemoryPayloadStore,
    InMemoryQuarantineStore,
    make_item,
    make_record,
    make_violation,
)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store() -> InMemoryQuarantineStore:
    s = InMemoryQuarantineStore()
    s.insert_many(
        [
            make_record(b"1", line=1, quarantined_at=T0),
            make_record(
                b"2",
                line=2,
                quarantined_at=T0 + timedelta(minutes=1),
                errors=[make_violation(ErrorCode.RULE_VIOLATION, "/x", "Total does NOT match")],
                run_id="run-2",
            ),
            make_record(
                b"3",
                source=KafkaSource(topic="payments", partition=0, offset=9),
                contract=ContractRef("payments", "3.0.0"),
                quarantined_at=T0 + timedelta(minutes=2),
                errors=[make_violation(), make_violation(ErrorCode.FK_VIOLATION, "/c", "no ref")],
                status=Status.DEAD,
            ),
            make_record(
                b"4",
                source=TableSource(table="orders", key="k1"),
                contract=None,
                quarantined_at=T0 + timedelta(minutes=3),
                errors=[make_violation(ErrorCode.PARSE_ERROR, "", "bad json")],
            ),
        ]
    )
    return s


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (QuarantineFilter(), 4),
        (QuarantineFilter(contract="orders"), 2),
        (QuarantineFilter(code=ErrorCode.SCHEMA_VIOLATION), 2),
        (QuarantineFilter(code=ErrorCode.FK_VIOLATION), 1),  # any violation, not only the first
        (QuarantineFilter(status=Status.DEAD), 1),
        (QuarantineFilter(status=Status.QUARANTINED), 3),
        (QuarantineFilter(source_kind="kafka"), 1),
        (QuarantineFilter(source_name="orders.jsonl"), 2),
        (QuarantineFilter(source_name="orders"), 1),
        (QuarantineFilter(since=T0 + timedelta(minutes=1)), 3),  # inclusive
        (QuarantineFilter(until=T0 + timedelta(minutes=1)), 1),  # exclusive
        (QuarantineFilter(since=(T0 + timedelta(minutes=2)).replace(tzinfo=None)), 2),
        (QuarantineFilter(run_id="run-2"), 1),
        (QuarantineFilter(text="not MATCH"), 1),
        (QuarantineFilter(text="nothing like it"), 0),
        (QuarantineFilter(contract="orders", code=ErrorCode.RULE_VIOLATION), 1),
    ],
)
def test_filters(store: InMemoryQuarantineStore, flt: QuarantineFilter, expected: int) -> None:
    assert store.count(flt) == expected
    assert len(store.list(flt, limit=100)) == expected
    assert len(list(store.iter(flt))) == expected


def test_list_is_newest_first_and_paged(store: InMemoryQuarantineStore) -> None:
    times = [r.quarantined_at for r in store.list(QuarantineFilter())]
    assert times == sorted(times, reverse=True)
    page = store.list(QuarantineFilter(), limit=2, offset=1)
    assert [r.quarantined_at for r in page] == times[1:3]
    assert [r.quarantined_at for r in store.iter(QuarantineFilter())] == sorted(times)


def test_page_arguments_are_validated(store: InMemoryQuarantineStore) -> None:
    with pytest.raises(ConfigError):
        store.list(QuarantineFilter(), limit=-1)
    with pytest.raises(ConfigError):
        store.iter(QuarantineFilter(), batch_size=0)


def test_insert_skips_known_dedup_keys_and_ids() -> None:
    store = InMemoryQuarantineStore()
    record = make_record(b"x")
    assert store.insert_many([record, record]) == 1
    assert store.insert_many([make_record(b"x")]) == 0
    assert store.insert_many([make_record(b"x", line=2)]) == 1
    assert store.get(record.id) == record
    assert store.count(QuarantineFilter()) == 2


def test_injected_failures(store: InMemoryQuarantineStore) -> None:
    store.fail_next(2)
    for _ in range(2):
        with pytest.raises(StoreUnavailableError):
            store.insert_many([make_record(b"new")])
    assert store.insert_many([make_record(b"new")]) == 1
    assert store.calls["insert_many"] == 4  # the fixture's insert, two failures, one success
    store.fail_next(operation="count", error=StoreIntegrityError)
    with pytest.raises(StoreIntegrityError):
        store.count(QuarantineFilter())
    store.close()
    with pytest.raises(StoreError):
        store.count(QuarantineFilter())


def test_payload_store_is_content_addressed() -> None:
    payloads = InMemoryPayloadStore()
    key = payloads.put_chunk(b"abcdef")
    assert key == chunk_key(b"abcdef")
    assert payloads.put_chunk(b"abcdef") == key
    assert payloads.put_count == 2
    assert len(payloads.objects) == 1
    assert payloads.get_range(key, 2, 3) == b"cde"
    with pytest.raises(PayloadNotFoundError):
        payloads.get_range(key, 4, 3)
    with pytest.raises(PayloadNotFoundError):
        payloads.get_range(chunk_key(b"other"), 0, 1)
    with pytest.raises(PayloadNotFoundError, match="invalid payload key"):
        payloads.get_range("../x", 0, 1)


def test_payload_store_faults_and_corruption() -> None:
    payloads = InMemoryPayloadStore()
    payloads.fail_next(1)
    with pytest.raises(PayloadStoreUnavailableError):
        payloads.put_chunk(b"x")
    key = payloads.put_chunk(b"x")
    payloads.corrupt(key)
    assert payloads.get_range(key, 0, 1) != b"x"
    payloads.fail_next(1, operation="get_range")
    with pytest.raises(PayloadStoreUnavailableError):
        payloads.get_range(key, 0, 1)


def test_make_record_matches_what_the_service_would_build() -> None:
    item = make_item(b"data", line=7)
    record = make_record(b"data", line=7)
    assert record.id == item.record_id()
    assert record.dedup_key == item.dedup_key()
    assert (record.contract, record.contract_version) == ("orders", "1.0.0")
    assert record.payload.length == 4
