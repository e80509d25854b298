"""The :class:`QuarantineStore` port: one behaviour suite run on the in-memory fake, SQLite and
PostgreSQL (marked ``postgres``). SQLite specifics are in test_sqlite_backend.py, store URLs
in tests/unit/db/test_url.py, PostgreSQL-only behaviour (schemas, outages) in
tests/integration/postgres/test_postgres_backend.py."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.fixtures.postgres import drop_schema, with_schema

from dataquarantine.db.migrations import MIGRATIONS
from dataquarantine.errors import (
    ConfigError,
    StoreError,
)
from dataquarantine.kernel.lifecycle import Status
from dataquarantine.kernel.results import ErrorCode, Severity, Violation
from dataquarantine.quarantine.envelope import (
    ENVELOPE_NAMESPACE,
    FileSource,
    KafkaSource,
    PayloadRef,
    QuarantineFilter,
    QuarantineRecord,
    Source,
    TableSource,
    source_from_dict,
)
from dataquarantine.quarantine.ports import QuarantineStore
from dataquarantine.quarantine.sql import SqlQuarantineStore, open_store
from dataquarantine.testing import InMemoryQuarantineStore

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

StoreFactory = Callable[[], QuarantineStore]
SQL = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def make_record(
    i: int,
    *,
    source: Source | None = None,
    errors: tuple[Violation, ...] | None = None,
    at: datetime | None = None,
    **fields: Any,
) -> QuarantineRecord:
    """Record ``i``: source kinds rotate, ``quarantined_at`` is T0 + i seconds."""
    if source is None:
        source = (
            FileSource(f"data/orders-{i % 2}.jsonl", i + 1),
            KafkaSource("orders", i % 3, i),
            TableSource("public.orders", f"key-{i}"),
        )[i % 3]
    if errors is None:
        errors = (Violation(ErrorCode.SCHEMA_VIOLATION, "/amount", f"amount {i} is not a number"),)
    dedup_key = f"{source.coordinates}#{i:064x}"
    values: dict[str, Any] = {
        "id": fields.pop("id", None) or uuid.uuid5(ENVELOPE_NAMESPACE, dedup_key),
        "source": source,
        "errors": errors,
        "payload": PayloadRef(f"chunks/{i // 100:08d}", (i % 100) * 64, 64, f"{i:064x}"),
        "contract": "orders",
        "contract_version": "1.0.0",
        "quarantined_at": at if at is not None else T0 + timedelta(seconds=i),
        "run_id": "run-1",
        "dedup_key": dedup_key,
    }
    values.update(fields)
    return QuarantineRecord(**values)


#: Only the SQL backends: the fake has no migrations table and no shared database.
SQL_ONLY = pytest.mark.parametrize("store_factory", SQL, indirect=True)


@pytest.fixture(params=["memory", *SQL])
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Make fresh, migrated stores: in memory, SQLite files in tmp_path, or PostgreSQL schemas."""
    stores: list[QuarantineStore] = []
    schemas: list[str] = []
    base_url = request.getfixturevalue("pg_url") if request.param == "postgres" else ""

    def make() -> QuarantineStore:
        store: QuarantineStore
        if request.param == "memory":
            store = InMemoryQuarantineStore()
            stores.append(store)
            store.migrate()
            return store
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / f'store{len(stores)}' / 'quarantine.db'}"
        else:
            schemas.append(f"dq_test_{uuid.uuid4().hex[:16]}")
            url = with_schema(base_url, schemas[-1])
        store = open_store(url)
        stores.append(store)
        store.migrate()
        return store

    yield make
    for store in stores:
        store.close()
    for schema in schemas:
        drop_schema(base_url, schema)


@pytest.fixture
def store(store_factory: StoreFactory) -> QuarantineStore:
    return store_factory()


@pytest.fixture
def sql_store(store: QuarantineStore) -> SqlQuarantineStore:
    """The store, on the SQL backends only (tests using it are parametrized with ``SQL_ONLY``)."""
    assert isinstance(store, SqlQuarantineStore)
    return store


# -- behaviour suite (every backend) -----------------------------------------------------------


def test_migrate_is_idempotent(store: QuarantineStore) -> None:
    store.migrate()
    store.migrate()


@SQL_ONLY
def test_migrations_are_recorded(sql_store: SqlQuarantineStore) -> None:
    sql_store.migrate()
    assert sql_store.applied_migrations() == [(m.version, m.name) for m in MIGRATIONS]


