"""Review side of the metadata store (migration 4): revisions, events, transitions, stats,
the remediation revision written with the record, and the reprocessed-records table.

One suite for the in-memory fake, SQLite and PostgreSQL (marked ``postgres``)."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.fixtures.postgres import drop_schema, with_schema

from dataquarantine.errors import RecordNotFoundError
from dataquarantine.kernel.lifecycle import Status
from dataquarantine.kernel.results import ErrorCode
from dataquarantine.kernel.revisions import FieldChange, Revision, RevisionKind
from dataquarantine.quarantine.envelope import QuarantineFilter
from dataquarantine.quarantine.history import Event, EventAction, StatusChange
from dataquarantine.quarantine.service import Quarantine
from dataquarantine.quarantine.sql import open_store
from dataquarantine.testing import (
    InMemoryPayloadStore,
    InMemoryQuarantineStore,
    make_item,
    make_record,
    make_violation,
)

ALL = QuarantineFilter()


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "memory":
        yield InMemoryQuarantineStore()
        return
    base_url = ""
    schema = ""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'quarantine.db'}"
    else:
        base_url = request.getfixturevalue("pg_url")
        schema = f"dq_test_{uuid.uuid4().hex[:16]}"
        url = with_schema(base_url, schema)
    sql_store = open_store(url)
    sql_store.migrate()
    yield sql_store
    sql_store.close()
    if schema:
        drop_schema(base_url, schema)


def _event(record_id: uuid.UUID, action: EventAction = EventAction.REPROCESS) -> Event:
    return Event(record_id, "alice", action, Status.QUARANTINED, Status.QUARANTINED)


def test_remediation_is_revision_one_of_new_rows_only(store: Any) -> None:
    fixed = make_record(b'{"a": 1}', line=1, status=Status.REMEDIATED)
    plain = make_record(b'{"a": 2}', line=2)
    revision = Revision(
        payload=b'{"a": "1"}',
        kind=RevisionKind.REMEDIATION,
        author="remediation",
        changes=(FieldChange("/a", "coerce_int", "1", 1),),
    )
    assert store.insert_many([fixed, plain], {fixed.id: revision}) == 2
    # A duplicate insert adds neither a row nor a second revision.
    assert store.insert_many([fixed], {fixed.id: revision}) == 0
    (stored,) = store.revisions(fixed.id)
    assert stored.number == 1
    assert stored.kind is RevisionKind.REMEDIATION
    assert stored.payload == b'{"a": "1"}'
    assert stored.changes == revision.changes
    assert stored.valid
    assert store.get(fixed.id).status is Status.REMEDIATED
    assert store.revisions(plain.id) == []


def test_quarantine_write_stores_item_status_and_revision(store: Any) -> None:
    valid_attempt = Revision(payload=b"{}", kind=RevisionKind.REMEDIATION)
    failed_attempt = Revision(
        payload=b"{}", kind=RevisionKind.REMEDIATION, errors=(make_violation(),)
    )
    items = [
        make_item(b'{"x": 1}', line=1),
        dataclasses.replace(make_item(b'{"x": 2}', line=2), remediation=valid_attempt),
        dataclasses.replace(make_item(b'{"x": 3}', line=3), remediation=failed_attempt),
    ]
    quarantine = Quarantine(store, InMemoryPayloadStore())
    report = quarantine.write(items)
    statuses = [store.get(i).status for i in report.ids]
    assert statuses == [Status.QUARANTINED, Status.REMEDIATED, Status.QUARANTINED]
    assert [len(store.revisions(i)) for i in report.ids] == [0, 1, 1]
    assert not store.revisions(report.ids[2])[0].valid


def test_edit_revisions_are_numbered_with_an_event(store: Any) -> None:
    record = make_record()
    store.insert_many([record])
    for i in (1, 2):
        stored = store.add_revision(
            record.id, Revision(payload=b"%d" % i, kind=RevisionKind.EDIT, author="bob")
        )
        assert stored.number == i
    assert [r.payload for r in store.revisions(record.id)] == [b"1", b"2"]
    events = store.events(record.id)
    assert [(e.action, e.actor, e.detail["revision"]) for e in events] == [
        (EventAction.EDIT, "bob", 1),
        (EventAction.EDIT, "bob", 2),
    ]
    with pytest.raises(RecordNotFoundError):
        store.add_revision(uuid.uuid4(), Revision(payload=b"x", kind=RevisionKind.EDIT))


def test_transition_is_compare_and_set_with_event(store: Any) -> None:
    record = make_record()
    store.insert_many([record])
    new_errors = (make_violation(ErrorCode.RULE_VIOLATION, "/b", "b is wrong"),)
    updated = store.transition(
        record.id,
        expected={Status.QUARANTINED},
        to=Status.QUARANTINED,
        event=_event(record.id),
        attempts=1,
        errors=new_errors,
    )
    assert updated is not None
    assert (updated.attempts, updated.errors) == (1, new_errors)
    # The code index follows the new errors.
    assert store.count(QuarantineFilter(code=ErrorCode.RULE_VIOLATION)) == 1
    assert store.count(QuarantineFilter(code=ErrorCode.SCHEMA_VIOLATION)) == 0
    resolved = Event(
        record.id, "alice", EventAction.RESOLVE, Status.QUARANTINED, Status.RESOLVED, "ok"
    )
    assert store.transition(
        record.id, expected={Status.QUARANTINED}, to=Status.RESOLVED, event=resolved
    )
    # Not expected any more: nothing changes, no event.
    assert (
        store.transition(
            record.id, expected={Status.QUARANTINED}, to=Status.DISCARDED, event=resolved
        )
        is None
    )
    assert store.get(record.id).status is Status.RESOLVED
    assert [e.action for e in store.events(record.id)] == [
        EventAction.REPROCESS,
        EventAction.RESOLVE,
    ]
    assert store.events(record.id)[1].reason == "ok"
    with pytest.raises(RecordNotFoundError):
        store.transition(
            uuid.uuid4(), expected={Status.QUARANTINED}, to=Status.DEAD, event=resolved
        )


def test_transition_many_is_a_compare_and_set_per_record(store: Any) -> None:
    a, b, c = (make_record(line=i) for i in range(3))
    store.insert_many([a, b, c])
    store.transition(
        b.id,
        expected={Status.QUARANTINED},
        to=Status.RESOLVED,
        event=Event(b.id, "bob", EventAction.RESOLVE, Status.QUARANTINED, Status.RESOLVED),
    )
    expected = frozenset({Status.QUARANTINED})

    def change(record_id: uuid.UUID, attempts: int | None = 2) -> StatusChange:
        event = Event(
            record_id,
            "alice",
            EventAction.REPROCESS,
            Status.QUARANTINED,
            Status.REPROCESSED,
            detail={"attempt": 2},
        )
        return StatusChange(expected, Status.REPROCESSED, event, attempts)

    assert store.transition_many([]) == []
    # b is resolved, an unknown id is not applied; c keeps its attempts (None)
    applied = store.transition_many(
        [change(a.id), change(b.id), change(uuid.uuid4()), change(c.id, None)]
    )
    assert applied == [True, False, False, True]
    assert (store.get(a.id).status, store.get(a.id).attempts) == (Status.REPROCESSED, 2)
    assert (store.get(c.id).status, store.get(c.id).attempts) == (Status.REPROCESSED, 0)
    assert store.get(b.id).status is Status.RESOLVED
    assert store.get(a.id).errors == a.errors  # errors are left as they are
    (event,) = store.events(a.id)
    assert (event.action, event.to_status, event.detail) == (
        EventAction.REPROCESS,
        Status.REPROCESSED,
        {"attempt": 2},
    )
    assert [e.action for e in store.events(b.id)] == [EventAction.RESOLVE]
    # a second batch finds it changed already
    assert store.transition_many([change(a.id)]) == [False]
    assert len(store.events(a.id)) == 1


def test_concurrent_transitions_have_one_winner(store: Any) -> None:
    record = make_record()
    store.insert_many([record])
    wins: list[bool] = []
    lock = threading.Lock()

    def close(to: Status) -> None:
        event = Event(record.id, "t", EventAction.RESOLVE, Status.QUARANTINED, to)
        result = store.transition(record.id, expected={Status.QUARANTINED}, to=to, event=event)
        with lock:
            wins.append(result is not None)

    threads = [threading.Thread(target=close, args=(Status.RESOLVED,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 1
    assert len(store.events(record.id)) == 1


def test_nul_and_surrogates_in_history_are_stored(store: Any) -> None:
    record = make_record()
    store.insert_many([record])
    revision = Revision(
        payload=b"\x00\xff",
        kind=RevisionKind.EDIT,
        author="a\x00b",
        changes=(FieldChange("/a", "edit", "x\x00", "\ud800"),),
    )
    store.add_revision(record.id, revision)
    event = Event(
        record.id, "x", EventAction.DISCARD, Status.QUARANTINED, Status.DISCARDED, "r\x00"
    )
    assert store.transition(
        record.id, expected={Status.QUARANTINED}, to=Status.DISCARDED, event=event
    )
    (stored,) = store.revisions(record.id)
    assert stored.payload == b"\x00\xff"


def test_stats_counts_and_series(store: Any) -> None:
    base = datetime(2026, 1, 1, 10, 30, tzinfo=UTC)
    records = [
        make_record(b"1", line=1, quarantined_at=base),
        make_record(b"2", line=2, quarantined_at=base + timedelta(minutes=10)),
        make_record(
            b"3",
            line=3,
            quarantined_at=base + timedelta(hours=1),
            errors=[make_violation(ErrorCode.PARSE_ERROR, "", "bad json")],
        ),
        make_record(b"4", line=4, quarantined_at=base + timedelta(days=1), status=Status.RESOLVED),
    ]
    store.insert_many(records)
    stats = store.stats(ALL)
    assert stats.total == 4
    assert [(c.key, c.count) for c in stats.by_code] == [
        ("schema_violation", 3),
        ("parse_error", 1),
    ]
    assert [(c.key, c.count) for c in stats.by_status] == [("quarantined", 3), ("resolved", 1)]
    assert [(c.key, c.count) for c in stats.by_contract] == [("orders", 4)]
    assert [(c.key, c.count) for c in stats.by_field] == [("/amount", 3), ("", 1)]
    assert [(p.at, p.code, p.count) for p in stats.series] == [
        (datetime(2026, 1, 1, 10, tzinfo=UTC), "schema_violation", 2),
        (datetime(2026, 1, 1, 11, tzinfo=UTC), "parse_error", 1),
        (datetime(2026, 1, 2, 10, tzinfo=UTC), "schema_violation", 1),
    ]
    daily = store.stats(QuarantineFilter(status=Status.QUARANTINED), bucket="day")
    assert daily.total == 3
    assert [(p.at, p.code, p.count) for p in daily.series] == [
        (datetime(2026, 1, 1, tzinfo=UTC), "parse_error", 1),
        (datetime(2026, 1, 1, tzinfo=UTC), "schema_violation", 2),
    ]


@pytest.mark.parametrize(
    "store", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
@pytest.mark.parametrize("by_code", [False, True])
def test_list_json_is_the_to_dict_of_list(store: Any, by_code: bool) -> None:
    """The API's page (built by the database where it can) equals the records' own JSON."""
    import orjson

    from dataquarantine.kernel.results import Severity
    from dataquarantine.quarantine.envelope import KafkaSource, TableSource

    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    records = [
        make_record(b"{}", line=1, quarantined_at=at),  # zero microseconds
        make_record(b"[]", line=2, quarantined_at=at + timedelta(microseconds=7), errors=()),
        make_record(
            b'"x"',
            source=KafkaSource("raw\u2028events", 3, 2**40),
            quarantined_at=at + timedelta(seconds=1),
            errors=(
                make_violation(ErrorCode.RULE_VIOLATION, "/a", 'say "hi"', rule="r1"),
                make_violation(severity=Severity.WARN),
            ),
            status=Status.DEAD,
            attempts=5,
        ),
        make_record(b"1", source=TableSource("staging", "k-1"), contract=None),
    ]
    store.insert_many(records)
    flt = QuarantineFilter(code=ErrorCode.RULE_VIOLATION) if by_code else ALL
    text, count = store.list_json(flt, limit=10)
    expected = [r.to_dict() for r in store.list(flt, limit=10)]
    assert count == len(expected) == (1 if by_code else 4)
    assert orjson.loads(text) == expected
