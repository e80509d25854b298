"""The set-based fix job against a per-record reference: the same fix, done one record at a
time as before (a compare-and-set revision each, then one reprocess call each), leaves the
same store contents, counts and sink on every backend."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from tests.fixtures.fixes import LOWER, USERS
from tests.fixtures.postgres import drop_schema, with_schema

from dataquarantine.errors import StatusConflictError
from dataquarantine.kernel.lifecycle import EDITABLE, Status
from dataquarantine.kernel.results import ContractRef
from dataquarantine.kernel.revisions import Revision, RevisionKind
from dataquarantine.quarantine.fix_log import FixJobKind, FixJobRecord, FixJobState, ItemOutcome
from dataquarantine.quarantine.history import Event, EventAction
from dataquarantine.quarantine.ports import fix_log
from dataquarantine.quarantine.service import Quarantine
from dataquarantine.quarantine.sql import open_store
from dataquarantine.remediation.engine import encode
from dataquarantine.review import ReviewService
from dataquarantine.review.fix_models import FixRequest
from dataquarantine.review.models import parse_json
from dataquarantine.review.sinks import JsonlReprocessSink
from dataquarantine.testing import InMemoryPayloadStore, InMemoryQuarantineStore, make_item
from dataquarantine.validation.registry import ContractRegistry

DOCS: list[Any] = [
    {"id": "v", "status": "ACTIVE"},  # fixed, valid
    {"id": "i", "status": "WEIRD"},  # fixed, still invalid
    {"id": "e", "status": 3},  # step error
    {"id": "u", "status": "active", "phone": "1"},  # unchanged
    {"id": "b", "status": "BLOCKED"},  # fixed, valid (edited first, see below)
    {"id": "r", "status": "ACTIVE"},  # resolved first: not in the set
    {"id": "d", "status": "Active", "phone": "2"},  # fixed, still invalid
]


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param != "postgres":
        yield request.param
        return
    base = request.getfixturevalue("pg_url")
    schemas = [f"dq_test_{uuid.uuid4().hex[:16]}" for _ in range(2)]
    yield "|".join(with_schema(base, s) for s in schemas)
    for schema in schemas:
        drop_schema(base, schema)


def _service(url: str, tmp_path: Path, name: str) -> ReviewService:
    folder = tmp_path / "contracts"
    folder.mkdir(exist_ok=True)
    (folder / "users-1.0.0.yaml").write_text(yaml.safe_dump(USERS))
    if url == "memory":
        store: Any = InMemoryQuarantineStore()
    else:
        store = open_store(f"sqlite:///{tmp_path / name}.db" if url == "sqlite" else url)
        store.migrate()
    return ReviewService(
        Quarantine(store, InMemoryPayloadStore()),
        ContractRegistry.from_directory(folder),
        JsonlReprocessSink(tmp_path / f"{name}.jsonl"),
    )


def _fill(service: ReviewService, copies: int) -> list[uuid.UUID]:
    docs = [d for _ in range(copies) for d in DOCS]
    items = [
        make_item(orjson.dumps(d), line=i, contract=ContractRef("users", "1.0.0"))
        for i, d in enumerate(docs)
    ]
    ids = list(service.quarantine.write(items).ids)
    for i, record_id in enumerate(ids):
        if docs[i]["id"] == "b":
            service.edit(record_id, orjson.dumps({**docs[i], "phone": "+1"}), actor="bob")
        if docs[i]["id"] == "r":
            service.resolve(record_id, actor="bob", reason="done")
    return ids


def _reference(service: ReviewService, request: FixRequest, actor: str) -> Counter[str]:
    """The job as it was: per record a compare-and-set revision, then one reprocess call."""
    fixes = fix_log(service.store)
    job = FixJobRecord(
        id="ref", kind=FixJobKind.FIX, state=FixJobState.DONE, actor=actor, spec={}, total=0
    )
    fixes.create_job(job)
    counts: Counter[str] = Counter()
    for record in list(service.quarantine.iter(request.filter)):
        revisions = service.log.revisions(record.id)
        base = revisions[-1].number if revisions else 0
        payload = revisions[-1].payload if revisions else service.quarantine.payload(record)
        ok, value = parse_json(payload)
        result = request.fix.apply(value)
        if record.status not in EDITABLE or (ok and result.error is None and not result.changed):
            counts[ItemOutcome.SKIPPED.value] += 1
            continue
        if not ok or result.error is not None:
            counts[ItemOutcome.STEP_ERROR.value] += 1
            continue
        fixed = encode(result.value)
        errors = service.registry.get("users").validate(fixed).errors
        outcome = ItemOutcome.FIXED_INVALID if errors else ItemOutcome.FIXED_VALID
        revision = Revision(fixed, RevisionKind.FIX, actor, result.changes, errors)
        stored = fixes.write_fix(
            record.id, revision, job_id=job.id, base=base, outcome=outcome, expected=EDITABLE
        )
        assert stored is not None
        counts[outcome.value] += 1
        try:
            status = service.reprocess(record.id, actor=actor).status
        except StatusConflictError:
            counts["reprocess_skipped"] += 1
            continue
        counts[
            {Status.REPROCESSED: "reprocessed", Status.DEAD: "dead"}.get(status, "still_invalid")
        ] += 1
    return counts


def _event(event: Event) -> tuple[Any, ...]:
    detail = {k: v for k, v in event.detail.items() if k != "job"}
    return (event.actor, event.action, event.from_status, event.to_status, event.reason, detail)


def _contents(service: ReviewService, ids: list[uuid.UUID], sink: Path) -> list[Any]:
    published = {
        line["id"]: line["record"] for line in map(orjson.loads, sink.read_bytes().splitlines())
    }
    out = []
    for record_id in ids:
        detail = service.get(record_id)
        record = detail.record
        out.append(
            (
                (record.status, record.attempts, record.errors),
                [
                    (r.number, r.kind, r.author, r.payload, r.changes, r.errors)
                    for r in detail.revisions
                ],
                [_event(e) for e in detail.events],
                published.get(str(record_id)),
            )
        )
    return out


def test_the_batch_job_leaves_what_the_per_record_path_left(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("dataquarantine.review.fixes.PAGE", 5)  # pages end mid-pattern
    urls = store_url.split("|") * 2
    batch, reference = _service(urls[0], tmp_path, "batch"), _service(urls[1], tmp_path, "ref")
    try:
        batch_ids, ref_ids = _fill(batch, 3), _fill(reference, 3)
        request = FixRequest.of(LOWER, reprocess=True)
        job = batch.fixes.wait(batch.fixes.start(request, actor="alice").id)
        assert job.state is FixJobState.DONE, job.error
        expected = _reference(reference, request, "alice")
        assert {k: n for k, n in job.counts.items() if n} == dict(expected)
        assert expected["reprocessed"] == 6 and expected["still_invalid"] == 6
        assert _contents(batch, batch_ids, tmp_path / "batch.jsonl") == _contents(
            reference, ref_ids, tmp_path / "ref.jsonl"
        )
        assert EventAction.REPROCESS in {e.action for e in batch.get(batch_ids[0]).events}
    finally:
        batch.close()
        reference.close()
