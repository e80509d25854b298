from __future__ import annotations

import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataquarantine.contracts.model import ContractSpec
from dataquarantine.contracts.version import Version
from dataquarantine.errors import SchemaCompileError
from dataquarantine.kernel.results import ErrorCode, Violation
from dataquarantine.validation.base import KINDS, CompileOptions, DecodeFailure
from dataquarantine.validation.model_kind import (
    ModelValidator,
    compile_model,
    load_model,
    loc_to_pointer,
)

V1 = Version.parse("1.0.0")
# The repository root: "tests.unit.validation.fixtures_models" imports from there.
REPO_ROOT = Path(__file__).resolve().parents[3]
FIXTURES = "tests.unit.validation.fixtures_models"

MakeValidator = Callable[..., ModelValidator]


def spec_for(model: str, **extra: Any) -> ContractSpec:
    return ContractSpec(name="orders", version=V1, model=model, **extra)


@pytest.fixture(scope="module")
def make_validator() -> MakeValidator:
    def make(cls_name: str, base_dir: Path | None = REPO_ROOT) -> ModelValidator:
        validator = compile_model(
            spec_for(f"{FIXTURES}:{cls_name}"), CompileOptions(base_dir=base_dir)
        )
        assert isinstance(validator, ModelValidator)
        return validator

    return make


def by_path(violations: list[Violation]) -> dict[str, str | None]:
    return {v.path: v.keyword for v in violations}


VALID_ORDER: dict[str, Any] = {
    "order_id": "o-1",
    "name": "Ada",
    "quantity": 2,
    "items": [{"sku": "A", "qty": 1}],
    "note": None,
    "address": {"city": "Paris", "zip": "75001"},
    "meta": {"x": 1},
}


# -- compile --------------------------------------------------------------------------------


def test_registered_as_model_kind() -> None:
    assert KINDS["model"] is compile_model


def test_compiles_with_repo_root_as_base_dir(make_validator: MakeValidator) -> None:
    validator = make_validator("Order")
    assert validator.model.__name__ == "Order"
    assert "ModelValidator(" in repr(validator)


def test_module_dotted_form_and_nested_attribute(tmp_path: Path) -> None:
    name = f"dq_models_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(
        "from pydantic import BaseModel\n"
        "class Outer:\n"
        "    class Inner(BaseModel):\n"
        "        a: int\n"
        "class Thing(BaseModel):\n"
        "    b: str\n"
    )
    inner = load_model(f"{name}:Outer.Inner", tmp_path)
    assert inner.__qualname__ == "Outer.Inner"
    assert load_model(f"{name}.Thing", tmp_path).__name__ == "Thing"


def test_imports_from_the_contract_folder_and_restores_sys_path(tmp_path: Path) -> None:
    name = f"dq_models_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(
        "from pydantic import BaseModel\nclass Event(BaseModel):\n    id: int\n"
    )
    before = list(sys.path)
    spec = spec_for(f"{name}:Event", source_path=tmp_path / "event.yaml")
    validator = compile_model(spec, CompileOptions(base_dir=spec.base_dir))
    assert sys.path == before
    assert validator.is_valid({"id": 1})
    assert not validator.is_valid({"id": "x"})


def test_module_not_found_names_model_and_reason(tmp_path: Path) -> None:
    source = tmp_path / "c.yaml"
    with pytest.raises(SchemaCompileError) as info:
        compile_model(
            spec_for("no_such_pkg_dq.models:Order", source_path=source),
            CompileOptions(base_dir=tmp_path),
        )
    message = str(info.value)
    assert "no_such_pkg_dq.models:Order" in message
    assert "ModuleNotFoundError" in message
    assert str(source) in message
    assert info.value.source == str(source)


def test_module_that_fails_on_import_is_reported_and_run_once(tmp_path: Path) -> None:
    name = f"dq_models_{uuid.uuid4().hex}"
    marker = tmp_path / "runs.txt"
    (tmp_path / f"{name}.py").write_text(
        f"with open({str(marker)!r}, 'a') as fh:\n"
        "    fh.write('x')\n"
        "import dq_missing_dependency_xyz\n"
    )
    with pytest.raises(SchemaCompileError, match="dq_missing_dependency_xyz"):
        load_model(f"{name}:Event", tmp_path)
    assert marker.read_text() == "x"  # found via the folder once, never re-run
    assert name not in sys.modules

    broken = f"dq_models_{uuid.uuid4().hex}"
    (tmp_path / f"{broken}.py").write_text("raise RuntimeError('boom at import')\n")
    with pytest.raises(SchemaCompileError, match="RuntimeError: boom at import"):
        load_model(f"{broken}:Event", tmp_path)


