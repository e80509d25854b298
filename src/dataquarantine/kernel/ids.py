"""Run ids: sortable by start time, unique by a random suffix."""

from __future__ import annotations

import time
import uuid

__all__ = ["new_run_id"]


def new_run_id(prefix: str | None = None) -> str:
    """``20260102T030405Z-1a2b3c4d`` (UTC start time, 8 random hex digits), after
    ``<prefix>-`` when a prefix is given (``load-20260102T030405Z-1a2b3c4d``)."""
    run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:8]
    return f"{prefix}-{run_id}" if prefix else run_id
