"""CEL business rules: :class:`RuleSet` compiles a contract's ``rules:`` and evaluates them;
:class:`Expression` evaluates one CEL expression over ``record`` and returns its value.

See :mod:`dataquarantine.validation.rules.engine` for the semantics (including why rule
evaluation errors are suppressed for records that already failed their schema).
"""

from __future__ import annotations

from dataquarantine.validation.rules.budget import COST_LIMIT
from dataquarantine.validation.rules.engine import RuleSet
from dataquarantine.validation.rules.expression import Expression
from dataquarantine.validation.rules.values import BoolKey, CelType, Duration, Timestamp, UInt

__all__ = [
    "COST_LIMIT",
    "BoolKey",
    "CelType",
    "Duration",
    "Expression",
    "RuleSet",
    "Timestamp",
    "UInt",
]
