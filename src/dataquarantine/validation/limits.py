"""The bounds the validation engine holds every record and schema to.

Kept apart from the modules that enforce them, so that each can import them without importing
the others: decoding (:mod:`~dataquarantine.validation.parsing`), the schema cost bound
(:mod:`~dataquarantine.validation.schema_cost`) and compiling
(:mod:`~dataquarantine.validation.base`).
"""

from __future__ import annotations

from typing import Final

__all__ = ["MAX_DEPTH", "MAX_FANOUT", "TOO_DEEP"]

#: Deepest nesting accepted for in-memory values (decoded bytes are bounded by the decoder).
MAX_DEPTH: Final = 1024
#: Most subschema applications a schema may make on one value of a record (at any depth).
MAX_FANOUT: Final = 1000
#: The parse error of a value that nests deeper than :data:`MAX_DEPTH`.
TOO_DEEP: Final = f"the value nests deeper than {MAX_DEPTH} levels"
