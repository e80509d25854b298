"""Load counts add up, and a batch that does not reconcile is an error."""

from __future__ import annotations

import pytest

from dataquarantine.errors import LoadError
from dataquarantine.load.report import BatchCounts, LoadSummary


def test_counts_add_and_reconcile() -> None:
    a = BatchCounts(read=10, inserted=6, updated=1, unchanged=1, superseded=0,
                    quarantined={"fk_violation": 2}, history_rows=1)  # fmt: skip
    b = BatchCounts(read=5, inserted=2, superseded=1, quarantined={"fk_violation": 1,
                    "rule_violation": 1})  # fmt: skip
    total = a + b
    assert total.read == 15
    assert total.loaded == 11
    assert dict(total.quarantined) == {"fk_violation": 3, "rule_violation": 1}
    total.reconcile("run")
    with pytest.raises(LoadError, match="9 rows read but 8 loaded"):
        BatchCounts(read=9, inserted=8).reconcile("batch 1")


def test_summary_dict_and_lines() -> None:
    counts = BatchCounts(read=3, inserted=2, quarantined={"fk_violation": 1})
    summary = LoadSummary("calls", "1.0.0", "r1", "staging", "target", counts, 1, 0, 0.5)
    out = summary.to_dict()
    assert out["read"] == out["loaded"]["total"] + out["quarantined"]["total"]
    assert out["rows_per_second"] == 6
    assert out["resumed"] is False
    assert any("fk_violation 1" in line for line in summary.lines())
