"""The assembled migration list is pinned: shipped migrations are never edited or reordered."""

from __future__ import annotations

import hashlib
import json

from dataquarantine.db.migrations import MIGRATIONS

# Changing either means a shipped migration changed: existing databases would refuse to open
# (or silently miss a table). Append a new migration instead, then update both pins.
PINNED_VERSIONS = [
    (1, "quarantine records and violation codes"),
    (2, "quality gate run history"),
    (3, "per-minute validation metrics"),
    (4, "review revisions, events and reprocessed records"),
]
PINNED_SHA256 = "8ba7e5672c0ee9d14e5bbb010eedf75bb920bc5f7292e437ca2cbfab814cf599"


def _canonical() -> bytes:
    return json.dumps(
        [
            {
                "version": m.version,
                "name": m.name,
                "sqlite": list(m.sqlite),
                "postgres": list(m.postgres),
            }
            for m in MIGRATIONS
        ],
        sort_keys=True,
        separators=(",", ":"),
    ).encode()


def test_versions_and_names_are_pinned() -> None:
    assert [(m.version, m.name) for m in MIGRATIONS] == PINNED_VERSIONS


def test_statements_are_pinned() -> None:
    assert hashlib.sha256(_canonical()).hexdigest() == PINNED_SHA256


def test_statements_per_dialect() -> None:
    for m in MIGRATIONS:
        assert m.statements("sqlite") == m.sqlite
        assert m.statements("postgres") == m.postgres
