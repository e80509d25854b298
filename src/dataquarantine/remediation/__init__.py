"""Auto-remediation: the contract's ``remediation:`` rules, applied to invalid records before
they are validated again (the double pass). Pure: no network, database or storage access.

::

    from dataquarantine.remediation import Remediation

    attempt = Remediation().attempt(contract, b'{"email": " A@B.COM "}')
    attempt.revision.valid, attempt.revision.payload, attempt.revision.changes
"""

from __future__ import annotations

from dataquarantine.remediation.batch import attempt_invalid
from dataquarantine.remediation.double_pass import (
    AUTHOR,
    Attempt,
    AttemptReport,
    RecordOutcome,
    Remediation,
    RemediationObserver,
    RemediationStats,
    remediate,
)
from dataquarantine.remediation.engine import ActionFailure, ActionOutcome, Applied, Remediator

__all__ = [
    "AUTHOR",
    "ActionFailure",
    "ActionOutcome",
    "Applied",
    "Attempt",
    "AttemptReport",
    "RecordOutcome",
    "Remediation",
    "RemediationObserver",
    "RemediationStats",
    "Remediator",
    "attempt_invalid",
    "remediate",
]
