"""The official ODCS v3 examples and JSON Schemas (``../shared/conformance/odcs``).

Every example imports, or is refused with a reason; every contract imported compiles and
every gate imported is a valid gate; every export validates against the v3.1.0 JSON Schema;
import -> export -> import gives the same contracts.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from tests.conformance.conftest import Suite

from dataquarantine import Contract
from dataquarantine.contracts.odcs import export_odcs, import_odcs
from dataquarantine.errors import ContractSyntaxError
from dataquarantine.gates.model import gates_from_dict

ODCS = Suite("ODCS (bitol-io)", "DQ_ODCS_SUITE", "odcs", "schema")
ROOT = ODCS.root()
EXAMPLES = sorted((ROOT / "docs" / "examples").rglob("*.odcs.yaml")) if ROOT else []
#: Examples with no schema object: a contract needs one (they show servers, roles, SLAs...).
REFUSED = {
    "roles/service-and-operational-roles.odcs.yaml": "no schema objects",
    "server/azure-server.odcs.yaml": "no schema objects",
    "sla/database-table-sla.odcs.yaml": "no schema objects",
    "stakeholders/basic-four-dpo.odcs.yaml": "no schema objects",
}


@cache
def validator(version: str) -> jsonschema.protocols.Validator:
    assert ROOT is not None
    schema = json.loads((ROOT / "schema" / f"odcs-json-schema-{version}.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)  # type: ignore[no-any-return]


def _doc(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _id(path: Path) -> str:
    assert ROOT is not None
    return path.relative_to(ROOT / "docs" / "examples").as_posix()


@pytest.fixture
def suite_root() -> Path:
    if ROOT is None:
        ODCS.missing()
    assert ROOT is not None
    return ROOT


def test_the_suite_is_there(suite_root: Path) -> None:
    assert len(EXAMPLES) >= 15


@pytest.mark.parametrize("path", EXAMPLES, ids=_id)
def test_example_imports_compiles_exports_and_round_trips(path: Path) -> None:
    doc = _doc(path)
    name = _id(path)
    if name in REFUSED:
        with pytest.raises(ContractSyntaxError, match=REFUSED[name]):
            import_odcs(doc, source=path)
        return
    result = import_odcs(doc, source=path)
    objects = doc["schema"]
    assert [c.description for c in result.contracts] == [
        o.get("description") or (doc.get("description") or {}).get("purpose") for o in objects
    ]
    for spec in result.contracts:
        Contract(spec)
    if result.gates:
        gates_from_dict({"gates": list(result.gates)})
    for spec in result.contracts:
        exported = export_odcs(spec, spec.schema_)
        errors = [e.message for e in validator("v3.1.0").iter_errors(exported)]
        assert errors == [], f"{spec.name}: export is not valid ODCS v3.1.0"
        again = import_odcs(exported)
        assert again.contracts == (spec,)
        assert again.unmapped == ()
        assert export_odcs(again.contracts[0], again.contracts[0].schema_) == exported
