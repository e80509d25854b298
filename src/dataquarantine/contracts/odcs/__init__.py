"""The Open Data Contract Standard (ODCS v3): documents read as our contracts and gates, and
our contracts written as documents. Pure data work; see ``docs/contracts.md`` for the mapping.
"""

from dataquarantine.contracts.odcs.exporter import export_odcs
from dataquarantine.contracts.odcs.importer import OdcsImport, Unmapped, import_odcs

__all__ = ["OdcsImport", "Unmapped", "export_odcs", "import_odcs"]
