"""The checkpoint: offsets per partition, counts per outcome, what gets committed."""

from __future__ import annotations

from dataquarantine.kernel.results import ContractRef, ErrorCode, ValidationResult, Violation
from dataquarantine.stream.checkpoint import UNKNOWN_SCHEMA, Checkpoint, RateLimit
from dataquarantine.stream.stats import VALID

REF = ContractRef("user_event", "1.1.0")


def test_offsets_span_every_batch_per_partition() -> None:
    cp = Checkpoint()
    cp.track([("t", 0), ("t", 1), ("t", 0), ("t", 0)], [10, 5, 11, 12])
    cp.track([("t", 1), ("u", 0)], [6, 0])
    assert cp.offsets == {("t", 0): [10, 12], ("t", 1): [5, 6], ("u", 0): [0, 0]}
    assert cp.records == 6
    committed = {(tp.topic, tp.partition): tp.offset for tp in cp.commit_offsets()}
    assert committed == {("t", 0): 13, ("t", 1): 7, ("u", 0): 1}
    cp.drop([("t", 1), ("x", 9)])
    assert set(cp.offsets) == {("t", 0), ("u", 0)}


def test_counts_and_stats_per_topic_contract_and_outcome() -> None:
    cp = Checkpoint()
    bad = ValidationResult(False, (Violation(ErrorCode.RULE_VIOLATION, "/a", "no"),), (), None, REF)
    unknown = ValidationResult(False, (Violation(ErrorCode.PARSE_ERROR, "", "no"),))
    contracts = [REF, REF, None, REF]
    cp.track([("t", 0)] * 4, [0, 1, 2, 3])
    cp.count(["t"] * 4, contracts, {1: bad, 2: unknown})
    stats = cp.stats(0.5)
    assert stats.records == 4 and stats.commit_seconds == 0.5
    assert stats.counts == {
        ("t", "user_event", VALID): 2,
        ("t", "user_event", "rule_violation"): 1,
        ("t", UNKNOWN_SCHEMA, "parse_error"): 1,
    }
    assert sum(stats.counts.values()) == stats.records


def test_rate_limit() -> None:
    limit = RateLimit(interval=60)
    assert limit("a") and not limit("a") and limit("b")
