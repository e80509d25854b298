"""Bulk-fix side of the metadata store (migration 6): jobs, items and the compare-and-set
revision write. One suite for the in-memory fake, SQLite and PostgreSQL (marked ``postgres``)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.fixtures.postgres import drop_schema, with_schema

from dataquarantine.errors import RecordNotFoundError
from dataquarantine.kernel.lifecycle import EDITABLE, Status
from dataquarantine.kernel.revisions import FieldChange, Revision, RevisionKind
from dataquarantine.quarantine.fix_log import (
    FixItem,
    FixJobKind,
    FixJobRecord,
    FixJobState,
    FixWrite,
    ItemOutcome,
)
from dataquarantine.quarantine.history import EventAction
from dataquarantine.quarantine.ports import fix_log
from dataquarantine.quarantine.sql import open_store
from dataquarantine.testing import InMemoryQuarantineStore, make_record


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


def _job(job_id: str = "j1", **changes: Any) -> FixJobRecord:
    fields: dict[str, Any] = {
        "id": job_id,
        "kind": FixJobKind.FIX,
        "state": FixJobState.QUEUED,
        "actor": "alice",
        "spec": {"steps": [{"op": "replace", "path": "/a", "value": 1}], "reprocess": False},
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
    }
    fields.update(changes)
    return FixJobRecord(**fields)


def _fix(payload: bytes = b'{"a": 1}') -> Revision:
    return Revision(
        payload=payload,
        kind=RevisionKind.FIX,
        author="alice",
        changes=(FieldChange("/a", "patch:replace", 0, 1),),
    )


def test_a_job_is_stored_updated_and_listed(store: Any) -> None:
    log = fix_log(store)
    log.create_job(_job())
    log.create_job(_job("j2", created_at=datetime(2026, 1, 2, tzinfo=UTC)))
    end = datetime(2026, 1, 3, tzinfo=UTC)
    log.update_job(
        "j1", state=FixJobState.DONE, total=3, processed=3, counts={"skipped": 3}, finished_at=end
    )
    job = log.get_job("j1")
    assert job is not None
    assert (job.state, job.total, job.processed, dict(job.counts)) == (
        FixJobState.DONE,
        3,
        3,
        {"skipped": 3},
    )
    assert job.finished_at == end
    assert job.spec["steps"][0]["op"] == "replace"
    assert log.get_job("nope") is None
    assert [j.id for j in log.jobs()] == ["j2", "j1"]
    assert [j.id for j in log.jobs(states=[FixJobState.QUEUED])] == ["j2"]
    log.create_job(_job("j3", kind=FixJobKind.DISCARD, created_at=datetime(2026, 1, 4, tzinfo=UTC)))
    fixes = (FixJobKind.FIX, FixJobKind.UNDO)
    assert [j.id for j in log.jobs(kinds=fixes)] == ["j2", "j1"]
    assert [j.id for j in log.jobs(kinds=[FixJobKind.DISCARD])] == ["j3"]
    assert [j.id for j in log.jobs(states=[FixJobState.QUEUED], kinds=fixes)] == ["j2"]
    assert log.jobs(kinds=[]) == []


def test_write_fix_is_a_compare_and_set_on_the_latest_revision(store: Any) -> None:
    log = fix_log(store)
    record = make_record(b'{"a": 0}')
    store.insert_many([record])
    log.create_job(_job())
    stored = log.write_fix(
        record.id, _fix(), job_id="j1", base=0, outcome=ItemOutcome.FIXED_VALID, expected=EDITABLE
    )
    assert stored is not None and stored.number == 1 and stored.kind is RevisionKind.FIX
    # based on a stale revision: nothing written
    assert (
        log.write_fix(
            record.id,
            _fix(),
            job_id="j1",
            base=0,
            outcome=ItemOutcome.FIXED_VALID,
            expected=EDITABLE,
        )
        is None
    )
    # a status that is not expected: nothing written
    assert (
        log.write_fix(
            record.id,
            _fix(),
            job_id="j1",
            base=1,
            outcome=ItemOutcome.FIXED_VALID,
            expected=[Status.DEAD],
        )
        is None
    )
    assert [r.number for r in store.revisions(record.id)] == [1]
    (event,) = store.events(record.id)
    assert event.action is EventAction.FIX and event.detail["job"] == "j1"
    assert log.items("j1") == [FixItem(record.id, ItemOutcome.FIXED_VALID, 1, 0)]
    with pytest.raises(RecordNotFoundError):
        log.write_fix(
            uuid.uuid4(),
            _fix(),
            job_id="j1",
            base=0,
            outcome=ItemOutcome.FIXED_VALID,
            expected=EDITABLE,
        )


def test_items_page_by_record_id_and_count_by_outcome(store: Any) -> None:
    log = fix_log(store)
    records = [make_record(b"{}", line=i) for i in range(5)]
    store.insert_many(records)
    log.create_job(_job())
    items = [FixItem(r.id, ItemOutcome.SKIPPED) for r in records[:4]]
    log.add_items("j1", items)
    log.add_items("j1", [FixItem(records[0].id, ItemOutcome.CONFLICT)])  # kept as it was
    ids = sorted((r.id for r in records[:4]), key=str)
    first = log.items("j1", limit=2)
    assert [i.record_id for i in first] == ids[:2]
    assert [i.record_id for i in log.items("j1", after=first[-1].record_id)] == ids[2:]
    assert log.item_counts("j1") == {"skipped": 4}
    assert log.done("j1", [records[0].id, records[4].id]) == {records[0].id}
    assert log.done("j1", []) == set()


def test_two_jobs_on_one_record_are_serialised(store: Any) -> None:
    log = fix_log(store)
    record = make_record(b'{"a": 0}')
    store.insert_many([record])
    for j in ("j1", "j2"):
        log.create_job(_job(j))
    wins: list[str] = []
    barrier = threading.Barrier(2)

    def run(job_id: str) -> None:
        barrier.wait()
        if log.write_fix(
            record.id,
            _fix(),
            job_id=job_id,
            base=0,
            outcome=ItemOutcome.FIXED_VALID,
            expected=EDITABLE,
        ):
            wins.append(job_id)

    threads = [threading.Thread(target=run, args=(j,)) for j in ("j1", "j2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(wins) == 1
    assert [r.number for r in store.revisions(record.id)] == [1]
    assert datetime.now(UTC) - store.revisions(record.id)[0].created_at < timedelta(minutes=5)


def test_write_fixes_writes_a_page_in_one_go_with_a_check_per_record(store: Any) -> None:
    log = fix_log(store)
    records = [make_record(b'{"a": 0}', line=i) for i in range(3)]
    store.insert_many(records)
    log.create_job(_job())
    store.add_revision(records[1].id, _fix())  # revised meanwhile: base 0 is stale
    writes = [
        FixWrite(records[0].id, _fix(), 0, ItemOutcome.FIXED_VALID),
        FixWrite(records[1].id, _fix(), 0, ItemOutcome.FIXED_VALID),
        FixWrite(records[2].id, _fix(), 0, ItemOutcome.FIXED_INVALID),
        FixWrite(uuid.uuid4(), _fix(), 0, ItemOutcome.FIXED_VALID),
    ]
    stored = log.write_fixes("j1", writes, expected=EDITABLE)
    assert [s.number if s else None for s in stored] == [1, None, 1, None]
    assert log.item_counts("j1") == {"fixed_valid": 1, "fixed_invalid": 1}
    assert [e.action for e in store.events(records[2].id)] == [EventAction.FIX]
    assert log.write_fixes("j1", [], expected=EDITABLE) == []


def test_latest_revisions_reads_a_page_at_once(store: Any) -> None:
    log = fix_log(store)
    records = [make_record(b"{}", line=i) for i in range(3)]
    store.insert_many(records)
    store.add_revision(records[0].id, _fix(b'{"a": 1}'))
    store.add_revision(records[0].id, _fix(b'{"a": 2}'))
    store.add_revision(records[2].id, _fix(b'{"a": 3}'))
    latest = log.latest_revisions([r.id for r in records])
    assert {k: (v.number, v.payload) for k, v in latest.items()} == {
        records[0].id: (2, b'{"a": 2}'),
        records[2].id: (1, b'{"a": 3}'),
    }
    assert log.latest_revisions([]) == {}
