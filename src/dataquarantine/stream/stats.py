"""What the stream worker reports after each committed batch, for metrics and aggregates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

__all__ = ["VALID", "BatchObserver", "BatchStats"]

#: The ``error_type`` label of valid records.
VALID = "valid"


@dataclass(frozen=True, slots=True)
class BatchStats:
    """One committed batch.

    ``counts`` maps ``(topic, schema, error_type)`` to a number of records, where ``schema`` is
    the contract name (``"unknown"`` when none was found) and ``error_type`` the headline error
    code of an invalid record or :data:`VALID`.
    """

    counts: Mapping[tuple[str, str, str], int]
    records: int
    validation_seconds: float
    commit_seconds: float
    at: datetime


class BatchObserver(Protocol):
    """Receives batch statistics (Prometheus metrics, per-minute aggregates, ...)."""

    def observe_batch(self, stats: BatchStats) -> None: ...

    def set_lag(self, topic: str, partition: int, lag: int) -> None: ...
