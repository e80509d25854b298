"""Settings of the review service (``DQ_`` environment variables, like every command)."""

from __future__ import annotations

from pydantic import Field

from dataquarantine.settings import Settings

__all__ = ["ReviewSettings"]


class ReviewSettings(Settings):
    """Store, payloads and contracts as for every command, plus the reprocess loop."""

    #: Failed reprocess attempts after which a record goes to ``dead``.
    max_attempts: int = Field(default=5, ge=1, le=1000)
    #: Where reprocessed records go: ``store``, ``file://PATH.jsonl`` or ``kafka://SERVERS/TOPIC``.
    reprocess_sink: str = Field(default="store", min_length=1)
    #: Seconds a filtered total of the list is reused (0: count every time). Writes through
    #: the review service clear it at once.
    count_cache_seconds: float = Field(default=5.0, ge=0, le=3600)
    #: Background bulk jobs kept in memory for polling (oldest finished ones are forgotten).
    max_jobs: int = Field(default=100, ge=1)
    #: A bulk fix over more records than this must be confirmed (``confirm: true``).
    fix_confirm_above: int = Field(default=10_000, ge=0)
