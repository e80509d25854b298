"""The record lifecycle: stored status strings and which actions each status allows."""

from __future__ import annotations

from dataquarantine.kernel.lifecycle import (
    CLOSABLE,
    EDITABLE,
    REPROCESS_OUTCOME,
    REPROCESSABLE,
    Status,
)


def test_statuses_are_stored_strings() -> None:
    assert [s.value for s in Status] == [
        "quarantined",
        "remediated",
        "reprocessed",
        "resolved",
        "discarded",
        "dead",
    ]


def test_allowed_actions_per_status() -> None:
    assert {Status.QUARANTINED, Status.DEAD} == REPROCESSABLE
    assert {Status.QUARANTINED, Status.DEAD} == EDITABLE
    assert {Status.QUARANTINED, Status.REMEDIATED, Status.DEAD} == CLOSABLE
    # A closed record (resolved, discarded, reprocessed) allows nothing more.
    closed = set(Status) - CLOSABLE
    assert closed == {Status.RESOLVED, Status.DISCARDED, Status.REPROCESSED}
    assert not closed & (EDITABLE | REPROCESSABLE)


def test_reprocess_outcomes() -> None:
    assert REPROCESS_OUTCOME == {
        Status.REPROCESSED: "reprocessed",
        Status.DEAD: "dead",
        Status.QUARANTINED: "still_invalid",
    }
