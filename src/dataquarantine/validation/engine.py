"""The batch hot loops. Valid records (the vast majority) take the shortest path:
decode -> ``is_valid`` -> fast rules, with no per-record result object. Only a record that
fails somewhere goes through the contract's ``check``, which collects every violation.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from dataquarantine.kernel import pointers
from dataquarantine.kernel.results import (
    BatchResult,
    ContractRef,
    ErrorCode,
    ValidationResult,
    Violation,
)
from dataquarantine.validation.base import DecodeFailure
from dataquarantine.validation.compiled import CompiledContract, system_error
from dataquarantine.validation.limits import TOO_DEEP
from dataquarantine.validation.parsing import (
    DECODE_FAILURES,
    json_decode,
    nests_deeper_than,
    parse_json,
)

__all__ = ["Route", "gc_paused", "validate_forced", "validate_routed"]

_BYTES = (bytes, bytearray, memoryview)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for one batch.

    Decoded JSON values cannot form reference cycles, but a batch allocates thousands of
    containers, which would trigger repeated collections over everything alive; measured,
    that doubles the cost of a batch that keeps its values."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _failed(violation: Violation, ref: ContractRef | None = None) -> ValidationResult:
    return ValidationResult(False, (violation,), (), None, ref)


def _parse_failure(failure: DecodeFailure) -> ValidationResult:
    return _failed(Violation(ErrorCode.PARSE_ERROR, failure.path, failure.message))


def _finish(
    contract: CompiledContract,
    value: Any,
    index: int,
    invalid: dict[int, ValidationResult],
    warnings: dict[int, tuple[Violation, ...]],
    schema_valid: bool | None = None,
) -> None:
    res = contract.check(value, schema_valid=schema_valid)
    if not res.valid:
        invalid[index] = res
    elif res.warnings:
        warnings[index] = res.warnings


def validate_forced(
    contract: CompiledContract,
    items: Sequence[Any],
    *,
    text: bool = False,
    keep_values: bool = True,
    shallow: bool = False,
) -> BatchResult:
    """Validate ``items`` (raw ``bytes`` or decoded values) against one contract.

    With ``text=True`` decoded dict values are text rows (CSV) typed by the schema first.
    With ``keep_values=False`` the decoded values of valid records are not kept (``values``
    holds ``None`` for them), which saves the allocation of a whole batch of records.
    ``shallow=True`` says the decoded values are known not to nest deeper than the limit
    (rows of a typed schema that does not): their depth is not measured again."""
    n = len(items)
    values: list[Any] = []
    append = values.append
    invalid: dict[int, ValidationResult] = {}
    warnings: dict[int, tuple[Violation, ...]] = {}
    ref = contract.ref
    decode = contract.decode
    is_valid = contract.is_valid_fn
    rules_eval = contract.rules_check
    coerce = contract.text_coercer() if text else None
    with gc_paused():
        for i, item in enumerate(items):
            if type(item) is bytes or isinstance(item, _BYTES):
                try:
                    value = decode(item if type(item) is bytes else bytes(item))
                except DecodeFailure as failure:
                    invalid[i] = contract.parse_error(failure)
                    append(None)
                    continue
                except Exception as exc:
                    invalid[i] = _failed(system_error(exc), ref)
                    append(None)
                    continue
            else:
                value = item
                if not shallow and nests_deeper_than(value):
                    invalid[i] = contract.parse_error(DecodeFailure(TOO_DEEP))
                    append(None)
                    continue
                if coerce is not None and type(value) is dict:
                    value = coerce(value)
            try:
                schema_ok: bool | None = is_valid(value)
                if schema_ok and (rules_eval is None or not rules_eval(value)):
                    append(value if keep_values else None)
                    continue
            except Exception:  # check() below records the failure as a violation
                schema_ok = None
            append(value)
            _finish(contract, value, i, invalid, warnings, schema_ok)
    return BatchResult(n, values, [ref] * n, invalid, warnings)


C = TypeVar("C", bound=CompiledContract)

#: What the router keeps per contract reference: (contract, is_valid, rules_check, ref).
Route = tuple[C, Callable[[Any], bool], Callable[[Any], Any] | None, ContractRef]


def validate_routed(
    items: Sequence[Any],
    routes: dict[str, Route[C]],
    resolve: Callable[[str], Route[C] | None],
    *,
    field: str = "_schema",
    text: bool = False,
    keep_values: bool = True,
) -> BatchResult:
    """Validate JSON ``items`` (raw ``bytes`` or decoded values), each against the contract
    named by its ``field`` (``name`` or ``name@version``). ``routes`` caches resolved names;
    ``resolve`` is asked (and fills the cache) on a miss. ``keep_values`` as in
    :func:`validate_forced`."""
    n = len(items)
    values: list[Any] = []
    append = values.append
    contracts: list[ContractRef | None] = []
    add_ref = contracts.append
    invalid: dict[int, ValidationResult] = {}
    warnings: dict[int, tuple[Violation, ...]] = {}
    pointer = "/" + pointers.escape(field)
    decode = json_decode
    get_route = routes.get
    with gc_paused():
        for i, item in enumerate(items):
            if type(item) is bytes or isinstance(item, _BYTES):
                try:
                    value = decode(item)
                except DECODE_FAILURES:
                    try:
                        value = parse_json(item)  # the exact reason, or a deep document
                    except DecodeFailure as failure:
                        invalid[i] = _parse_failure(failure)
                        append(None)
                        add_ref(None)
                        continue
            else:
                value = item
                if nests_deeper_than(value):
                    invalid[i] = _parse_failure(DecodeFailure(TOO_DEEP))
                    append(None)
                    add_ref(None)
                    continue
            name = value.get(field) if type(value) is dict else None
            route = (get_route(name) or resolve(name)) if type(name) is str else None
            if route is None:
                add_ref(None)
                if type(value) is not dict:
                    msg = f"record is a JSON {type(value).__name__}, not an object with {field!r}"
                elif name is None:
                    msg = f"record has no {field!r} field and no contract was given"
                else:
                    msg = f"no contract named {name!r}"
                invalid[i] = _failed(Violation(ErrorCode.SCHEMA_NOT_FOUND, pointer, msg))
                append(value)
                continue
            contract, is_valid, check_rules, ref = route
            add_ref(ref)
            if text and type(value) is dict:
                coerce = contract.text_coercer()
                if coerce is not None:
                    value = coerce(value)
            try:
                schema_ok: bool | None = is_valid(value)
                if schema_ok and (check_rules is None or not check_rules(value)):
                    append(value if keep_values else None)
                    continue
            except Exception:  # check() below records the failure as a violation
                schema_ok = None
            append(value)
            try:
                _finish(contract, value, i, invalid, warnings, schema_ok)
            except Exception as exc:
                invalid[i] = _failed(system_error(exc), ref)
    return BatchResult(n, values, contracts, invalid, warnings)
