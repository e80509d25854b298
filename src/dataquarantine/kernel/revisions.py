"""Revisions of a quarantined payload: corrected versions stored beside the untouched original,
each with the field changes that made it (a person's edit or the contract's remediation)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from dataquarantine.kernel.results import Violation

__all__ = ["FieldChange", "Revision", "RevisionKind", "change_from_dict"]


class RevisionKind(StrEnum):
    """Where a revision came from: a person's edit, the contract's remediation actions, a bulk
    fix or its undo."""

    EDIT = "edit"
    REMEDIATION = "remediation"
    #: Written by a bulk fix job, or by the undo of one (the payload of the revision before).
    FIX = "fix"
    UNDO = "undo"


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One change of a revision: the value at JSON Pointer ``path`` went from ``old`` to ``new``.

    ``action`` is the remediation action (``trim``, ``e164_phone``...) or ``edit``; ``old`` is
    ``None`` with ``existed_before=False`` when the field was added (``default``, ``rename``).
    """

    path: str
    action: str
    old: Any
    new: Any
    existed_before: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "action": self.action,
            "old": self.old,
            "new": self.new,
            "existed_before": self.existed_before,
        }


@dataclass(frozen=True, slots=True)
class Revision:
    """A corrected version of a quarantined payload. The original bytes are never replaced:
    revisions are stored beside them, numbered from 1 per record.

    ``errors`` are the violations left when the revision was validated (empty: it is valid).
    """

    payload: bytes
    kind: RevisionKind
    author: str = "system"
    changes: tuple[FieldChange, ...] = ()
    errors: tuple[Violation, ...] = ()
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def valid(self) -> bool:
        return not self.errors


def change_from_dict(data: Mapping[str, Any]) -> FieldChange:
    """Inverse of :meth:`FieldChange.to_dict`."""
    return FieldChange(
        path=str(data["path"]),
        action=str(data["action"]),
        old=data.get("old"),
        new=data.get("new"),
        existed_before=bool(data.get("existed_before", True)),
    )
