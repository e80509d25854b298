"""What the batch loops of :mod:`~dataquarantine.validation.engine` need of a compiled contract.

:class:`~dataquarantine.validation.contract.Contract` is the implementation; the engine depends
only on this protocol, so the contract can call the engine without the two importing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from dataquarantine.kernel.results import ContractRef, ErrorCode, ValidationResult, Violation
from dataquarantine.validation.base import DecodeFailure
from dataquarantine.validation.coercion import TextCoercer

__all__ = ["CompiledContract", "system_error"]


def system_error(exc: BaseException) -> Violation:
    """The violation recorded when validating a record failed inside the engine itself."""
    return Violation(ErrorCode.SYSTEM_ERROR, "", f"internal error while validating: {exc!r}")


class CompiledContract(Protocol):
    """A contract ready to validate records: decode, the hot-path checks and the full check."""

    @property
    def ref(self) -> ContractRef:
        """The contract's name and version, recorded on every result."""
        ...

    @property
    def is_valid_fn(self) -> Callable[[Any], bool]:
        """The structural yes/no check (hot path)."""
        ...

    @property
    def rules_check(self) -> Callable[[Any], Any] | None:
        """Hot-path rule check: falsy when every rule holds (``None`` when there are none)."""
        ...

    def decode(self, raw: bytes) -> Any:
        """Decode raw bytes; raises :class:`DecodeFailure` when they are bad."""
        ...

    def text_coercer(self) -> TextCoercer | None:
        """Function typing a text row (CSV cells) by the contract's schema, or ``None``."""
        ...

    def check(self, value: Any, *, schema_valid: bool | None = None) -> ValidationResult:
        """Every violation of an already-decoded value (structure first, then rules);
        ``schema_valid`` is what ``is_valid_fn`` answered for it, when it was asked."""
        ...

    def parse_error(self, failure: DecodeFailure) -> ValidationResult:
        """The result of a record that could not be decoded."""
        ...
