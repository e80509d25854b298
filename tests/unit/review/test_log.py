"""The review log as the review service uses it: found through the store's capabilities,
every call retried on transient errors."""

from __future__ import annotations

import pytest

from dataquarantine.errors import ConfigError, StoreUnavailableError
from dataquarantine.infra.retry import RetryPolicy
from dataquarantine.kernel.lifecycle import Status
from dataquarantine.kernel.revisions import Revision, RevisionKind
from dataquarantine.quarantine.envelope import QuarantineFilter
from dataquarantine.quarantine.history import Event, EventAction
from dataquarantine.quarantine.ports import Capability, json_pages, review_log
from dataquarantine.review.log import RetryingReviewLog
from dataquarantine.testing import InMemoryQuarantineStore, make_record

NO_WAIT = RetryPolicy(max_attempts=3, deadline=None, initial_backoff=0.0, jitter=0.0)


def test_capabilities_are_declared_not_probed() -> None:
    store = InMemoryQuarantineStore()
    assert review_log(store) is store
    assert json_pages(store) is None  # the fake builds no JSON pages

    class NoReview(InMemoryQuarantineStore):
        capabilities = frozenset[Capability]()

    with pytest.raises(ConfigError):
        review_log(NoReview())


def test_every_call_retries_transient_failures() -> None:
    store = InMemoryQuarantineStore()
    record = make_record()
    store.insert_many([record])
    log = RetryingReviewLog(store, NO_WAIT)
    for operation in ("add_revision", "revisions", "events", "transition", "stats"):
        store.fail_next(2, operation=operation)
    stored = log.add_revision(record.id, Revision(payload=b"{}", kind=RevisionKind.EDIT))
    assert [r.number for r in log.revisions(record.id)] == [stored.number]
    event = Event(record.id, "alice", EventAction.DISCARD, Status.QUARANTINED, Status.DISCARDED)
    expected = iter([Status.QUARANTINED])  # a one-shot iterable must survive the retries
    updated = log.transition(record.id, expected=expected, to=Status.DISCARDED, event=event)
    assert updated is not None
    assert updated.status is Status.DISCARDED
    assert [e.action for e in log.events(record.id)] == [EventAction.EDIT, EventAction.DISCARD]
    assert log.stats(QuarantineFilter()).total == 1
    for operation in ("add_revision", "revisions", "events", "transition", "stats"):
        assert store.calls[operation] == 3


def test_a_lasting_outage_is_raised() -> None:
    store = InMemoryQuarantineStore()
    store.fail_next(3, operation="stats")
    with pytest.raises(StoreUnavailableError):
        RetryingReviewLog(store, NO_WAIT).stats(QuarantineFilter())
