"""The one interface every validator kind implements, and the registry of kinds.

A kind turns a :class:`~dataquarantine.contracts.model.ContractSpec` into a
:class:`SchemaValidator`. Adding a kind is one module with a factory plus one entry in
:data:`KINDS` (see :func:`register_kind`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from dataquarantine.kernel.results import Violation, ViolationSink
from dataquarantine.validation.limits import MAX_FANOUT

__all__ = [
    "KINDS",
    "CompileOptions",
    "DecodeFailure",
    "Retriever",
    "SchemaValidator",
    "ValidatorFactory",
    "register_kind",
]

#: Resolves an absolute ``$ref`` URI to a JSON document (raises to refuse).
Retriever = Callable[[str], Any]


class DecodeFailure(Exception):
    """Raised by :meth:`SchemaValidator.decode`; the engine turns it into a ``parse_error``."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.path = path


@dataclass(frozen=True, slots=True)
class CompileOptions:
    """How a contract's schema is compiled.

    ``schema`` is the resolved schema document (inline or read from ``schema_file``),
    ``base_dir`` the folder of the contract file (relative ``$ref`` and files resolve there),
    ``retriever`` an optional resolver for absolute ``$ref`` URIs, ``max_fanout`` the most
    subschema applications a schema may make on one value of a record (see
    :mod:`~dataquarantine.validation.schema_cost`; ``None``: not checked).
    """

    schema: Any = None
    base_dir: Path | None = None
    retriever: Retriever | None = None
    max_fanout: int | None = MAX_FANOUT


class SchemaValidator(Protocol):
    """Structural validation of one contract's records."""

    def decode(self, raw: bytes) -> Any:
        """Decode raw bytes to a record value; raise :class:`DecodeFailure` when they are bad."""
        ...

    def is_valid(self, value: Any) -> bool:
        """Fast yes/no check (the hot path for the ~95% of records that are fine)."""
        ...

    def collect(self, value: Any, sink: ViolationSink) -> None:
        """Append the structural violations of ``value`` to ``sink`` (none when valid), in
        bounded time and memory: past the sink's limit they may only be counted, and a kind
        that cannot afford to look for all of them calls :meth:`ViolationSink.stop`."""
        ...

    def violations(self, value: Any) -> list[Violation]:
        """The structural violations of ``value`` (empty when valid): at most
        :data:`~dataquarantine.kernel.results.MAX_VIOLATIONS`, then a summary."""
        ...


# The spec type is referenced by name only, so this module does not import contracts/.
ValidatorFactory = Callable[[Any, CompileOptions], SchemaValidator]

#: Kind name -> factory(spec, options). Populated by the kind modules on import.
KINDS: dict[str, ValidatorFactory] = {}


def register_kind(name: str) -> Callable[[ValidatorFactory], ValidatorFactory]:
    """Decorator registering a validator factory under ``name``."""

    def deco(factory: ValidatorFactory) -> ValidatorFactory:
        KINDS[name] = factory
        return factory

    return deco
