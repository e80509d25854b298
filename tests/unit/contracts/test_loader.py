from __future__ import annotations

from pathlib import Path

import pytest

from dataquarantine.contracts.loader import discover_contract_files, load_spec, resolve_schema
from dataquarantine.contracts.model import field_to_pointer
from dataquarantine.errors import ContractSyntaxError

MINIMAL = """
name: user_event
version: 1.0.0
schema: {type: object}
"""


@pytest.fixture
def write(tmp_path: Path):
    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    return _write


def test_loads_the_documented_format(write) -> None:
    path = write(
        "c.yaml",
        """
name: user_event
version: 1.2.0
format: json
schema: {type: object, required: [user_id]}
rules:
  - id: purchase_needs_product
    expr: "record.event_type != 'purchase' || has(record.product_id)"
    message: purchase events must carry product_id
    severity: warn
references:
  - {field: customer_id, table: conformed_customers, column: customer_id}
remediation:
  - {field: email, action: lowercase}
  - {field: country, action: default, value: NL}
key: user_id
""",
    )
    spec = load_spec(path)
    assert spec.ref.name == "user_event" and spec.ref.version == "1.2.0"
    assert spec.rules[0].severity.value == "warn"
    assert spec.references[0].path == "/customer_id"
    assert spec.remediation[1].value == "NL"
    assert spec.key_pointer == "/user_id"
    assert spec.source_path == path.resolve()


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("name: x\nversion: 1.0.0\nschema: {type: object\n", "invalid YAML (line"),
        ("name: X Y\nversion: 1.0.0\nschema: {}\n", "name"),
        ("name: x\nversion: 1.0\nschema: {}\n", "semantic version"),
        ("name: x\nschema: {}\n", "version"),
        ("name: x\nversion: 1.0.0\n", "exactly one of"),
        ("name: x\nversion: 1.0.0\nschema: {}\nmodel: a:B\n", "exactly one of"),
        ("name: x\nversion: 1.0.0\nschema: {}\nshema: {}\n", "shema"),
        ("- just\n- a list\n", "must be a mapping"),
        (
            "name: x\nversion: 1.0.0\nschema: {}\nreferences:\n"
            "  - {field: a, table: 'x; DROP TABLE y', column: id}\n",
            "plain SQL identifier",
        ),
        (
            "name: x\nversion: 1.0.0\nschema: {}\nrules:\n"
            "  - {id: a, expr: 'true'}\n  - {id: a, expr: 'false'}\n",
            "duplicate rule ids",
        ),
        (
            "name: x\nversion: 1.0.0\nschema: {}\nremediation:\n  - {field: a, action: rename}\n",
            "to",
        ),
    ],
)
def test_bad_files_name_the_file_and_the_problem(write, text: str, needle: str) -> None:
    path = write("bad.yaml", text)
    with pytest.raises(ContractSyntaxError) as info:
        load_spec(path)
    assert str(path) in str(info.value)
    assert needle in str(info.value)


def test_schema_file_is_resolved_relative_to_the_contract(write) -> None:
    write("schemas/user.json", '{"type": "object", "required": ["id"]}')
    path = write("sub/../c.yaml", "name: x\nversion: 1.0.0\nschema_file: schemas/user.json\n")
    assert resolve_schema(load_spec(path)) == {"type": "object", "required": ["id"]}


def test_missing_or_broken_schema_file(write) -> None:
    path = write("c.yaml", "name: x\nversion: 1.0.0\nschema_file: nope.json\n")
    with pytest.raises(ContractSyntaxError, match="cannot be read"):
        resolve_schema(load_spec(path))
    write("broken.json", "{nope")
    path = write("d.yaml", "name: x\nversion: 1.0.0\nschema_file: broken.json\n")
    with pytest.raises(ContractSyntaxError, match="not valid JSON"):
        resolve_schema(load_spec(path))


def test_discovery_is_recursive_sorted_and_skips_hidden(write, tmp_path: Path) -> None:
    write("b.yaml", MINIMAL)
    write("a/c.yml", MINIMAL)
    write(".git/x.yaml", MINIMAL)
    write("notes.txt", "x")
    found = [p.relative_to(tmp_path).as_posix() for p in discover_contract_files(tmp_path)]
    assert found == ["a/c.yml", "b.yaml"]


