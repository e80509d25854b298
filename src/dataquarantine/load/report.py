"""What a load did: counts per batch and for the whole run, reconciled."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dataquarantine.errors import LoadError

__all__ = ["BatchCounts", "LoadSummary"]


@dataclass(frozen=True, slots=True)
class BatchCounts:
    """Counts of one committed batch. ``superseded``: valid rows whose key appears again later
    in the same batch (the last one is upserted, as if they had been applied in order)."""

    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    superseded: int = 0
    quarantined: Mapping[str, int] = field(default_factory=dict)
    history_rows: int = 0

    @property
    def loaded(self) -> int:
        return self.inserted + self.updated + self.unchanged + self.superseded

    @property
    def quarantined_total(self) -> int:
        return sum(self.quarantined.values())

    def reconcile(self, where: str) -> None:
        """Raise :class:`LoadError` unless read = loaded + quarantined."""
        if self.read != self.loaded + self.quarantined_total:
            raise LoadError(
                f"{where}: {self.read} rows read but {self.loaded} loaded + "
                f"{self.quarantined_total} quarantined (did the staging table change?)"
            )

    def __add__(self, other: BatchCounts) -> BatchCounts:
        codes: Counter[str] = Counter(self.quarantined)
        codes.update(other.quarantined)
        return BatchCounts(
            read=self.read + other.read,
            inserted=self.inserted + other.inserted,
            updated=self.updated + other.updated,
            unchanged=self.unchanged + other.unchanged,
            superseded=self.superseded + other.superseded,
            quarantined=dict(sorted(codes.items())),
            history_rows=self.history_rows + other.history_rows,
        )


@dataclass(frozen=True, slots=True)
class LoadSummary:
    """The whole run (a resumed run includes the batches committed before the crash)."""

    contract: str
    version: str
    run_id: str
    staging: str
    target: str
    counts: BatchCounts
    batches: int
    resumed_batches: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        c = self.counts
        return {
            "contract": self.contract,
            "version": self.version,
            "run_id": self.run_id,
            "staging": self.staging,
            "target": self.target,
            "batches": self.batches,
            "resumed": self.resumed_batches > 0,
            "resumed_batches": self.resumed_batches,
            "read": c.read,
            "loaded": {
                "total": c.loaded,
                "inserted": c.inserted,
                "updated": c.updated,
                "unchanged": c.unchanged,
                "superseded": c.superseded,
            },
            "quarantined": {"total": c.quarantined_total, "by_code": dict(c.quarantined)},
            "history_rows": c.history_rows,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(c.read / self.seconds) if self.seconds > 0 else None,
        }

    def lines(self) -> list[str]:
        """A plain-text summary, one fact per line."""
        c = self.counts
        codes = ", ".join(f"{k} {v:,}" for k, v in c.quarantined.items()) or "none"
        resumed = f" (resumed after {self.resumed_batches} batches)" if self.resumed_batches else ""
        return [
            f"load {self.contract}@{self.version}: {self.staging} -> {self.target}{resumed}",
            f"run id        {self.run_id}",
            f"read          {c.read:,}",
            f"loaded        {c.loaded:,} (inserted {c.inserted:,}, updated {c.updated:,}, "
            f"unchanged {c.unchanged:,}, superseded {c.superseded:,})",
            f"quarantined   {c.quarantined_total:,} ({codes})",
            f"history rows  {c.history_rows:,}",
            f"batches       {self.batches:,} in {self.seconds:.2f} s",
        ]
