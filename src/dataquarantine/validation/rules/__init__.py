"""CEL business rules: :class:`RuleSet` compiles a contract's ``rules:`` and evaluates them.

See :mod:`dataquarantine.validation.rules.engine` for the semantics (including why rule
evaluation errors are suppressed for records that already failed their schema).
"""

from __future__ import annotations

from dataquarantine.validation.rules.engine import RuleSet

__all__ = ["RuleSet"]
