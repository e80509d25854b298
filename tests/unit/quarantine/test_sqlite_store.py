"""The SQL metadata store: one behaviour suite run on SQLite and on PostgreSQL, plus SQLite and
URL specifics. PostgreSQL-only behaviour (schemas, outages) is in tests/integration/postgres."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.fixtures.postgres import drop_schema, with_schema

from dataquarantine.errors import (
    ConfigError,
    StoreError,
    StoreIntegrityError,
    StoreUnavailableError,
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
)
from dataquarantine.quarantine.ports import QuarantineStore
from dataquarantine.quarantine.sql import (
    MIGRATIONS,
    SqliteQuarantineStore,
    SqlQuarantineStore,
    open_store,
)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

StoreFactory = Callable[[], SqlQuarantineStore]


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


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Make fresh, migrated stores: SQLite files in tmp_path, or PostgreSQL schemas."""
    stores: list[SqlQuarantineStore] = []
    schemas: list[str] = []
    base_url = request.getfixturevalue("pg_url") if request.param == "postgres" else ""

    def make() -> SqlQuarantineStore:
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
def store(store_factory: StoreFactory) -> SqlQuarantineStore:
    return store_factory()


# -- behaviour suite (both backends) -----------------------------------------------------------


def test_migrate_is_idempotent(store: SqlQuarantineStore) -> None:
    store.migrate()
    store.migrate()
    assert store.applied_migrations() == [(m.version, m.name) for m in MIGRATIONS]


def test_round_trip_every_field(store: SqlQuarantineStore) -> None:
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


def test_insert_is_idempotent(store: SqlQuarantineStore) -> None:
    record = make_record(7)
    assert store.insert_many([record]) == 1
    assert store.insert_many([record]) == 0
    # Same dedup key inside one batch, and a mix of old and new rows.
    assert store.insert_many([make_record(8), make_record(8), record]) == 1
    assert store.insert_many([]) == 0
    assert store.count(QuarantineFilter()) == 2


def test_records_without_dedup_key_are_all_kept(store: SqlQuarantineStore) -> None:
    assert store.insert_many([make_record(i, dedup_key="") for i in range(3)]) == 3
    assert store.count(QuarantineFilter()) == 3


def _filtered_dataset(store: SqlQuarantineStore) -> list[QuarantineRecord]:
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
        (
            QuarantineFilter(source_kind="kafka", run_id="run-2", code=ErrorCode.SCHEMA_VIOLATION),
            [3],
        ),
    ],
)
def test_filters(store: SqlQuarantineStore, flt: QuarantineFilter, expected: list[int]) -> None:
    records = _filtered_dataset(store)
    want = [records[i] for i in expected]
    assert store.count(flt) == len(want)
    assert store.list(flt, limit=100) == sorted(want, key=lambda r: r.quarantined_at, reverse=True)
    assert list(store.iter(flt, batch_size=2)) == sorted(want, key=lambda r: r.quarantined_at)


def test_list_pages_newest_first_with_true_count(store: SqlQuarantineStore) -> None:
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


