"""The database layer shared by the quarantine store, gates, loads and stream aggregates:
store URLs (:mod:`~dataquarantine.db.url`), connections and ``search_path``
(:mod:`~dataquarantine.db.connect`), value encoding (:mod:`~dataquarantine.db.codec`), the
one transient/terminal table of driver errors (:mod:`~dataquarantine.db.errors`) and the
schema migrations every feature's tables come from (:mod:`~dataquarantine.db.migrations`).

Nothing here imports a database driver other than :mod:`sqlite3` until a PostgreSQL
connection is opened.
"""

from dataquarantine.db.connect import Connection

__all__ = ["Connection"]
