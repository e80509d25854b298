"""Contract registration (review.schemas), called without the review service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from dataquarantine.errors import (
    ConfigError,
    DuplicateContractError,
    IncompatibleContractError,
    SchemaCompileError,
)
from dataquarantine.review.schemas import list_schemas, register_schema
from dataquarantine.validation.registry import ContractRegistry


def _contract(version: str, required: list[str]) -> dict[str, Any]:
    return {
        "name": "orders",
        "version": version,
        "schema": {
            "type": "object",
            "required": required,
            "properties": {"id": {"type": "string"}, "note": {"type": "string"}},
        },
    }


@pytest.fixture
def registry(tmp_path: Path) -> ContractRegistry:
    (tmp_path / "orders-1.0.0.yaml").write_text(yaml.safe_dump(_contract("1.0.0", ["id"])))
    return ContractRegistry.from_directory(tmp_path)


def test_list_schemas_names_each_version_and_its_file(registry: ContractRegistry) -> None:
    (info,) = list_schemas(registry)
    assert (info.name, info.latest) == ("orders", "1.0.0")
    assert [(v.version, v.source) for v in info.versions] == [("1.0.0", "orders-1.0.0.yaml")]


def test_register_writes_a_yaml_file_the_registry_finds(
    registry: ContractRegistry, tmp_path: Path
) -> None:
    info = register_schema(registry, _contract("1.1.0", ["id"]))
    assert info.latest == "1.1.0"
    assert [v.version for v in info.versions] == ["1.0.0", "1.1.0"]
    written = yaml.safe_load((tmp_path / "orders@1.1.0.yaml").read_text())
    assert (written["name"], written["version"]) == ("orders", "1.1.0")
    assert not list(tmp_path.glob(".*.tmp"))


def test_register_checks_order_and_compatibility(registry: ContractRegistry) -> None:
    register_schema(registry, _contract("1.0.0", ["id"]))  # the same body: a no-op
    with pytest.raises(DuplicateContractError, match="immutable"):
        register_schema(registry, _contract("1.0.0", ["id", "note"]))
    with pytest.raises(IncompatibleContractError) as caught:
        register_schema(registry, _contract("2.0.0", ["id", "note"]))
    assert caught.value.reasons
    register_schema(registry, _contract("2.0.0", ["id", "note"]), compatibility="none")
    with pytest.raises(DuplicateContractError):
        register_schema(registry, _contract("1.5.0", ["id"]), compatibility="none")


def test_a_registry_without_a_folder_cannot_register() -> None:
    with pytest.raises(ConfigError):
        register_schema(ContractRegistry([]), _contract("1.0.0", ["id"]))


def test_a_version_over_the_size_limit_is_refused(registry: ContractRegistry) -> None:
    big = {**_contract("1.1.0", ["id"]), "description": "x" * (4 * 1024 * 1024)}
    with pytest.raises(ConfigError, match="at most"):
        register_schema(registry, big)
    assert registry.versions("orders") == ["1.0.0"]


def test_a_too_costly_schema_is_refused(registry: ContractRegistry) -> None:
    defs = {"d0": {"type": "string"}}
    for i in range(1, 30):
        defs[f"d{i}"] = {"allOf": [{"$ref": f"#/$defs/d{i - 1}"}, {"$ref": f"#/$defs/d{i - 1}"}]}
    costly = {**_contract("1.1.0", ["id"]), "schema": {"$defs": defs, "$ref": "#/$defs/d29"}}
    with pytest.raises(SchemaCompileError, match="too costly"):
        register_schema(registry, costly)
    assert registry.versions("orders") == ["1.0.0"]
