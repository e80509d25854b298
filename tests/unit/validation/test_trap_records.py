"""The benchmark's trap records (bench/traps.py): the engine rejects every one of them."""

from __future__ import annotations

import pytest
from bench.traps import TRAPS

from dataquarantine import ContractRegistry, Router
from dataquarantine.demo.generator import DEMO_CONTRACTS_DIR
from dataquarantine.kernel.results import ErrorCode


@pytest.fixture(scope="module")
def router() -> Router:
    return Router(ContractRegistry.from_directory(DEMO_CONTRACTS_DIR))


@pytest.mark.parametrize(
    ("kind", "line"), TRAPS, ids=[f"{i}-{k}" for i, (k, _) in enumerate(TRAPS)]
)
def test_the_engine_misses_no_trap(router: Router, kind: str, line: bytes) -> None:
    result = router.validate_batch([line])
    assert 0 in result.invalid, f"trap accepted: {kind}: {line!r}"
    expected = ErrorCode.PARSE_ERROR if kind == "NaN" else ErrorCode.SCHEMA_VIOLATION
    assert result.invalid[0].errors[0].code is expected
