"""The double pass over a validated batch, shared by the file run and the stream worker."""

from __future__ import annotations

from collections.abc import Callable

from dataquarantine.kernel.results import BatchResult, ContractRef
from dataquarantine.remediation.double_pass import Attempt, Remediation
from dataquarantine.validation.contract import Contract

__all__ = ["attempt_invalid"]


def attempt_invalid(
    remediation: Remediation,
    result: BatchResult,
    find: Callable[[str], Contract | None],
) -> dict[int, Attempt]:
    """The double pass for every invalid record of ``result`` that was decoded and whose
    contract has remediation rules: batch index -> the attempt (only those that changed
    something). ``find`` resolves a contract reference (``name@version``) to its contract.

    A record without a decoded value (a parse error, an oversize or unreadable record) is
    never attempted."""
    out: dict[int, Attempt] = {}
    # A batch's invalid records share a few contracts: each is looked up (its version parsed)
    # once per batch.
    found: dict[ContractRef, Contract | None] = {}
    for i, res in result.invalid.items():
        ref = res.contract
        if ref is None or res.value is None:
            continue
        if ref in found:
            contract = found[ref]
        else:
            contract = find(str(ref))
            if contract is not None and not remediation.applies(contract):
                contract = None
            found[ref] = contract
        if contract is None:
            continue
        # The first pass's decoded value is remediated; the payload is not decoded again.
        attempt = remediation.attempt(contract, b"", res.value)
        if attempt is not None:
            out[i] = attempt
    return out
