"""Names and values shared by the ODCS import and export."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "API_VERSION",
    "CUSTOM_ENGINE",
    "FIELD_PROPERTY",
    "FORMAT_PROPERTY",
    "KEY_PROPERTY",
    "LOAD_PROPERTY",
    "MODEL_PROPERTY",
    "REFERENCES_PROPERTY",
    "REMEDIATION_PROPERTY",
    "SCHEMA_PROPERTY",
    "Unmapped",
    "cel_access",
    "cel_literal",
]

#: The ODCS version the export writes.
API_VERSION: Final = "v3.1.0"
#: The ``engine`` of a ``custom`` quality rule whose ``implementation`` is a CEL expression.
CUSTOM_ENGINE: Final = "dataquarantine"
#: Custom properties (of a schema object) carrying what ODCS has no field for.
SCHEMA_PROPERTY: Final = "dataquarantineSchema"
FORMAT_PROPERTY: Final = "dataquarantineFormat"
MODEL_PROPERTY: Final = "dataquarantineModel"
REMEDIATION_PROPERTY: Final = "dataquarantineRemediation"
LOAD_PROPERTY: Final = "dataquarantineLoad"
KEY_PROPERTY: Final = "dataquarantineKey"
#: References ODCS shorthand cannot name (a schema-qualified table).
REFERENCES_PROPERTY: Final = "dataquarantineReferences"
#: Custom property of a schema-level ``custom`` rule: the field the rule is about.
FIELD_PROPERTY: Final = "dataquarantineField"

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True, slots=True)
class Unmapped:
    """A part of an ODCS document the import did not map: where (a JSON Pointer) and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path or '/'}: {self.reason}"


def cel_literal(value: Any) -> str:
    """A JSON value as a CEL literal (CEL strings take JSON's escapes)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(cel_literal(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def cel_access(name: str) -> tuple[str, str]:
    """``(presence test, value)`` of the top-level field ``name`` of ``record`` in CEL."""
    if _IDENT.match(name):
        return f"has(record.{name})", f"record.{name}"
    return f"{cel_literal(name)} in record", f"record[{cel_literal(name)}]"
