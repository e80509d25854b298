"""Batch conformance load: quarantine orphans and invalid rows before an idempotent upsert.

``LoadRun(contract, db_url, quarantine, LoadOptions(...)).run()`` returns a
:class:`LoadSummary`; ``dataquarantine load`` is the command line over it. See docs/load.md.
"""

from __future__ import annotations

from dataquarantine.load.report import BatchCounts, LoadSummary
from dataquarantine.load.runner import LoadOptions, LoadRun

__all__ = ["BatchCounts", "LoadOptions", "LoadRun", "LoadSummary"]
