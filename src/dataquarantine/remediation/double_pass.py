"""The double pass: an invalid record is remediated, then validated again by the same contract.

The outcome is a :class:`~dataquarantine.kernel.revisions.Revision` (kind ``remediation``)
holding the fixed bytes, every change and the violations left. A valid revision goes on
downstream in place of the record, whose original bytes are quarantined untouched with status
``remediated``; an invalid one stays quarantined beside the original.

An attempt is only made for a contract with a ``remediation:`` section and a record that
decodes (JSON contracts); an attempt that changes nothing is not kept.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, Protocol

from dataquarantine.kernel.revisions import Revision, RevisionKind
from dataquarantine.remediation.engine import ActionFailure, ActionOutcome, Applied, Remediator
from dataquarantine.remediation.engine import encode as encode_json
from dataquarantine.validation.contract import Contract

__all__ = [
    "AUTHOR",
    "Attempt",
    "AttemptReport",
    "RecordOutcome",
    "Remediation",
    "RemediationObserver",
    "RemediationStats",
    "remediate",
]

#: The author of remediation revisions.
AUTHOR: Final = "remediation"
_NOT_DECODED: Final = object()
_CACHE_LIMIT: Final = 1024


class RecordOutcome(StrEnum):
    """What the double pass did for one invalid record."""

    #: valid after remediation: the fixed record went on downstream.
    REMEDIATED = "remediated"
    #: changed, but still invalid: quarantined with the attempt.
    STILL_INVALID = "still_invalid"
    #: no rule changed anything (nothing stored).
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class Attempt:
    """A remediation attempt that changed something: the revision and the fixed value."""

    revision: Revision
    #: The fixed decoded value (what a typed sink writes).
    value: Any
    failures: tuple[ActionFailure, ...] = ()

    @property
    def valid(self) -> bool:
        return self.revision.valid


@dataclass(frozen=True, slots=True)
class AttemptReport:
    """What observers are told about each attempt."""

    contract: str
    outcome: RecordOutcome
    actions: tuple[tuple[str, ActionOutcome], ...]


class RemediationObserver(Protocol):
    def observe_attempt(self, report: AttemptReport) -> None: ...


@dataclass
class RemediationStats:
    """Running totals: records by outcome, and rule applications by (action, outcome)."""

    records: Counter[RecordOutcome] = field(default_factory=Counter)
    actions: Counter[tuple[str, ActionOutcome]] = field(default_factory=Counter)
    by_contract: Counter[tuple[str, RecordOutcome]] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def observe_attempt(self, report: AttemptReport) -> None:
        with self._lock:
            self.records[report.outcome] += 1
            self.by_contract[(report.contract, report.outcome)] += 1
            self.actions.update(report.actions)

    def demote(self, contract: str) -> None:
        """A remediated record that could not be sent on after all (it stays quarantined)."""
        with self._lock:
            for key, n in ((RecordOutcome.REMEDIATED, -1), (RecordOutcome.STILL_INVALID, 1)):
                self.records[key] += n
                self.by_contract[(contract, key)] += n

    @property
    def remediated(self) -> int:
        return self.records[RecordOutcome.REMEDIATED]

    def to_dict(self) -> dict[str, Any]:
        """``{"records": {outcome: n}, "actions": {action: {outcome: n}}}`` (JSON-ready)."""
        actions: dict[str, dict[str, int]] = {}
        for (action, outcome), n in sorted(self.actions.items()):
            actions.setdefault(action, {})[outcome.value] = n
        return {
            "records": {o.value: self.records[o] for o in RecordOutcome},
            "actions": actions,
        }


class Remediation:
    """Runs the double pass for any contract, caching each contract's compiled rules.

    ``observers`` (e.g. :class:`RemediationStats`, the Prometheus adapter) hear about every
    attempt; :attr:`stats` always does.
    """

    def __init__(self, observers: Sequence[RemediationObserver] = ()) -> None:
        self.stats = RemediationStats()
        self._observers: tuple[RemediationObserver, ...] = (self.stats, *observers)
        # id(contract) -> (contract, its remediator or None); the contract is kept so the id
        # is never reused while cached.
        self._compiled: dict[int, tuple[Contract, Remediator | None]] = {}
        self._lock = threading.Lock()

    def remediator(self, contract: Contract) -> Remediator | None:
        """The compiled rules of ``contract`` (``None``: it has none, or is not JSON)."""
        hit = self._compiled.get(id(contract))
        if hit is not None and hit[0] is contract:
            return hit[1]
        spec = contract.spec
        compiled = (
            Remediator(spec.remediation, phone_region=spec.phone_region)
            if spec.remediation and spec.format == "json"
            else None
        )
        with self._lock:
            if len(self._compiled) >= _CACHE_LIMIT:
                self._compiled.clear()
            self._compiled[id(contract)] = (contract, compiled)
        return compiled

    def applies(self, contract: Contract | None) -> bool:
        return contract is not None and self.remediator(contract) is not None

    def attempt(
        self, contract: Contract, payload: bytes, value: Any = _NOT_DECODED
    ) -> Attempt | None:
        """Remediate one invalid record and validate the result with ``contract``.

        ``value`` is the record as the first pass decoded it (typed CSV cells, say); by
        default ``payload`` is decoded. ``None`` when there is nothing to attempt or nothing
        changed. Never raises on bad data."""
        remediator = self.remediator(contract)
        if remediator is None:
            return None
        applied: Applied | None
        if value is _NOT_DECODED:
            applied = remediator.apply(payload)
        elif value is None:
            applied = None
        else:
            applied = remediator.apply_value(value)
        if applied is None:
            return None
        if not applied.changed:
            self._tell(contract, RecordOutcome.UNCHANGED, applied)
            return None
        try:
            fixed = encode_json(applied.value)
        except (TypeError, ValueError, OverflowError):  # a value JSON cannot hold
            return None
        result = contract.validate(applied.value)
        revision = Revision(
            payload=fixed,
            kind=RevisionKind.REMEDIATION,
            author=AUTHOR,
            changes=applied.changes,
            errors=result.errors,
        )
        outcome = RecordOutcome.REMEDIATED if revision.valid else RecordOutcome.STILL_INVALID
        self._tell(contract, outcome, applied)
        return Attempt(revision, applied.value, applied.failures)

    def _tell(self, contract: Contract, outcome: RecordOutcome, applied: Applied) -> None:
        report = AttemptReport(contract.name, outcome, applied.outcomes)
        for observer in self._observers:
            observer.observe_attempt(report)


_DEFAULT = Remediation()


def remediate(contract: Contract, payload: bytes) -> Revision | None:
    """The double pass on one record's bytes (for reprocessing): the remediation revision,
    or ``None`` when the contract has no rules, the bytes do not decode or nothing changed."""
    attempt = _DEFAULT.attempt(contract, payload)
    return attempt.revision if attempt is not None else None
