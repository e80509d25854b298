"""The review service over the in-memory ports: edit, reprocess (loop guard, idempotence,
remediation), resolve/discard, bulk jobs, schema registration."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from dataquarantine.errors import (
    ContractSyntaxError,
    DuplicateContractError,
    IncompatibleContractError,
    JobNotFoundError,
    RecordNotFoundError,
    StatusConflictError,
)
from dataquarantine.kernel.lifecycle import Status
from dataquarantine.kernel.results import ContractRef
from dataquarantine.kernel.revisions import RevisionKind
from dataquarantine.quarantine.envelope import QuarantineFilter
from dataquarantine.quarantine.history import EventAction
from dataquarantine.quarantine.service import Quarantine
from dataquarantine.review import JobState, ReviewService
from dataquarantine.review.sinks import JsonlReprocessSink
from dataquarantine.testing import InMemoryPayloadStore, InMemoryQuarantineStore, make_item
from dataquarantine.validation.registry import ContractRegistry

ORDERS = {
    "name": "orders",
    "version": "1.0.0",
    "schema": {
        "type": "object",
        "required": ["order_id", "amount"],
        "properties": {"order_id": {"type": "string"}, "amount": {"type": "number", "minimum": 0}},
    },
    "remediation": [{"field": "amount", "action": "coerce_float"}],
}


@pytest.fixture
def contracts(tmp_path: Path) -> Path:
    folder = tmp_path / "contracts"
    folder.mkdir()
    (folder / "orders-1.0.0.yaml").write_text(yaml.safe_dump(ORDERS))
    return folder


@pytest.fixture
def service(tmp_path: Path, contracts: Path) -> Iterator[ReviewService]:
    quarantine = Quarantine(InMemoryQuarantineStore(), InMemoryPayloadStore())
    svc = ReviewService(
        quarantine,
        ContractRegistry.from_directory(contracts),
        JsonlReprocessSink(tmp_path / "valid.jsonl"),
        max_attempts=3,
    )
    yield svc
    svc.close()


def _put(service: ReviewService, *payloads: bytes) -> list[uuid.UUID]:
    items = [
        make_item(p, line=i, contract=ContractRef("orders", "1.0.0"))
        for i, p in enumerate(payloads)
    ]
    return list(service.quarantine.write(items).ids)


def _published(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "valid.jsonl"
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


def test_list_pages_with_true_total(service: ReviewService) -> None:
    _put(service, *(b'{"amount": %d}' % i for i in range(7)))
    page = service.list(QuarantineFilter(), page=2, page_size=3)
    assert (len(page.items), page.total, page.page, page.page_size) == (3, 7, 2, 3)
    assert service.list(QuarantineFilter(), page=4, page_size=3).total == 7


def test_get_returns_original_bytes_and_json(service: ReviewService) -> None:
    (rid,) = _put(service, b'{"order_id": "o", "amount": -1}')
    detail = service.get(rid)
    assert detail.payload == b'{"order_id": "o", "amount": -1}'
    assert detail.is_json and detail.payload_json == {"order_id": "o", "amount": -1}
    with pytest.raises(RecordNotFoundError):
        service.get(uuid.uuid4())


def test_edit_keeps_original_and_records_diff(service: ReviewService) -> None:
    (rid,) = _put(service, b'{"order_id": "o", "amount": -1}')
    revision = service.edit(rid, b'{"order_id": "o", "amount": 3}', actor="carol")
    assert revision.number == 1 and revision.author == "carol" and revision.valid
    assert [(c.path, c.old, c.new) for c in revision.changes] == [("/amount", -1, 3)]
    detail = service.get(rid)
    assert detail.payload == b'{"order_id": "o", "amount": -1}'  # the original, untouched
    assert detail.latest_payload == b'{"order_id": "o", "amount": 3}'
    assert [e.action for e in detail.events] == [EventAction.EDIT]


def test_reprocess_valid_publishes_once(service: ReviewService, tmp_path: Path) -> None:
    (rid,) = _put(service, b'{"order_id": "o", "amount": -1}')
    service.edit(rid, b'{"order_id": "o", "amount": 3}', actor="carol")
    outcome = service.reprocess(rid, actor="carol")
    assert (outcome.status, outcome.errors, outcome.attempts) == (Status.REPROCESSED, (), 1)
    again = service.reprocess(rid, actor="carol")
    assert again.status is Status.REPROCESSED and not again.changed
    published = _published(tmp_path)
    assert [p["id"] for p in published] == [str(rid)]
    assert published[0]["record"] == {"order_id": "o", "amount": 3}


def test_reprocess_invalid_counts_attempts_then_dead(
    service: ReviewService, caplog: pytest.LogCaptureFixture
) -> None:
    (rid,) = _put(service, b'{"order_id": "o", "amount": -1}')
    outcomes: list[tuple[str, str]] = []
    service.reprocess_observers.append(
        lambda contract, outcome: outcomes.append((contract, outcome))
    )
    with caplog.at_level(logging.WARNING, "dataquarantine.review"):
        statuses = [service.reprocess(rid, actor="x").status for _ in range(3)]
    assert statuses == [Status.QUARANTINED, Status.QUARANTINED, Status.DEAD]
    assert [o for _, o in outcomes] == ["still_invalid", "still_invalid", "dead"]
    (dead,) = caplog.records
    assert dead.quarantine_id == str(rid) and "dead" in dead.getMessage()
    record = service.record(rid)
    assert (record.status, record.attempts) == (Status.DEAD, 3)
    assert record.errors[0].path == "/amount"
    # A dead record is left out of bulk reprocess, but a fixed one can be reprocessed by id.
    job = service.jobs.wait(service.start_bulk_reprocess(actor="bulk").id)
    assert (job.state, job.total, job.processed) == (JobState.DONE, 0, 0)
    service.edit(rid, b'{"order_id": "o", "amount": 1}', actor="x")
    assert service.reprocess(rid, actor="x").status is Status.REPROCESSED


def test_reprocess_applies_remediation(service: ReviewService, tmp_path: Path) -> None:
    (rid,) = _put(service, b'{"order_id": "o", "amount": "x"}')  # not fixable
    assert service.reprocess(rid, actor="x").status is Status.QUARANTINED
    (rid2,) = _put(service, b'{"order_id": "o", "amount": "3.5"}')
    outcome = service.reprocess(rid2, actor="x")
    assert outcome.status is Status.REPROCESSED
    (revision,) = service.get(rid2).revisions
    assert revision.kind is RevisionKind.REMEDIATION and revision.valid
    assert _published(tmp_path)[-1]["record"] == {"order_id": "o", "amount": 3.5}


def test_reprocess_against_a_given_version(service: ReviewService, contracts: Path) -> None:
    (rid,) = _put(service, b'{"order_id": "o", "amount": -1}')
    loose = {**ORDERS, "version": "1.1.0"}
    loose["schema"] = {"type": "object"}
    service.register_schema(loose)
    assert service.reprocess(rid, actor="x", version="1.0.0").status is Status.QUARANTINED
    assert service.reprocess(rid, actor="x").status is Status.REPROCESSED  # latest: 1.1.0


def test_resolve_and_discard(service: ReviewService) -> None:
    a, b = _put(service, b"1", b"2")
    assert service.resolve(a, actor="x", reason="fixed upstream").status is Status.RESOLVED
    assert service.discard(b, actor="x", reason="test data").status is Status.DISCARDED
    with pytest.raises(StatusConflictError):
        service.resolve(a, actor="x", reason="again")
    with pytest.raises(StatusConflictError):
        service.reprocess(b, actor="x")
    with pytest.raises(StatusConflictError):
        service.edit(b, b"{}", actor="x")
    (event,) = service.get(a).events
    assert (event.reason, event.to_status) == ("fixed upstream", Status.RESOLVED)


def test_bulk_reprocess_reports_progress(service: ReviewService) -> None:
    ids = _put(service, *(b'{"order_id": "o", "amount": %d}' % i for i in (-1, 1, 2)))
    # Records quarantined for a reason the latest contract no longer has: 2 are now valid.
    job = service.jobs.wait(service.start_bulk_reprocess(actor="bulk").id)
    assert job.state is JobState.DONE
    assert (job.total, job.processed, job.reprocessed, job.still_invalid) == (3, 3, 2, 1)
    assert job.progress == 1.0
    assert service.record(ids[0]).attempts == 1
    with pytest.raises(JobNotFoundError):
        service.job("nope")


def test_bulk_resolve_and_discard(service: ReviewService) -> None:
    a, b, c = _put(service, b"1", b"2", b"3")
    service.discard(c, actor="x", reason="r")
    job = service.jobs.wait(
        service.start_bulk_resolve(QuarantineFilter(), actor="x", reason="ok").id
    )
    assert (job.closed, job.skipped) == (2, 1)
    assert {service.record(i).status for i in (a, b)} == {Status.RESOLVED}


def test_register_schema_checks_backward_compatibility(service: ReviewService) -> None:
    breaking = {**ORDERS, "version": "2.0.0"}
    breaking["schema"] = {**ORDERS["schema"], "required": ["order_id", "amount", "currency"]}  # type: ignore[dict-item]
    with pytest.raises(IncompatibleContractError) as info:
        service.register_schema(breaking)
    assert any("currency" in r for r in info.value.reasons)
    info_ = service.register_schema(breaking, compatibility="none")
    assert info_.latest == "2.0.0"
    assert [v.version for v in info_.versions] == ["1.0.0", "2.0.0"]
    again = service.register_schema(breaking, compatibility="none")  # idempotent
    assert [v.version for v in again.versions] == ["1.0.0", "2.0.0"]
    with pytest.raises(DuplicateContractError):
        service.register_schema({**breaking, "description": "another body"})
    with pytest.raises(DuplicateContractError):
        service.register_schema({**ORDERS, "version": "1.5.0"})
    with pytest.raises(ContractSyntaxError):
        service.register_schema({"name": "BAD NAME", "version": "1"})


def test_register_refuses_files_and_models(service: ReviewService) -> None:
    from dataquarantine.errors import ConfigError, ContractError

    with pytest.raises(ConfigError):
        service.register_schema({"name": "m", "version": "1.0.0", "model": "os:path"})
    with pytest.raises((ConfigError, ContractError)):  # both are a 400 for the API
        service.register_schema({"name": "x", "version": "1.0.0", "schema_file": "/etc/passwd"})


def test_revision_kinds_are_kept(service: ReviewService) -> None:
    (rid,) = _put(service, b'{"order_id": " o ", "amount": -1}')
    service.edit(rid, b'{"order_id": "o", "amount": 2}', actor="x")
    assert [r.kind for r in service.get(rid).revisions] == [RevisionKind.EDIT]


# -- contract names and storage file names -----------------------------------------------------


def _schema_only(name: str, version: str = "1.0.0") -> dict[str, Any]:
    return {"name": name, "version": version, "schema": {"type": "object"}}


def test_registration_file_names_never_collide(service: ReviewService, contracts: Path) -> None:
    # Under NAME-VERSION.yaml both were shop-1.0.0-1.0.0.yaml: the second replaced the first.
    service.register_schema(_schema_only("shop-1.0.0", "1.0.0"))
    service.register_schema(_schema_only("shop", "1.0.0-1.0.0"))
    assert sorted(p.name for p in contracts.glob("*.yaml")) == [
        "orders-1.0.0.yaml",  # written by hand under the old scheme: still loaded
        "shop-1.0.0@1.0.0.yaml",
        "shop@1.0.0-1.0.0.yaml",
    ]
    assert {(c.name, c.version) for c in service.registry} == {
        ("orders", "1.0.0"),
        ("shop", "1.0.0-1.0.0"),
        ("shop-1.0.0", "1.0.0"),
    }


def test_registration_never_replaces_an_existing_file(
    service: ReviewService, contracts: Path
) -> None:
    # A file of that name that defines another contract: refused, the file left alone.
    taken = contracts / "taken@1.0.0.yaml"
    taken.write_text(yaml.safe_dump(_schema_only("other")))
    before = taken.read_bytes()
    with pytest.raises(DuplicateContractError, match="exists already"):
        service.register_schema(_schema_only("taken"))
    assert taken.read_bytes() == before
    assert not [p for p in contracts.iterdir() if p.name.startswith(".")]


BAD_NAMES = [
    "..",
    ".",
    ".hidden",
    "a..b",
    "a.",
    "-a",
    "a/b",
    "../orders",
    "a\\b",
    "a\x00b",
    "",
    "Orders",
    "a@b",
    "a b",
    "x" * 101,
    "\u043erders",  # Cyrillic o
    "\uff4frders",  # full-width o
    "orders\u200b",  # zero-width space
    "orders\n",
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names_are_refused_and_leave_no_file(
    service: ReviewService, contracts: Path, name: str
) -> None:
    before = sorted(p.name for p in contracts.iterdir())
    with pytest.raises(ContractSyntaxError, match="name"):
        service.register_schema(_schema_only(name))
    assert sorted(p.name for p in contracts.iterdir()) == before


@pytest.mark.parametrize(
    "version", ["1.0.0/../../x", "../1.0.0", "1.0.0\\x", "1.0", "1.0.0\x00", "1.0.0@x", "1" * 101]
)
def test_bad_versions_are_refused_and_leave_no_file(
    service: ReviewService, contracts: Path, version: str
) -> None:
    before = sorted(p.name for p in contracts.iterdir())
    with pytest.raises(ContractSyntaxError, match="version"):
        service.register_schema(_schema_only("fine", version))
    assert sorted(p.name for p in contracts.iterdir()) == before


@pytest.mark.parametrize(
    "name", ["orders", "user_event", "telecom.call_logs", "a1", "2fa", "_x", "my-contract", "a.b-c"]
)
def test_good_names_are_accepted(service: ReviewService, contracts: Path, name: str) -> None:
    service.register_schema(_schema_only(name, "9.0.0"), compatibility="none")
    assert (contracts / f"{name}@9.0.0.yaml").is_file()


# -- costly schemas ----------------------------------------------------------------------------


def _doubling(levels: int = 30) -> dict[str, Any]:
    defs: dict[str, Any] = {"d0": {"type": "string"}}
    for i in range(1, levels + 1):
        prev = {"$ref": f"#/$defs/d{i - 1}"}
        defs[f"d{i}"] = {"allOf": [prev, dict(prev)]}
    return {"$defs": defs, "$ref": f"#/$defs/d{levels}"}


def test_registration_refuses_a_schema_whose_cost_explodes(
    service: ReviewService, contracts: Path
) -> None:
    from dataquarantine.errors import SchemaCompileError

    before = sorted(p.name for p in contracts.iterdir())
    bomb = {"name": "orders", "version": "2.0.0", "schema": _doubling()}
    with pytest.raises(SchemaCompileError, match="too costly to evaluate"):
        service.register_schema(bomb, compatibility="none")
    assert sorted(p.name for p in contracts.iterdir()) == before
    assert service.registry.get("orders").version == "1.0.0"


def test_reprocess_against_a_costly_contract_is_bounded(tmp_path: Path) -> None:
    import time

    from dataquarantine.contracts.loader import spec_from_dict
    from dataquarantine.kernel.results import MAX_VIOLATIONS, TRUNCATED
    from dataquarantine.validation.contract import Contract

    # Loaded bypassing the cost check (a trusted caller may): reprocessing stays bounded.
    spec = spec_from_dict({"name": "orders", "version": "1.0.0", "schema": _doubling()})
    registry = ContractRegistry([Contract(spec, max_fanout=None)])
    quarantine = Quarantine(InMemoryQuarantineStore(), InMemoryPayloadStore())
    svc = ReviewService(quarantine, registry, JsonlReprocessSink(tmp_path / "v.jsonl"))
    try:
        (rid,) = _put(svc, b"1")
        started = time.perf_counter()
        outcome = svc.reprocess(rid, actor="a")
        assert time.perf_counter() - started < 5.0
        assert outcome.status is Status.QUARANTINED
        assert 1 < len(outcome.errors) <= MAX_VIOLATIONS + 1
        assert outcome.errors[-1].keyword == TRUNCATED
        stored = svc.record(rid).errors
        assert stored[-1].keyword == TRUNCATED
    finally:
        svc.close()