@pytest.mark.parametrize(
    ("field", "pointer"),
    [("a", "/a"), ("a.b", "/a/b"), ("/a/b", "/a/b"), ("a/b.c", "/a~1b/c"), ("t~x", "/t~0x")],
)
def test_field_to_pointer(field: str, pointer: str) -> None:
    assert field_to_pointer(field) == pointer


# -- YAML limits -----------------------------------------------------------------------------


def _bomb(levels: int = 9) -> str:
    lines = ['    l0: &l0 ["lol"]']
    for i in range(1, levels + 1):
        lines.append(f"    l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_inside_schema_is_refused_naming_the_file(write) -> None:
    path = write(
        "bomb.yaml",
        "name: bomb\nversion: 1.0.0\nschema:\n  type: object\n  $defs:\n" + _bomb(),
    )
    with pytest.raises(ContractSyntaxError, match="expands to more than") as info:
        load_spec(path)
    assert "bomb.yaml" in str(info.value)


def test_a_recursive_alias_is_refused(write) -> None:
    path = write("r.yaml", "name: r\nversion: 1.0.0\nschema: &s {not: *s}\n")
    with pytest.raises(ContractSyntaxError, match="recursive alias"):
        load_spec(path)


def test_moderate_anchors_in_a_contract_still_work(write) -> None:
    path = write(
        "anchors.yaml",
        """
name: anchors
version: 1.0.0
schema:
  type: object
  properties:
    first: &name {type: string, minLength: 1, maxLength: 50}
    last: *name
    nick: {<<: *name, maxLength: 10}
""",
    )
    schema = load_spec(path).schema_
    assert isinstance(schema, dict)
    assert schema["properties"]["last"] == schema["properties"]["first"]
    assert schema["properties"]["nick"]["maxLength"] == 10


def test_an_oversized_contract_file_is_refused(write) -> None:
    path = write("big.yaml", MINIMAL + "# " + "x" * (4 * 1024 * 1024) + "\n")
    with pytest.raises(ContractSyntaxError, match="larger than"):
        load_spec(path)


# -- schema_file stays inside the contract's folder (the rule of $ref) -----------------------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    secret = tmp_path / "secret.json"
    secret.write_text('{"type": "object"}')
    return secret


@pytest.mark.parametrize("target", ["ABSOLUTE", "../secret.json", "sub/../../secret.json"])
def test_schema_file_outside_the_folder_is_refused(tmp_path: Path, outside: Path, target) -> None:
    folder = tmp_path / "contracts"
    (folder / "sub").mkdir(parents=True)
    ref = str(outside) if target == "ABSOLUTE" else target
    path = folder / "c.yaml"
    path.write_text(f"name: c\nversion: 1.0.0\nschema_file: {ref!r}\n")
    with pytest.raises(ContractSyntaxError, match="schema_file") as info:
        resolve_schema(load_spec(path))
    assert "c.yaml" in str(info.value)


def test_schema_file_symlink_pointing_outside_is_refused(tmp_path: Path, outside: Path) -> None:
    folder = tmp_path / "contracts"
    folder.mkdir()
    (folder / "link.json").symlink_to(outside)
    path = folder / "c.yaml"
    path.write_text("name: c\nversion: 1.0.0\nschema_file: link.json\n")
    with pytest.raises(ContractSyntaxError, match="outside the contract's folder"):
        resolve_schema(load_spec(path))


def test_schema_file_inside_the_folder_still_works(tmp_path: Path) -> None:
    folder = tmp_path / "contracts"
    (folder / "schemas").mkdir(parents=True)
    (folder / "schemas" / "s.json").write_text('{"type": "integer"}')
    (folder / "alias.json").symlink_to(folder / "schemas" / "s.json")
    for ref in ("schemas/s.json", "./schemas/../schemas/s.json", "alias.json"):
        path = folder / "c.yaml"
        path.write_text(f"name: c\nversion: 1.0.0\nschema_file: {ref}\n")
        assert resolve_schema(load_spec(path)) == {"type": "integer"}