def test_iter_is_oldest_first_across_equal_timestamps(store: SqlQuarantineStore) -> None:
    # Equal timestamps straddle page boundaries: keyset pagination must break ties by id.
    records = [make_record(i, at=T0 + timedelta(seconds=i // 4)) for i in range(23)]
    store.insert_many(records)
    expected = sorted(records, key=lambda r: (r.quarantined_at, str(r.id)))
    for batch_size in (1, 3, 4, 23, 1000):
        assert list(store.iter(QuarantineFilter(), batch_size=batch_size)) == expected
    assert _ids(store.list(QuarantineFilter(), limit=100)) == _ids(records)


def test_bad_paging_arguments_are_config_errors(store: SqlQuarantineStore) -> None:
    with pytest.raises(ConfigError):
        store.list(QuarantineFilter(), limit=-1)
    with pytest.raises(ConfigError):
        store.list(QuarantineFilter(), offset=-1)
    with pytest.raises(ConfigError):
        list(store.iter(QuarantineFilter(), batch_size=0))


def test_hostile_filter_text_is_data(store: SqlQuarantineStore) -> None:
    _filtered_dataset(store)
    for text in ("'; DROP TABLE dq_quarantine; --", "\\", "%' OR '1'='1", "\\%", "!%", "!!"):
        assert store.count(QuarantineFilter(text=text, contract=text, source_name=text)) == 0
    assert store.count(QuarantineFilter()) == 6


def test_unstorable_text_is_replaced_not_lost(store: SqlQuarantineStore) -> None:
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


def test_escape_lookalikes_are_kept_exactly(store: SqlQuarantineStore) -> None:
    text = "literal \\u0000 and \\x00, not NUL"
    record = make_record(0, errors=(Violation(ErrorCode.PARSE_ERROR, "", text),), run_id=text)
    assert store.insert_many([record]) == 1
    assert store.get(record.id) == record


def test_fifty_thousand_rows(store: SqlQuarantineStore) -> None:
    records = [make_record(i) for i in range(50_000)]
    assert store.insert_many(records) == 50_000
    assert store.insert_many(records[:1000]) == 0
    assert store.count(QuarantineFilter()) == 50_000
    assert store.count(QuarantineFilter(code=ErrorCode.SCHEMA_VIOLATION)) == 50_000
    assert store.list(QuarantineFilter(), limit=1) == [records[-1]]


def test_check_and_close(store: SqlQuarantineStore) -> None:
    store.check()
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreError):
        store.count(QuarantineFilter())


def test_stores_on_the_same_database_see_each_other(store_factory: StoreFactory) -> None:
    first = store_factory()
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
    store: SqlQuarantineStore,
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


# -- SQLite specifics --------------------------------------------------------------------------


def test_sqlite_pragmas(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'q.db'}")
    store.migrate()
    assert isinstance(store, SqliteQuarantineStore)
    with store._session("test") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
        assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
        assert conn.execute("PRAGMA busy_timeout").fetchone() == (5000,)
    store.close()


def test_sqlite_multi_row_statements_within_an_old_parameter_limit(tmp_path: Path) -> None:
    # Rows go in by multi-row statements; a build limited to 999 bound parameters gets shorter
    # ones. New and existing rows mixed: only the new ones count (and get their code rows).
    store = SqliteQuarantineStore(tmp_path / "q.db")
    store.migrate()
    with store._session("test") as conn:
        conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
    records = [make_record(i) for i in range(701)]
    assert store.insert_many(records[::2]) == 351
    assert store.insert_many(records) == 350
    assert store.count(QuarantineFilter()) == 701
    with store._session("test") as conn:
        codes = conn.execute("SELECT count(*) FROM dq_quarantine_codes").fetchone()
    assert codes == (701,)
    assert [r.id for r in store.iter(QuarantineFilter())] == [r.id for r in records]
    store.close()


def test_sqlite_relative_path_and_default_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///.dataquarantine/quarantine.db")
    store.migrate()
    store.insert_many([make_record(1)])
    store.close()
    assert (tmp_path / ".dataquarantine" / "quarantine.db").is_file()


def test_sqlite_memory() -> None:
    store: QuarantineStore = open_store("sqlite:///:memory:")  # mypy checks the Protocol
    store.migrate()
    assert store.insert_many([make_record(1), make_record(2)]) == 2
    assert store.count(QuarantineFilter(source_kind="kafka")) == 1
    store.close()


def test_sqlite_locked_database_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    store = SqliteQuarantineStore(path, busy_timeout=0.05)
    store.migrate()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreUnavailableError, match="locked"):
            store.insert_many([make_record(1)])
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert store.insert_many([make_record(1)]) == 1  # the same call succeeds once free
    store.close()


def test_sqlite_unopenable_file_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    store = open_store(f"sqlite:///{tmp_path / 'dir.db'}")
    with pytest.raises(StoreUnavailableError):
        store.migrate()


def test_sqlite_missing_schema_and_corrupt_rows_are_integrity_errors(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    store = open_store(f"sqlite:///{path}")
    with pytest.raises(StoreIntegrityError):  # not migrated: no such table
        store.count(QuarantineFilter())
    store.migrate()
    record = make_record(1)
    store.insert_many([record])
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("UPDATE dq_quarantine SET errors = 'not json'")
    raw.close()
    with pytest.raises(StoreIntegrityError, match="corrupt"):
        store.get(record.id)
    store.close()


def test_sqlite_refuses_a_diverging_migration_history(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    store = open_store(f"sqlite:///{path}")
    store.migrate()
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("UPDATE dq_schema_migrations SET name = 'something else' WHERE version = 1")
    raw.close()
    with pytest.raises(StoreIntegrityError, match="migration 1"):
        store.migrate()
    store.close()


def test_sqlite_concurrent_migrate_and_insert(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'q.db'}"
    stores = [open_store(url) for _ in range(4)]
    failures: list[BaseException] = []
    barrier = threading.Barrier(len(stores))

    def work(n: int, store: SqlQuarantineStore) -> None:
        try:
            barrier.wait()
            store.migrate()
            store.insert_many([make_record(i) for i in range(n * 50, n * 50 + 100)])
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n, s)) for n, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert stores[0].count(QuarantineFilter()) == 250
    assert stores[0].applied_migrations() == [(m.version, m.name) for m in MIGRATIONS]
    for store in stores:
        store.close()