def test_round_trip_every_field(store: QuarantineStore) -> None:
    errors = (
        Violation(ErrorCode.SCHEMA_VIOLATION, "/items/0/price", "-1 < 0", keyword="minimum"),
        Violation(ErrorCode.RULE_VIOLATION, "", "total must match", rule="total_matches"),
        Violation(
            ErrorCode.FK_VIOLATION, "/customer", "unknown", rule="fk", severity=Severity.WARN
        ),
    )
    records = [
        make_record(0, errors=errors, status=Status.REMEDIATED, attempts=3),
        make_record(1, contract=None, contract_version=None, run_id=""),
        # Another zone and microseconds: stored as the same instant, returned in UTC.
        make_record(
            2, at=datetime(2024, 5, 1, 14, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
        ),
        make_record(3, errors=(Violation(ErrorCode.PARSE_ERROR, "", "Ünïcödé ✓ 'quote' \"dq\""),)),
        make_record(4, dedup_key=""),
        make_record(5, errors=()),
    ]
    assert store.insert_many(records) == len(records)
    for record in records:
        got = store.get(record.id)
        assert got == record
        assert got is not None
        assert got.quarantined_at.tzinfo is UTC
    assert {type(r.source) for r in records} == {FileSource, KafkaSource, TableSource}
    assert store.get(uuid.uuid4()) is None


def test_file_sources_by_byte_offset_round_trip(store: QuarantineStore) -> None:
    """JSON lines read by Spark are located by byte offset (no line number): stored,
    filtered by file and listed like any file source, with coordinates of their own."""
    by_offset = FileSource("file:///lake/events.jsonl", None, offset=1234)
    by_line = FileSource("file:///lake/events.jsonl", 1234)
    assert by_offset.coordinates == "file:file:///lake/events.jsonl@1234"
    assert by_offset.coordinates != by_line.coordinates
    assert by_offset.to_dict() == {"kind": "file", "uri": by_offset.uri, "offset": 1234}
    assert source_from_dict(by_offset.to_dict()) == by_offset
    assert source_from_dict(by_line.to_dict()) == by_line
    records = [make_record(0, source=by_offset), make_record(1, source=by_line)]
    assert store.insert_many(records) == 2
    assert store.get(records[0].id) == records[0]
    found = store.list(QuarantineFilter(source_kind="file", source_name=by_offset.uri))
    assert {r.source for r in found} == {by_offset, by_line}
    with pytest.raises(ValueError, match="either a line or a byte offset"):
        FileSource("x", None)
    with pytest.raises(ValueError, match="either a line or a byte offset"):
        FileSource("x", 1, offset=2)


def test_insert_is_idempotent(store: QuarantineStore) -> None:
    record = make_record(7)
    assert store.insert_many([record]) == 1
    assert store.insert_many([record]) == 0
    # Same dedup key inside one batch, and a mix of old and new rows.
    assert store.insert_many([make_record(8), make_record(8), record]) == 1
    assert store.insert_many([]) == 0
    assert store.count(QuarantineFilter()) == 2


def test_records_without_dedup_key_are_all_kept(store: QuarantineStore) -> None:
    assert store.insert_many([make_record(i, dedup_key="") for i in range(3)]) == 3
    assert store.count(QuarantineFilter()) == 3


def _filtered_dataset(store: QuarantineStore) -> list[QuarantineRecord]:
    records = [
        make_record(
            0, errors=(Violation(ErrorCode.SCHEMA_VIOLATION, "/a", "Price is 100% WRONG!"),)
        ),
        make_record(
            1,
            errors=(
                Violation(ErrorCode.SCHEMA_VIOLATION, "/a", "first"),
                Violation(ErrorCode.RULE_VIOLATION, "", "rule_x failed: ÉTÉ", rule="rule_x"),
            ),
            contract="payments",
            contract_version="2.0.0",
        ),
        make_record(2, status=Status.DISCARDED, run_id="run-2"),
        make_record(3, source=KafkaSource("payments", 0, 9), run_id="run-2"),
        make_record(4, errors=(Violation(ErrorCode.PARSE_ERROR, "", "bad JSON at a_b"),)),
        make_record(5, source=FileSource("data/orders-1.jsonl", 77)),
    ]
    assert store.insert_many(records) == len(records)
    return records


def _ids(records: list[QuarantineRecord]) -> set[uuid.UUID]:
    return {r.id for r in records}


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (QuarantineFilter(), [0, 1, 2, 3, 4, 5]),
        (QuarantineFilter(contract="payments"), [1]),
        (QuarantineFilter(code=ErrorCode.RULE_VIOLATION), [1]),  # not the headline code
        (QuarantineFilter(code=ErrorCode.SCHEMA_VIOLATION), [0, 1, 2, 3, 5]),
        (QuarantineFilter(code=ErrorCode.FK_VIOLATION), []),
        (QuarantineFilter(status=Status.DISCARDED), [2]),
        (QuarantineFilter(status=Status.QUARANTINED), [0, 1, 3, 4, 5]),
        (QuarantineFilter(source_kind="kafka"), [1, 3, 4]),
        (QuarantineFilter(source_kind="file"), [0, 5]),
        (QuarantineFilter(source_kind="table"), [2]),
        (QuarantineFilter(source_name="payments"), [3]),
        (QuarantineFilter(source_name="data/orders-1.jsonl"), [5]),
        (QuarantineFilter(since=T0 + timedelta(seconds=2)), [2, 3, 4, 5]),
        (QuarantineFilter(until=T0 + timedelta(seconds=2)), [0, 1]),
        (
            QuarantineFilter(since=T0 + timedelta(seconds=1), until=T0 + timedelta(seconds=3)),
            [1, 2],
        ),
        # A naive bound is taken as UTC; another zone is converted.
        (QuarantineFilter(since=datetime(2024, 5, 1, 12, 0, 4)), [4, 5]),
        (
            QuarantineFilter(
                until=datetime(2024, 5, 1, 14, 0, 1, tzinfo=timezone(timedelta(hours=2)))
            ),
            [0],
        ),
        (QuarantineFilter(run_id="run-2"), [2, 3]),
        (QuarantineFilter(text="100%"), [0]),  # % is literal
        (QuarantineFilter(text="0%"), [0]),
        (QuarantineFilter(text="wrong"), [0]),  # case-insensitive
        (QuarantineFilter(text="WRONG!"), [0]),
        (QuarantineFilter(text="été"), [1]),  # beyond ASCII
        (QuarantineFilter(text="a_b"), [4]),  # _ is literal
        (QuarantineFilter(text="_"), [1, 4]),
        (QuarantineFilter(text="FIRST"), [1]),  # any violation, not just the first
        (QuarantineFilter(text="no such text"), []),
        (QuarantineFilter(path="/a"), [0, 1]),  # any violation's path, exactly
        (QuarantineFilter(path="/amount"), [2, 3, 5]),
        (QuarantineFilter(path=""), [1, 4]),  # the record-level violations
        (QuarantineFilter(path="/A"), []),
        (QuarantineFilter(path="/am"), []),  # not a prefix match
        (QuarantineFilter(path="/a", text="first"), [1]),
        (QuarantineFilter(path="/amount", status=Status.QUARANTINED), [3, 5]),
        (
            QuarantineFilter(source_kind="kafka", run_id="run-2", code=ErrorCode.SCHEMA_VIOLATION),
            [3],
        ),
    ],
)
def test_filters(store: QuarantineStore, flt: QuarantineFilter, expected: list[int]) -> None:
    records = _filtered_dataset(store)
    want = [records[i] for i in expected]
    assert store.count(flt) == len(want)
    assert store.list(flt, limit=100) == sorted(want, key=lambda r: r.quarantined_at, reverse=True)
    assert list(store.iter(flt, batch_size=2)) == sorted(want, key=lambda r: r.quarantined_at)


