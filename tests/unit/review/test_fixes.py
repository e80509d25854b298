"""Bulk fixes over the in-memory ports: preview, run (conflicts, reprocess, limits), undo
(replayed records reported), resume after a restart, and make-a-rule."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from tests.fixtures.fixes import LOWER, USERS

from dataquarantine.errors import ConfigError, FixDefinitionError, IncompatibleContractError
from dataquarantine.kernel.lifecycle import EDITABLE, Status
from dataquarantine.kernel.results import ContractRef
from dataquarantine.kernel.revisions import Revision, RevisionKind
from dataquarantine.quarantine.envelope import QuarantineFilter
from dataquarantine.quarantine.fix_log import FixJobKind, FixJobRecord, FixJobState, ItemOutcome
from dataquarantine.quarantine.history import EventAction
from dataquarantine.quarantine.service import Quarantine
from dataquarantine.review import ReviewService
from dataquarantine.review.fix_models import FixRequest, filter_from_dict, filter_to_dict
from dataquarantine.review.sinks import JsonlReprocessSink
from dataquarantine.testing import InMemoryPayloadStore, InMemoryQuarantineStore, make_item
from dataquarantine.validation.registry import ContractRegistry


@pytest.fixture
def contracts(tmp_path: Path) -> Path:
    folder = tmp_path / "contracts"
    folder.mkdir()
    (folder / "users-1.0.0.yaml").write_text(yaml.safe_dump(USERS))
    return folder


@pytest.fixture
def store() -> InMemoryQuarantineStore:
    return InMemoryQuarantineStore()


def _service(
    store: InMemoryQuarantineStore, contracts: Path, tmp_path: Path, **kw: Any
) -> ReviewService:
    return ReviewService(
        Quarantine(store, _payloads(store)),
        ContractRegistry.from_directory(contracts),
        JsonlReprocessSink(tmp_path / "valid.jsonl"),
        **kw,
    )


_PAYLOADS: dict[int, InMemoryPayloadStore] = {}


def _payloads(store: InMemoryQuarantineStore) -> InMemoryPayloadStore:
    return _PAYLOADS.setdefault(id(store), InMemoryPayloadStore())


@pytest.fixture
def service(
    store: InMemoryQuarantineStore, contracts: Path, tmp_path: Path
) -> Iterator[ReviewService]:
    svc = _service(store, contracts, tmp_path)
    yield svc
    svc.close()


def _put(service: ReviewService, *docs: dict[str, Any]) -> list[uuid.UUID]:
    items = [
        make_item(orjson.dumps(d), line=i, contract=ContractRef("users", "1.0.0"))
        for i, d in enumerate(docs)
    ]
    return list(service.quarantine.write(items).ids)


def _latest(service: ReviewService, rid: uuid.UUID) -> Any:
    return orjson.loads(service.get(rid).latest_payload)


def test_preview_shows_diffs_outcomes_and_counts_without_writing(service: ReviewService) -> None:
    ids = _put(
        service,
        *({"id": str(i), "status": "ACTIVE"} for i in range(30)),
        {"id": "x", "status": "WHATEVER"},
        {"id": "y", "status": 3},
    )
    preview = service.fixes.preview(FixRequest.of(LOWER))
    assert (preview.total, preview.applies, preview.step_errors) == (32, 31, 1)
    assert len(preview.items) == 20
    assert len({i.record_id for i in preview.items}) == 20
    valid = [i for i in preview.items if i.valid]
    assert valid and valid[0].changes[0].new == "active"
    invalid = [i for i in preview.items if not i.valid and i.step_error is None]
    assert all(i.errors for i in invalid)
    assert preview.first_errors[0][1].index == 0
    assert all(not service.get(r).revisions for r in ids)


def test_a_job_fixes_counts_and_keeps_the_original(service: ReviewService) -> None:
    ids = _put(
        service,
        {"id": "1", "status": "ACTIVE"},
        {"id": "2", "status": "WEIRD"},
        {"id": "3", "status": 3},
        {"id": "4", "status": "active", "phone": 1},
    )
    service.resolve(ids[3], actor="bob", reason="elsewhere")
    job = service.fixes.start(FixRequest.of(LOWER, QuarantineFilter(status=None)), actor="alice")
    done = service.fixes.wait(job.id)
    assert done.state is FixJobState.DONE
    assert dict(done.counts) == {"fixed_valid": 1, "fixed_invalid": 1, "step_error": 1}
    assert done.processed == 3
    detail = service.get(ids[0])
    assert detail.payload == orjson.dumps({"id": "1", "status": "ACTIVE"})
    (revision,) = detail.revisions
    assert revision.kind is RevisionKind.FIX and revision.author == "alice" and revision.valid
    assert detail.events[-1].action is EventAction.FIX
    assert detail.events[-1].detail["job"] == job.id
    assert not service.get(ids[1]).revisions[0].valid


def test_a_record_revised_since_the_job_started_is_a_conflict(service: ReviewService) -> None:
    (rid,) = _put(service, {"id": "1", "status": "ACTIVE"})
    job = service.fixes.start(FixRequest.of(LOWER), actor="alice")
    service.fixes.wait(job.id)
    later = service.fixes.start(
        FixRequest.of([{"op": "add", "path": "/phone", "value": "+1"}]), actor="alice"
    )
    service.edit(rid, b'{"id": "1", "status": "blocked"}', actor="carol")  # before it runs?
    done = service.fixes.wait(later.id)
    # the edit is either before the job read the record (conflict) or the job wrote first
    # (then the edit is the latest): the reviewer's edit is never overwritten
    assert _latest(service, rid)["status"] == "blocked"
    assert sum(done.counts.values()) == 1


def test_reprocess_after_fix_then_undo_reports_replayed(
    service: ReviewService, tmp_path: Path
) -> None:
    a, b = _put(service, {"id": "1", "status": "ACTIVE"}, {"id": "2", "status": "WEIRD"})
    job = service.fixes.start(FixRequest.of(LOWER, reprocess=True), actor="alice")
    done = service.fixes.wait(job.id)
    assert done.counts["reprocessed"] == 1 and done.counts["still_invalid"] == 1
    assert service.record(a).status is Status.REPROCESSED
    assert len((tmp_path / "valid.jsonl").read_bytes().splitlines()) == 1
    undo = service.fixes.wait(service.fixes.undo(job.id, actor="bob").id)
    assert dict(undo.counts) == {"replayed": 1, "reverted": 1}
    assert _latest(service, b) == {"id": "2", "status": "WEIRD"}
    assert service.get(b).revisions[-1].kind is RevisionKind.UNDO
    assert _latest(service, a)["status"] == "active"


def test_undo_leaves_a_record_revised_after_the_fix(service: ReviewService) -> None:
    a, b = _put(service, {"id": "1", "status": "ACTIVE"}, {"id": "2", "status": "ACTIVE"})
    job = service.fixes.wait(service.fixes.start(FixRequest.of(LOWER), actor="alice").id)
    service.edit(a, b'{"id": "1", "status": "blocked"}', actor="carol")
    undo = service.fixes.wait(service.fixes.undo(job.id, actor="alice").id)
    assert dict(undo.counts) == {"conflict": 1, "reverted": 1}
    assert _latest(service, a)["status"] == "blocked"
    assert _latest(service, b)["status"] == "ACTIVE"
    assert [r.number for r in service.get(b).revisions] == [1, 2]


def test_a_large_set_needs_confirmation(
    store: InMemoryQuarantineStore, contracts: Path, tmp_path: Path
) -> None:
    svc = _service(store, contracts, tmp_path, fix_confirm_above=2)
    try:
        _put(svc, *({"id": str(i), "status": "ACTIVE"} for i in range(3)))
        with pytest.raises(ConfigError, match="confirm"):
            svc.fixes.start(FixRequest.of(LOWER), actor="alice")
        assert svc.fixes.preview(FixRequest.of(LOWER)).needs_confirmation
        job = svc.fixes.start(FixRequest.of(LOWER, confirm=True), actor="alice")
        assert svc.fixes.wait(job.id).counts["fixed_valid"] == 3
    finally:
        svc.close()


def test_a_job_left_running_is_interrupted_then_resumed(
    store: InMemoryQuarantineStore, contracts: Path, tmp_path: Path
) -> None:
    first = _service(store, contracts, tmp_path)
    ids = _put(first, *({"id": str(i), "status": "ACTIVE"} for i in range(5)))
    # a server stopped half-way through a job: two records done, the job still running
    request = FixRequest.of(LOWER)
    job = FixJobRecord(
        id="j1",
        kind=FixJobKind.FIX,
        state=FixJobState.RUNNING,
        actor="alice",
        spec=request.to_spec(),
        total=5,
    )
    store.create_job(job)
    for rid in ids[:2]:
        fixed = Revision(b'{"status": "active"}', RevisionKind.FIX, author="alice")
        store.write_fix(
            rid, fixed, job_id="j1", base=0, outcome=ItemOutcome.FIXED_VALID, expected=EDITABLE
        )
    second = _service(store, contracts, tmp_path)
    try:
        assert second.fixes.mark_interrupted() == ["j1"]
        assert second.fixes.job("j1").state is FixJobState.INTERRUPTED
        second.fixes.resume("j1")
        done = second.fixes.wait("j1")
        assert done.state is FixJobState.DONE
        assert dict(done.counts) == {"fixed_valid": 5}
        assert all(len(second.get(r).revisions) == 1 for r in ids)
    finally:
        second.close()
        first.close()


def test_a_bad_step_is_refused_before_anything_runs(service: ReviewService) -> None:
    with pytest.raises(FixDefinitionError, match="step 2"):
        FixRequest.of([*LOWER, {"op": "nope", "path": "/a"}])


def test_the_filter_round_trips_as_json() -> None:
    flt = QuarantineFilter(contract="users", status=Status.DEAD, text="x", path="/status")
    assert filter_from_dict(filter_to_dict(flt)) == flt
    with pytest.raises(ConfigError):
        filter_from_dict({"colour": "red"})


def test_make_a_rule_registers_a_new_version(service: ReviewService) -> None:
    request = FixRequest.of([{"action": "lowercase", "path": "/status"}])
    document = service.fixes.rule_document(request, "users")
    assert document["version"] == "1.1.0"
    assert document["remediation"] == [{"field": "/status", "action": "lowercase"}]
    info = service.fixes.make_rule(request, "users", actor="alice")
    assert info.latest == "1.1.0"
    with pytest.raises(FixDefinitionError, match="cannot become"):
        service.fixes.rule_document(FixRequest.of(LOWER), "users")


def test_make_a_rule_goes_through_the_compatibility_check(service: ReviewService) -> None:
    request = FixRequest.of([{"action": "lowercase", "path": "/status"}])
    service.fixes.make_rule(request, "users", actor="alice")
    with pytest.raises(IncompatibleContractError):
        # same rules, but a version that drops the status enum value: checked as usual
        doc = service.fixes.rule_document(request, "users")
        doc["schema"]["properties"]["status"] = {"enum": ["active"]}
        service.register_schema(doc, actor="alice")
