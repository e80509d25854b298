"""The value a schema migration is: a version, a name and its statements per dialect."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Dialect", "Migration"]

Dialect = Literal["sqlite", "postgres"]


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema change: single statements per dialect, applied in one transaction together
    with its bookkeeping row in ``dq_schema_migrations``."""

    version: int
    name: str
    sqlite: tuple[str, ...]
    postgres: tuple[str, ...]

    def statements(self, dialect: Dialect) -> tuple[str, ...]:
        """The statements for ``dialect``, in order."""
        return self.sqlite if dialect == "sqlite" else self.postgres
