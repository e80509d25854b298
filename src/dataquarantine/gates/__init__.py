"""Quality gates: declarative read-only SQL assertions on a PostgreSQL database.

:mod:`~dataquarantine.gates.model` holds the definitions (plain data, no database imports),
:mod:`~dataquarantine.gates.render` turns them into SQL, :mod:`~dataquarantine.gates.statement`
checks that SQL before it is sent, :mod:`~dataquarantine.gates.runner` runs them in read-only
transactions as the role of :mod:`~dataquarantine.gates.role`,
:mod:`~dataquarantine.gates.report` renders the results (text, JSON, JUnit) and
:mod:`~dataquarantine.gates.history` records runs. See docs/gates.md ("Security model").

>>> suite = load_gates("examples/gates/crm_backfill.yaml")  # doctest: +SKIP
>>> from dataquarantine.gates.runner import run_gates  # doctest: +SKIP
>>> run_gates(suite, "postgresql://localhost/crm?schema=crm_example").passed  # doctest: +SKIP
False
"""

from __future__ import annotations

from dataquarantine.gates.model import Gate, GateSeverity, GateSuite, gates_from_dict, load_gates

__all__ = ["Gate", "GateSeverity", "GateSuite", "gates_from_dict", "load_gates"]
