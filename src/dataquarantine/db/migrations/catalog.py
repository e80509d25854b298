"""Every schema migration of the metadata database, in the order they shipped.

To change the schema, add a :class:`~dataquarantine.db.migrations.model.Migration` with the
next version number to the module of the feature that owns the tables, and append it here;
never edit or reorder one that has shipped (databases record each applied version and name
in ``dq_schema_migrations`` and refuse to run against a history that disagrees).
"""

from __future__ import annotations

from dataquarantine.db.migrations.fixes import FIX_JOBS
from dataquarantine.db.migrations.gates import GATE_RUNS
from dataquarantine.db.migrations.model import Migration
from dataquarantine.db.migrations.quarantine import KEYSET_INDEXES, RECORDS
from dataquarantine.db.migrations.registry import CONTRACT_VERSIONS
from dataquarantine.db.migrations.review import REVIEW
from dataquarantine.db.migrations.stream import VALIDATION_METRICS

__all__ = ["MIGRATIONS"]

#: Every migration, in order. Append only.
MIGRATIONS: tuple[Migration, ...] = (
    RECORDS,
    GATE_RUNS,
    VALIDATION_METRICS,
    REVIEW,
    CONTRACT_VERSIONS,
    FIX_JOBS,
    KEYSET_INDEXES,
)
