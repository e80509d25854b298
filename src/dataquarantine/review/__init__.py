"""Review of quarantined records: look, fix, reprocess, resolve (no web framework here).

>>> from dataquarantine.review import ReviewService, ReviewSettings
>>> service = ReviewService.open(ReviewSettings())  # doctest: +SKIP
"""

from __future__ import annotations

from dataquarantine.quarantine.history import (
    Count,
    Event,
    EventAction,
    QuarantineStats,
    SeriesPoint,
    StoredRevision,
)
from dataquarantine.review.models import (
    Job,
    JobState,
    Page,
    RecordDetail,
    ReprocessOutcome,
    SchemaInfo,
    SchemaVersion,
)
from dataquarantine.review.service import MAX_PAGE_SIZE, Compatibility, ReviewService
from dataquarantine.review.settings import ReviewSettings
from dataquarantine.review.sinks import ReprocessedRecord, ReprocessSink, open_reprocess_sink

__all__ = [
    "MAX_PAGE_SIZE",
    "Compatibility",
    "Count",
    "Event",
    "EventAction",
    "Job",
    "JobState",
    "Page",
    "QuarantineStats",
    "RecordDetail",
    "ReprocessOutcome",
    "ReprocessSink",
    "ReprocessedRecord",
    "ReviewService",
    "ReviewSettings",
    "SchemaInfo",
    "SchemaVersion",
    "SeriesPoint",
    "StoredRevision",
    "open_reprocess_sink",
]
