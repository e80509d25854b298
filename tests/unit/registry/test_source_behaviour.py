"""The :class:`ContractSource` port: one behaviour suite run on the in-memory fake, a folder,
PostgreSQL (marked ``postgres``, a schema per test) and S3 (marked ``s3``, moto_server): every
registry kind stores immutable versions, re-pushes idempotently and shows new versions to
every process."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dataquarantine.contracts.loader import spec_from_dict
from dataquarantine.contracts.source import ContractSource, StoredContract
from dataquarantine.errors import DuplicateContractError
from dataquarantine.registry import open_source
from dataquarantine.review.schemas import register_version
from dataquarantine.testing import InMemoryContractSource
from dataquarantine.validation.registry import ContractRegistry

KINDS = [
    "memory",
    "file",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("s3", marks=pytest.mark.s3),
]

SourceFactory = Callable[[], ContractSource]


def contract(version: str, required: tuple[str, ...] = ("id",), **extra: Any) -> dict[str, Any]:
    return {
        "name": "orders",
        "version": version,
        "schema": {
            "type": "object",
            "required": list(required),
            "properties": {"id": {"type": "string"}, "note": {"type": "string"}},
        },
        **extra,
    }


def entry(version: str, **extra: Any) -> StoredContract:
    return StoredContract.of(
        spec_from_dict(contract(version, **extra)),
        registered_by="alice",
        registered_at=datetime(2026, 12, 1, 12, 0, tzinfo=UTC),
        verdict="first",
    )


@pytest.fixture(params=KINDS)
def registry_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh registry of each kind (``memory``: no URL)."""
    kind = request.param
    if kind == "memory":
        return "memory"
    if kind == "file":
        (tmp_path / "contracts").mkdir()
        return f"file://{tmp_path / 'contracts'}"
    if kind == "postgres":
        return str(request.getfixturevalue("pg_schema_url"))
    target = request.getfixturevalue("s3_target")
    return f"s3://{target.bucket}/dq/contracts"


@pytest.fixture
def make_source(registry_url: str) -> Iterator[SourceFactory]:
    """Open sources on the registry; each call is another process's view of the same one."""
    opened: list[ContractSource] = []
    shared = InMemoryContractSource()

    def make() -> ContractSource:
        source: ContractSource = shared if registry_url == "memory" else open_source(registry_url)
        opened.append(source)
        return source

    yield make
    for source in opened:
        source.close()


def test_an_empty_registry_has_no_versions_and_a_stable_revision(
    make_source: SourceFactory,
) -> None:
    source = make_source()
    assert source.entries() == []
    assert source.revision() == source.revision()


def test_a_version_is_stored_with_its_registration(make_source: SourceFactory) -> None:
    source = make_source()
    before = source.revision()
    assert source.add(entry("1.0.0")) is True
    assert source.revision() != before
    (stored,) = make_source().entries()
    assert stored.ref == "orders@1.0.0"
    assert stored.fingerprint == entry("1.0.0").fingerprint
    assert stored.definition == entry("1.0.0").definition
    assert (stored.registered_by, stored.verdict) == ("alice", "first")
    assert stored.registered_at == datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_versions_are_immutable_and_a_repush_is_a_no_op(make_source: SourceFactory) -> None:
    source = make_source()
    source.add(entry("1.0.0"))
    revision = source.revision()
    assert make_source().add(entry("1.0.0")) is False  # the same body: nothing changes
    assert source.revision() == revision
    with pytest.raises(DuplicateContractError, match="immutable"):
        make_source().add(entry("1.0.0", description="another body"))
    (stored,) = source.entries()
    assert stored.fingerprint == entry("1.0.0").fingerprint


def test_registration_goes_through_the_compatibility_check_and_records_the_verdict(
    make_source: SourceFactory,
) -> None:
    registry = ContractRegistry.from_source(make_source())
    first = register_version(registry, contract("1.0.0"), actor="alice")
    assert (first.created, first.entry.verdict) == (True, "first")
    again = register_version(registry, contract("1.0.0"), actor="bob")
    assert (again.created, again.entry.registered_by) == (False, "alice")
    forced = register_version(
        registry, contract("2.0.0", ("id", "note")), compatibility="none", actor="carol"
    )
    assert forced.entry.verdict == "incompatible" and forced.entry.reasons
    other = ContractRegistry.from_source(make_source())
    assert other.versions("orders") == ["1.0.0", "2.0.0"]
    stored = other.stored("orders@2.0.0")
    assert stored is not None and (stored.registered_by, stored.verdict) == (
        "carol",
        "incompatible",
    )


def test_another_process_sees_a_new_version_after_a_refresh(make_source: SourceFactory) -> None:
    writer = make_source()
    writer.add(entry("1.0.0"))
    reader = ContractRegistry.from_source(make_source())
    assert reader.refresh() is False
    writer.add(entry("1.1.0"))
    assert reader.refresh() is True
    assert reader.get("orders").version == "1.1.0"
    assert reader.stored("orders@1.1.0") is not None


def test_a_source_that_pushes_changes_tells_its_watchers(make_source: SourceFactory) -> None:
    reader = make_source()
    changed = threading.Event()
    stop = reader.watch(changed.set)
    if stop is None:
        # A polled kind has no watcher to stop: its readers see the revision change.
        before = reader.revision()
        make_source().add(entry("1.0.0"))
        assert reader.revision() != before
        return
    try:
        changed.wait(0.5)  # a listener that connects late reports a change once
        changed.clear()
        make_source().add(entry("1.0.0"))
        assert changed.wait(2.0), "no notification within 2 s"
    finally:
        stop()
