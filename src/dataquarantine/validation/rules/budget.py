"""The cost budget of one rule evaluation (both evaluation paths count it the same way).

Cost units: every comprehension (``all``, ``exists``, ``exists_one``, ``map``, ``filter``)
charges, when it starts, the size of its range times its weight (:func:`weight`: one plus the
nodes of its body), for its whole range whether or not it short-circuits; every string, bytes
or list concatenation charges one unit per :data:`CHARS_PER_UNIT` elements of its result.
Inside a comprehension's body, work that grows with the data is charged as well: comparing
two computed values (equal-length strings per :data:`CHARS_PER_UNIT` characters, equal-size
lists and maps per element, recursively), ``in`` a computed list (per element), the string
methods (per :data:`CHARS_PER_UNIT` characters of the string) and conversions of a string or
bytes (interpreter only: the fast path leaves those to it). Comparisons with a literal and
``in`` a list of literals are free (bounded by the expression). One
rule evaluation may spend :data:`COST_LIMIT` units; the charge that goes over raises
:class:`BudgetExceeded`. Nothing else can make an evaluation slow: outside comprehensions each
node is evaluated once (the work is bounded by the size of the expression times the size of
the record), and ``matches()`` runs in linear time (RE2).
"""

from __future__ import annotations

import threading
from typing import Final

from dataquarantine.validation.rules.nodes import Comprehension, children

__all__ = [
    "CHARS_PER_UNIT",
    "COST_LIMIT",
    "FAST",
    "Budget",
    "BudgetExceeded",
    "charge",
    "weight",
]

#: Units one rule evaluation may spend.
COST_LIMIT: Final = 1_000_000
#: A concatenation charges one unit per this many characters, bytes or list items produced.
CHARS_PER_UNIT: Final = 256


class BudgetExceeded(Exception):
    """The evaluation went over :data:`COST_LIMIT`."""

    def __str__(self) -> str:
        return f"cost budget exceeded (more than {COST_LIMIT} units)"


class Budget:
    """The units left to one evaluation (the interpreter's; one object per evaluation)."""

    __slots__ = ("left",)

    def __init__(self, limit: int = COST_LIMIT) -> None:
        self.left = limit

    def charge(self, units: int) -> None:
        self.left -= units
        if self.left < 0:
            raise BudgetExceeded


# The fast path's budget: its generated code cannot pass an object around, so the budget of
# the rule being evaluated lives in a thread-local, reset (``FAST.left = COST_LIMIT``, inline
# in the generated code) before each rule that counts.
class _Local(threading.local):
    left: int = COST_LIMIT  # the class attribute is each thread's start value


FAST: Final = _Local()


def charge(units: int) -> None:
    """Spend ``units`` of the current fast-path rule's budget."""
    left = FAST.left - units
    FAST.left = left
    if left < 0:
        raise BudgetExceeded


def weight(node: Comprehension) -> int:
    """Units per element of ``node``'s range: one, plus one per node of its predicate and
    transform. A nested comprehension counts as one node plus its range expression: its own
    elements are charged when it runs."""
    total = 1
    stack = list(children(node)[1:])  # the bodies, not the range
    while stack:
        item = stack.pop()
        total += 1
        stack.extend(children(item)[:1] if isinstance(item, Comprehension) else children(item))
    return total