def test_list_pages_newest_first_with_true_count(store: QuarantineStore) -> None:
    records = [make_record(i) for i in range(25)]
    store.insert_many(records)
    newest_first = records[::-1]
    assert store.list(QuarantineFilter(), limit=10) == newest_first[:10]
    assert store.list(QuarantineFilter(), limit=10, offset=20) == newest_first[20:]
    assert store.list(QuarantineFilter(), limit=10, offset=30) == []
    assert store.list(QuarantineFilter(), limit=0) == []
    assert store.count(QuarantineFilter()) == 25
    flt = QuarantineFilter(source_kind="kafka")
    assert store.count(flt) == len([r for r in records if r.source.kind == "kafka"])


def test_iter_is_oldest_first_across_equal_timestamps(store: QuarantineStore) -> None:
    # Equal timestamps straddle page boundaries: keyset pagination must break ties by id.
    records = [make_record(i, at=T0 + timedelta(seconds=i // 4)) for i in range(23)]
    store.insert_many(records)
    expected = sorted(records, key=lambda r: (r.quarantined_at, str(r.id)))
    for batch_size in (1, 3, 4, 23, 1000):
        assert list(store.iter(QuarantineFilter(), batch_size=batch_size)) == expected
    assert _ids(store.list(QuarantineFilter(), limit=100)) == _ids(records)


def test_bad_paging_arguments_are_config_errors(store: QuarantineStore) -> None:
    with pytest.raises(ConfigError):
        store.list(QuarantineFilter(), limit=-1)
    with pytest.raises(ConfigError):
        store.list(QuarantineFilter(), offset=-1)
    with pytest.raises(ConfigError):
        list(store.iter(QuarantineFilter(), batch_size=0))


def test_hostile_filter_text_is_data(store: QuarantineStore) -> None:
    _filtered_dataset(store)
    for text in ("'; DROP TABLE dq_quarantine; --", "\\", "%' OR '1'='1", "\\%", "!%", "!!"):
        assert store.count(QuarantineFilter(text=text, contract=text, source_name=text)) == 0
        assert store.count(QuarantineFilter(path=text)) == 0
    assert store.count(QuarantineFilter()) == 6


def test_unstorable_text_is_replaced_not_lost(store: QuarantineStore) -> None:
    odd = "nul\x00 and lone surrogate \udc80"
    record = make_record(
        0,
        source=FileSource(f"data/{odd}.jsonl", 1),
        errors=(Violation(ErrorCode.SCHEMA_VIOLATION, "/x", odd, rule=odd),),
        run_id=odd,
        id=uuid.uuid4(),
        dedup_key="odd",
    )
    assert store.insert_many([record]) == 1
    got = store.get(record.id)
    assert got is not None
    expected = "nul\ufffd and lone surrogate \ufffd"
    assert got.errors[0].message == expected
    assert got.run_id == expected
    assert got.source == FileSource(f"data/{expected}.jsonl", 1)
    assert store.count(QuarantineFilter(text="LONE")) == 1


def test_escape_lookalikes_are_kept_exactly(store: QuarantineStore) -> None:
    text = "literal \\u0000 and \\x00, not NUL"
    record = make_record(0, errors=(Violation(ErrorCode.PARSE_ERROR, "", text),), run_id=text)
    assert store.insert_many([record]) == 1
    assert store.get(record.id) == record


def test_fifty_thousand_rows(store: QuarantineStore) -> None:
    records = [make_record(i) for i in range(50_000)]
    assert store.insert_many(records) == 50_000
    assert store.insert_many(records[:1000]) == 0
    assert store.count(QuarantineFilter()) == 50_000
    assert store.count(QuarantineFilter(code=ErrorCode.SCHEMA_VIOLATION)) == 50_000
    assert store.list(QuarantineFilter(), limit=1) == [records[-1]]


def test_check_and_close(store: QuarantineStore) -> None:
    store.check()
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreError):
        store.count(QuarantineFilter())


@SQL_ONLY
def test_stores_on_the_same_database_see_each_other(sql_store: SqlQuarantineStore) -> None:
    first = sql_store
    second = open_store(first.url)
    try:
        second.migrate()
        first.insert_many([make_record(1)])
        assert second.count(QuarantineFilter()) == 1
        assert second.insert_many([make_record(1), make_record(2)]) == 1
        assert first.count(QuarantineFilter()) == 2
    finally:
        second.close()


# NUL and lone surrogates are replaced on the way in (see test_unstorable_text_...).
_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    message=_text,
    path=_text,
    rule=st.none() | _text,
    uri=_text,
    line=st.integers(1, 2**62),
    at=st.datetimes(
        min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    ),
)
def test_round_trip_property(
    store: QuarantineStore,
    message: str,
    path: str,
    rule: str | None,
    uri: str,
    line: int,
    at: datetime,
) -> None:
    record_id = uuid.uuid4()
    record = make_record(
        0,
        source=FileSource(uri, line),
        errors=(Violation(ErrorCode.RULE_VIOLATION, path, message, rule=rule),),
        at=at,
        dedup_key=f"{uri}#{record_id}",
        id=record_id,
    )
    store.insert_many([record])
    assert store.get(record.id) == record
