"""DataQuarantine: a data-quality firewall that quarantines bad records instead of dropping them.

Public API::

    from dataquarantine import Contract, ContractRegistry, Router

The names are imported lazily so that ``import dataquarantine`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "BatchResult",
    "Contract",
    "ContractRef",
    "ContractRegistry",
    "ErrorCode",
    "Router",
    "Severity",
    "ValidationResult",
    "Violation",
    "__version__",
]

_LAZY = {
    "Contract": "dataquarantine.validation.contract",
    "ContractRegistry": "dataquarantine.validation.registry",
    "Router": "dataquarantine.validation.registry",
    "BatchResult": "dataquarantine.kernel.results",
    "ContractRef": "dataquarantine.kernel.results",
    "ErrorCode": "dataquarantine.kernel.results",
    "Severity": "dataquarantine.kernel.results",
    "ValidationResult": "dataquarantine.kernel.results",
    "Violation": "dataquarantine.kernel.results",
}

if TYPE_CHECKING:
    from dataquarantine.kernel.results import (
        BatchResult,
        ContractRef,
        ErrorCode,
        Severity,
        ValidationResult,
        Violation,
    )
    from dataquarantine.validation.contract import Contract
    from dataquarantine.validation.registry import ContractRegistry, Router


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dataquarantine' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
