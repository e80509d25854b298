"""The result values' stored strings never change, and the kernel stands alone."""

from __future__ import annotations

import subprocess
import sys

import dataquarantine
from dataquarantine.kernel.results import (
    MAX_VIOLATIONS,
    TRUNCATED,
    ContractRef,
    ErrorCode,
    Severity,
)


def test_error_codes_are_stored_strings() -> None:
    assert {code.name: code.value for code in ErrorCode} == {
        "PARSE_ERROR": "parse_error",
        "SCHEMA_NOT_FOUND": "schema_not_found",
        "SCHEMA_VIOLATION": "schema_violation",
        "RULE_VIOLATION": "rule_violation",
        "FK_VIOLATION": "fk_violation",
        "SYSTEM_ERROR": "system_error",
        "UPSTREAM_ERROR": "upstream_error",
        "DBT_TEST_FAILURE": "dbt_test_failure",
    }


def test_severities_and_the_cap() -> None:
    assert [s.value for s in Severity] == ["error", "warn"]
    assert (MAX_VIOLATIONS, TRUNCATED) == (100, "truncated")
    assert str(ContractRef("orders", "1.2.0")) == "orders@1.2.0"


def test_the_public_api_reexports_the_kernel_values() -> None:
    assert dataquarantine.ErrorCode is ErrorCode
    assert dataquarantine.Severity is Severity


def test_the_kernel_imports_no_other_layer() -> None:
    code = (
        "import sys\n"
        "import dataquarantine.kernel.results, dataquarantine.kernel.pointers\n"
        "import dataquarantine.kernel.lifecycle, dataquarantine.kernel.revisions\n"
        "import dataquarantine.kernel.ids\n"
        "mods = sorted(m for m in sys.modules if m.startswith('dataquarantine.'))\n"
        "print(' '.join(mods))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert {m for m in out if not m.startswith("dataquarantine.kernel")} <= {
        "dataquarantine.errors",
        "dataquarantine.masking",
    }
