"""Versioned schema migrations of the metadata database, one ordered list for both dialects.

Each feature owns the migrations of its tables (:mod:`~dataquarantine.db.migrations.quarantine`,
:mod:`~dataquarantine.db.migrations.gates`, :mod:`~dataquarantine.db.migrations.stream`,
:mod:`~dataquarantine.db.migrations.review`); :mod:`~dataquarantine.db.migrations.catalog`
assembles them in the order they shipped, :mod:`~dataquarantine.db.migrations.runner` applies
them on a connection and :func:`ensure_schema` on a store URL's own connection.
"""

from dataquarantine.db.migrations.catalog import MIGRATIONS
from dataquarantine.db.migrations.ensure import ensure_schema
from dataquarantine.db.migrations.model import Dialect, Migration
from dataquarantine.db.migrations.runner import migrate, pending

__all__ = ["MIGRATIONS", "Dialect", "Migration", "ensure_schema", "migrate", "pending"]