@pytest.mark.parametrize(
    ("target", "fragment"),
    [
        (f"{FIXTURES}:NotAModel", "not a pydantic BaseModel subclass"),
        (f"{FIXTURES}:NOT_A_CLASS", "not a pydantic BaseModel subclass"),
        (f"{FIXTURES}:Missing", "has no attribute 'Missing'"),
        ("justaname", "must be written"),
        (f"{FIXTURES}:", "must be written"),
    ],
)
def test_bad_model_references(target: str, fragment: str) -> None:
    with pytest.raises(SchemaCompileError, match=fragment):
        load_model(target, REPO_ROOT)


def test_model_with_undefined_forward_reference(tmp_path: Path) -> None:
    name = f"dq_models_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(
        "from __future__ import annotations\n"
        "from pydantic import BaseModel\n"
        "class Broken(BaseModel):\n"
        "    other: Undefined\n"
    )
    with pytest.raises(SchemaCompileError, match="does not build a validator"):
        compile_model(spec_for(f"{name}:Broken"), CompileOptions(base_dir=tmp_path))


def test_spec_without_model_is_refused() -> None:
    spec = ContractSpec(name="x", version=V1, schema_file="x.json")
    with pytest.raises(SchemaCompileError, match="needs 'model"):
        compile_model(spec, CompileOptions())


# -- decode ---------------------------------------------------------------------------------


def test_decode_is_strict_json(make_validator: MakeValidator) -> None:
    validator = make_validator("Order")
    assert validator.decode(b'{"a": 1}') == {"a": 1}
    with pytest.raises(DecodeFailure):
        validator.decode(b'{"a": 1,}')
    with pytest.raises(DecodeFailure):
        validator.decode(b"\xff")


# -- validation -----------------------------------------------------------------------------


def test_valid_record(make_validator: MakeValidator) -> None:
    validator = make_validator("Order")
    assert validator.is_valid(VALID_ORDER)
    assert validator.violations(VALID_ORDER) == []


def test_number_is_never_a_string(make_validator: MakeValidator) -> None:
    validator = make_validator("Order")
    record = {"order_id": "o-1", "name": 123, "quantity": 1}
    assert not validator.is_valid(record)
    [violation] = validator.violations(record)
    assert violation.path == "/name"
    assert violation.keyword == "string_type"
    assert violation.code is ErrorCode.SCHEMA_VIOLATION
    assert violation.message == "Input should be a valid string"


def test_lax_mode_accepts_numeric_strings(make_validator: MakeValidator) -> None:
    validator = make_validator("Order")
    assert validator.is_valid({"order_id": "o", "name": "n", "quantity": "5"})
    [violation] = validator.violations({"order_id": "o", "name": "n", "quantity": "five"})
    assert (violation.path, violation.keyword) == ("/quantity", "int_parsing")


def test_strict_model_config_is_honoured(make_validator: MakeValidator) -> None:
    validator = make_validator("StrictOrder")
    found = by_path(validator.violations({"order_id": "1", "quantity": "5", "extra": 1}))
    assert found == {"/quantity": "int_type", "/extra": "extra_forbidden"}


def test_every_error_is_collected_with_pointers(make_validator: MakeValidator) -> None:
    validator = make_validator("Order")
    record = {
        "name": 123,
        "address": 5,
        "items": [{"qty": 0}, {"sku": "a", "qty": "x"}],
        "meta": {"a": "x"},
    }
    found = [(v.path, v.keyword) for v in validator.violations(record)]
    assert found == [
        ("/order_id", "missing"),
        ("/name", "string_type"),
        ("/quantity", "missing"),
        ("/items/0/sku", "missing"),
        ("/items/0/qty", "greater_than"),
        ("/items/1/qty", "int_parsing"),
        ("/address", "model_type"),
        ("/meta/a", "int_parsing"),
    ]


def test_union_and_discriminator_labels_are_left_out(make_validator: MakeValidator) -> None:
    validator = make_validator("Pets")
    record = {
        "pets": [{"kind": "cat"}, {"kind": "fish"}, {"kind": "dog", "good": "maybe"}],
        "either": "x",
    }
    found = [(v.path, v.keyword) for v in validator.violations(record)]
    assert found == [
        ("/pets/0/lives", "missing"),
        ("/pets/1", "union_tag_invalid"),
        ("/pets/2/good", "bool_parsing"),
        ("/either", "int_parsing"),
        ("/either", "list_type"),
    ]


