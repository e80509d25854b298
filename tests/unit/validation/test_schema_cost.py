"""The static cost bound of a JSON Schema, and the refusal of schemas whose cost explodes."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from dataquarantine import Contract
from dataquarantine.contracts.loader import spec_from_dict
from dataquarantine.errors import SchemaCompileError
from dataquarantine.validation.registry import ContractRegistry
from dataquarantine.validation.schema_cost import MAX_FANOUT, UNBOUNDED, fanout

REPO = Path(__file__).resolve().parents[3]


def doubling(levels: int, keyword: str = "allOf") -> dict[str, Any]:
    """Each definition applies the previous one twice: 2**levels applications in all."""
    defs: dict[str, Any] = {"d0": {"type": "string"}}
    for i in range(1, levels + 1):
        prev = {"$ref": f"#/$defs/d{i - 1}"}
        defs[f"d{i}"] = {keyword: [prev, dict(prev)]}
    return {"$defs": defs, "$ref": f"#/$defs/d{levels}"}


def nested_doubling(levels: int, keyword: str) -> dict[str, Any]:
    """Doubling that moves one level into the record at every step."""
    defs: dict[str, Any] = {"d0": {"type": "string"}}
    for i in range(1, levels + 1):
        prev = {"$ref": f"#/$defs/d{i - 1}"}
        if keyword == "items":
            defs[f"d{i}"] = {"allOf": [{"items": prev}, {"items": dict(prev)}]}
        elif keyword == "patternProperties":
            defs[f"d{i}"] = {"patternProperties": {"a": prev, "^a": dict(prev)}}
        else:  # properties reached through two branches
            defs[f"d{i}"] = {"properties": {"a": {"allOf": [prev, dict(prev)]}}}
    return {"$defs": defs, "$ref": f"#/$defs/d{levels}"}


RECURSIVE = {
    "patternProperties": {"a": {"$ref": "#"}, "^a": {"$ref": "#"}},
    "type": "object",
}
RECURSIVE_DEFS = {
    "$defs": {
        "node": {
            "type": "object",
            "properties": {"c": {"anyOf": [{"$ref": "#/$defs/node"}, {"$ref": "#/$defs/node"}]}},
        }
    },
    "$ref": "#/$defs/node",
}

EXPLOSIVE = {
    "allOf doubling": doubling(30),
    "anyOf doubling": doubling(30, "anyOf"),
    "oneOf doubling": doubling(30, "oneOf"),
    "items doubling": nested_doubling(30, "items"),
    "patternProperties doubling": nested_doubling(30, "patternProperties"),
    "properties doubling": nested_doubling(30, "properties"),
    "recursive patternProperties": RECURSIVE,
    "recursive $defs": RECURSIVE_DEFS,
    "self reference": {"$ref": "#"},
    "in-place cycle": {"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"not": {"$ref": "#/$defs/a"}}}}
    | {"$ref": "#/$defs/a"},
}


def test_the_issue_schema_is_small_and_costs_billions() -> None:
    schema = doubling(30)
    assert len(json.dumps(schema)) < 2500
    assert fanout(schema) >= 2**30


@pytest.mark.parametrize("name", list(EXPLOSIVE))
def test_explosive_schemas_are_over_the_limit(name: str) -> None:
    started = time.perf_counter()
    assert fanout(EXPLOSIVE[name]) > MAX_FANOUT
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("name", list(EXPLOSIVE))
def test_explosive_schemas_do_not_compile(name: str) -> None:
    contract = {"name": "bomb", "version": "1.0.0", "schema": EXPLOSIVE[name]}
    with pytest.raises(SchemaCompileError, match="too costly to evaluate"):
        Contract.from_dict(contract)


def test_cycles_are_unbounded() -> None:
    assert fanout({"$ref": "#"}) == UNBOUNDED
    assert fanout(EXPLOSIVE["in-place cycle"]) == UNBOUNDED


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "string"}, 1),
        (True, 1),
        ({"properties": {"a": {"type": "string"}, "b": {"type": "integer"}}}, 1),
        ({"allOf": [{"type": "object"}, {"required": ["a"]}]}, 3),
        # a recursive tree: the same two applications (the $ref and its target) at any depth
        ({"properties": {"children": {"items": {"$ref": "#"}}}}, 2),
        # every subschema counts, a {"$ref"} as much as its target: 1 + (1 + 2 * (1 + ...))
        (doubling(3), 30),
    ],
)
def test_ordinary_fanouts(schema: Any, expected: int) -> None:
    assert fanout(schema) == expected


def test_refs_through_ids_anchors_and_files(tmp_path: Path) -> None:
    (tmp_path / "item.json").write_text(json.dumps(doubling(12)))
    schema = {"items": {"$ref": "item.json"}}
    contract = {"name": "c", "version": "1.0.0", "schema": schema}
    with pytest.raises(SchemaCompileError, match="too costly"):
        Contract.from_dict(contract, base_dir=tmp_path)
    anchors: dict[str, Any] = {"a0": {"$anchor": "a0", "type": "string"}}
    for i in range(1, 31):
        anchors[f"a{i}"] = {"$anchor": f"a{i}", "allOf": [{"$ref": f"#a{i - 1}"}] * 2}
    assert fanout({"$defs": anchors, "$ref": "#a30"}) > MAX_FANOUT
    ided = {
        "$id": "https://example.com/root.json",
        "$defs": {"s": {"$id": "s.json", "type": "string"}},
        "allOf": [{"$ref": "s.json"}] * 3,
    }
    assert fanout(ided) == 1 + 3 * (1 + 1)


def test_every_contract_in_the_repository_is_accepted() -> None:
    folders = {p.parent for p in REPO.glob("examples/**/contracts/*.y*ml")}
    folders.add(REPO / "src/dataquarantine/demo/contracts")
    assert len(folders) >= 2
    for folder in sorted(folders):
        assert len(ContractRegistry.from_directory(folder)) >= 1


def test_a_limit_can_be_raised_for_a_trusted_schema() -> None:
    spec = spec_from_dict({"name": "c", "version": "1.0.0", "schema": doubling(11)})
    with pytest.raises(SchemaCompileError):
        Contract(spec)
    assert Contract(spec, max_fanout=10_000).validate("x").valid
    assert Contract(spec, max_fanout=None).validate("x").valid
