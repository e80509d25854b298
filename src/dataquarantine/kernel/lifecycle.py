"""The lifecycle of a quarantined record: its statuses and which actions each one allows.

The review service enforces these sets; the web UI reads them to show only allowed actions.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, Literal

__all__ = [
    "CLOSABLE",
    "EDITABLE",
    "REPROCESSABLE",
    "REPROCESS_OUTCOME",
    "ReprocessOutcome",
    "Status",
]


class Status(StrEnum):
    """Where a quarantined record stands. Stored as these strings; never rename one."""

    QUARANTINED = "quarantined"
    REMEDIATED = "remediated"
    REPROCESSED = "reprocessed"
    RESOLVED = "resolved"
    DISCARDED = "discarded"
    DEAD = "dead"


#: Statuses a reprocess may start from.
REPROCESSABLE: Final = frozenset({Status.QUARANTINED, Status.DEAD})
#: Statuses a correction (a new revision) may be made in.
EDITABLE: Final = frozenset({Status.QUARANTINED, Status.DEAD})
#: Open statuses: resolve and discard may start from them.
CLOSABLE: Final = frozenset({Status.QUARANTINED, Status.REMEDIATED, Status.DEAD})

#: How a bulk reprocess counts a record, by the status the reprocess left it in.
ReprocessOutcome = Literal["reprocessed", "dead", "still_invalid"]
REPROCESS_OUTCOME: Final[dict[Status, ReprocessOutcome]] = {
    Status.REPROCESSED: "reprocessed",
    Status.DEAD: "dead",
    Status.QUARANTINED: "still_invalid",
}