def test_alias_with_pointer_escapes(make_validator: MakeValidator) -> None:
    validator = make_validator("Aliased")
    [violation] = validator.violations({"a/b~c": "x"})
    assert violation.path == "/a~1b~0c"
    [missing] = validator.violations({})
    assert (missing.path, missing.keyword) == ("/a~1b~0c", "missing")


def test_model_level_validator_points_at_the_record(make_validator: MakeValidator) -> None:
    validator = make_validator("Range")
    [violation] = validator.violations({"low": 3, "high": 1})
    assert (violation.path, violation.keyword) == ("", "value_error")
    assert "low must not exceed high" in violation.message


def test_record_that_is_not_an_object(make_validator: MakeValidator) -> None:
    validator = make_validator("Order")
    values: list[Any] = [[], "x", 1, None]
    for value in values:
        assert not validator.is_valid(value)
        [violation] = validator.violations(value)
        assert (violation.path, violation.keyword) == ("", "model_type")


@pytest.mark.parametrize(
    ("x", "keyword", "fragment"),
    [
        (7, "value_error", "seven is not allowed"),
        (8, "assertion_error", "eight is not allowed"),
        (13, "model_error", "RuntimeError: unlucky"),
        (14, "model_error", "KeyError"),
    ],
)
def test_validators_that_raise_become_violations(
    make_validator: MakeValidator, x: int, keyword: str, fragment: str
) -> None:
    validator = make_validator("Touchy")
    assert not validator.is_valid({"x": x})
    [violation] = validator.violations({"x": x})
    assert violation.keyword == keyword
    assert fragment in violation.message
    assert violation.path == ("/x" if keyword != "model_error" else "")


def test_deeply_nested_recursive_model_does_not_crash(make_validator: MakeValidator) -> None:
    validator = make_validator("Node")
    value: dict[str, Any] = {"value": 1}
    for _ in range(3000):
        value = {"value": 1, "children": [value]}
    assert not validator.is_valid(value)
    [violation] = validator.violations(value)
    assert violation.keyword == "recursion_depth_exceeded"
    assert violation.path.startswith("/children/0/children/0")


def test_json_schema_of_the_model(make_validator: MakeValidator) -> None:
    schema = make_validator("Order").json_schema()
    assert schema is not None
    assert schema["properties"]["quantity"]["type"] == "integer"


@pytest.mark.parametrize(
    ("loc", "value", "missing", "expected"),
    [
        ((), {}, False, ""),
        (("a", 0, "b"), {"a": [{"b": 1}]}, False, "/a/0/b"),
        (("a", "int"), {"a": "x"}, False, "/a"),
        (("a", "function-after[f(), int]"), {"a": 1}, False, "/a"),
        (("a", "b"), {"a": {}}, True, "/a/b"),
        (("a", 5), {"a": [1]}, False, "/a"),
        (("m", 1), {"m": {"1": "x"}}, False, "/m/1"),
        (("a/b", "c~d"), {"a/b": {"c~d": 1}}, False, "/a~1b/c~0d"),
    ],
)
def test_loc_to_pointer(loc: tuple[Any, ...], value: Any, missing: bool, expected: str) -> None:
    assert loc_to_pointer(loc, value, missing=missing) == expected


# -- fuzz -----------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["order_id", "name", "quantity", "items", "x", "pets", "kind", "sku"])
            | st.text(max_size=4),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@pytest.mark.parametrize("cls_name", ["Order", "Pets", "Touchy", "Range", "Node", "StrictOrder"])
@settings(max_examples=150, deadline=None)
@given(value=json_values)
def test_fuzz_values_never_raise(make_validator: MakeValidator, cls_name: str, value: Any) -> None:
    validator = make_validator(cls_name)
    valid = validator.is_valid(value)
    found = validator.violations(value)
    assert valid == (found == [])
    for v in found:
        assert v.code is ErrorCode.SCHEMA_VIOLATION
        assert v.path == "" or v.path.startswith("/")


@settings(max_examples=300, deadline=None)
@given(x=st.integers(min_value=0, max_value=20) | st.text(max_size=3) | st.none())
def test_fuzz_touchy_validators(make_validator: MakeValidator, x: Any) -> None:
    validator = make_validator("Touchy")
    assert validator.is_valid({"x": x}) == (validator.violations({"x": x}) == [])


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=64))
def test_fuzz_decode_raises_only_decode_failure(make_validator: MakeValidator, raw: bytes) -> None:
    validator = make_validator("Order")
    try:
        value = validator.decode(raw)
    except DecodeFailure:
        return
    validator.violations(value)
