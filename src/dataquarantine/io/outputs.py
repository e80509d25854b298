"""What every valid-record sink is: the :class:`ValidSink` protocol and the publish-on-success
context-manager behaviour the JSONL (:mod:`dataquarantine.io.sinks`) and Parquet
(:mod:`dataquarantine.io.parquet_sink`) sinks share.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any, Protocol, Self

from dataquarantine.io.records import RecordBatch

__all__ = ["PublishOnSuccess", "ValidSink"]


class ValidSink(Protocol):
    """Receives the valid records of each batch, in order; commits the output on close."""

    def write(
        self, batch: RecordBatch, valid: Sequence[int], values: Sequence[Any] | None = None
    ) -> None:
        """Write the records at ``valid`` (ascending, distinct indices into ``batch``).

        ``values``: the engine's decoded/coerced value of every record of the batch (same
        indexing as the batch); used for CSV input, whose output columns are typed.
        """
        ...

    def close(self) -> None:
        """Flush and publish the output under its final name (idempotent)."""
        ...

    def abort(self) -> None:
        """Drop the output: the temporary file is removed, the target is left untouched."""
        ...


class PublishOnSuccess:
    """Context-manager behaviour of the sinks: ``close()`` (publish) when the block succeeds,
    ``abort()`` (discard) when it raises."""

    def close(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
