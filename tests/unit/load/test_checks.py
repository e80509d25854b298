"""Pure parts of the check pass: tuple ids, latest row per key."""

from __future__ import annotations

from dataquarantine.load.checks import LatestPerKey, ctid_order, tid


def test_tid_literal_and_order() -> None:
    assert tid(12) == "(12,0)"
    assert ctid_order("(3,10)") < ctid_order("(10,2)")


def test_latest_row_per_key_across_chunks() -> None:
    latest = LatestPerKey()
    latest.add(["a", "b"], ["(0,1)", "(0,2)"])
    assert latest.superseded == []
    latest.add(["c", "a"], ["(1,1)", "(1,2)"])  # "a" again, later: (0,1) is superseded
    latest.add(["d", "d", "a"], ["(2,2)", "(2,1)", "(0,9)"])  # out of order within a chunk
    assert sorted(latest.superseded) == ["(0,1)", "(0,9)", "(2,1)"]
    assert latest.by_key == {"a": "(1,2)", "b": "(0,2)", "c": "(1,1)", "d": "(2,2)"}
