from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataquarantine.contracts.model import ContractSpec
from dataquarantine.errors import SchemaCompileError
from dataquarantine.kernel import pointers
from dataquarantine.kernel.results import ErrorCode, Violation
from dataquarantine.validation.base import KINDS, CompileOptions, DecodeFailure, Retriever
from dataquarantine.validation.jsonschema_kind import JsonSchemaValidator, compile_json_schema
from dataquarantine.validation.parsing import parse_json

DRAFT7 = "http://json-schema.org/draft-07/schema#"
DRAFT2020 = "https://json-schema.org/draft/2020-12/schema"

Compile = Callable[..., JsonSchemaValidator]


@pytest.fixture
def compile_schema() -> Compile:
    """Factory: compile a schema the way a contract would, optionally from a contract folder."""

    def make(
        schema: Any,
        *,
        base_dir: Path | None = None,
        retriever: Retriever | None = None,
        schema_file: str | None = None,
    ) -> JsonSchemaValidator:
        fields: dict[str, Any] = {"name": "t", "version": "1.0.0"}
        if schema_file is not None:
            fields["schema_file"] = schema_file
        else:
            fields["schema"] = schema if isinstance(schema, (dict, bool)) else {}
        if base_dir is not None:
            fields["source_path"] = base_dir / "contract.yaml"
        spec = ContractSpec.model_validate(fields)
        options = CompileOptions(schema=schema, base_dir=base_dir, retriever=retriever)
        validator = compile_json_schema(spec, options)
        assert isinstance(validator, JsonSchemaValidator)
        return validator

    return make


def paths(violations: list[Violation]) -> list[str]:
    return [v.path for v in violations]


def keywords(violations: list[Violation]) -> list[str | None]:
    return [v.keyword for v in violations]


# -- registration, decoding, hot path ---------------------------------------------------------


def test_registered_as_json_schema_kind() -> None:
    assert KINDS["json_schema"] is compile_json_schema


def test_decode_is_strict_json(compile_schema: Compile) -> None:
    v = compile_schema({"type": "object"})
    assert v.decode is parse_json
    assert v.decode(b'{"a": 1}') == {"a": 1}
    with pytest.raises(DecodeFailure):
        v.decode(b"{'a': 1}")


def test_is_valid_is_the_native_bound_method(compile_schema: Compile) -> None:
    v = compile_schema({"type": "integer"})
    assert type(v.is_valid).__name__ == "builtin_function_or_method"
    assert v.is_valid(3) is True
    assert v.is_valid("3") is False


# -- drafts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "draft"),
    [
        (None, "draft2020-12"),
        ("http://json-schema.org/draft-04/schema#", "draft4"),
        ("http://json-schema.org/draft-06/schema#", "draft6"),
        (DRAFT7, "draft7"),
        ("http://json-schema.org/draft-07/schema", "draft7"),
        ("https://json-schema.org/draft/2019-09/schema", "draft2019-09"),
        (DRAFT2020, "draft2020-12"),
        (DRAFT2020 + "#", "draft2020-12"),
    ],
)
def test_draft_from_dollar_schema(compile_schema: Compile, uri: str | None, draft: str) -> None:
    schema: dict[str, Any] = {"type": "string"}
    if uri is not None:
        schema["$schema"] = uri
    assert compile_schema(schema).draft == draft


def test_draft7_semantics(compile_schema: Compile) -> None:
    v = compile_schema(
        {
            "$schema": DRAFT7,
            "items": [{"type": "integer"}],
            "additionalItems": False,
            "dependencies": {"a": ["b"]},
        }
    )
    assert v.is_valid([1])
    assert not v.is_valid(["x"])
    out = v.violations([1, 2, 3])
    assert paths(out) == ["/1", "/2"]
    assert keywords(out) == ["additionalItems", "additionalItems"]
    out = v.violations({"a": 1})
    assert paths(out) == ["/b"]
    assert keywords(out) == ["dependencies"]


def test_2020_12_rejects_draft7_tuple_items(compile_schema: Compile) -> None:
    with pytest.raises(SchemaCompileError, match="/items"):
        compile_schema({"items": [{"type": "integer"}]})


def test_boolean_schemas(compile_schema: Compile) -> None:
    assert compile_schema(True).is_valid({"anything": 1})
    v = compile_schema(False)
    assert not v.is_valid(1)
    assert paths(v.violations(1)) == [""]


def test_unknown_dollar_schema_fails(compile_schema: Compile) -> None:
    with pytest.raises(SchemaCompileError, match=r"unknown \$schema 'http://example.com/my-meta'"):
        compile_schema({"$schema": "http://example.com/my-meta", "type": "string"})
    with pytest.raises(SchemaCompileError, match="URI string"):
        compile_schema({"$schema": 7})


def test_custom_meta_schema_from_the_retriever(compile_schema: Compile) -> None:
    meta_uri = "https://example.com/meta/strict"
    meta = {
        "$schema": DRAFT2020,
        "$id": meta_uri,
        "$vocabulary": {
            "https://json-schema.org/draft/2020-12/vocab/core": True,
            "https://json-schema.org/draft/2020-12/vocab/applicator": True,
            "https://json-schema.org/draft/2020-12/vocab/validation": True,
        },
        "$dynamicAnchor": "meta",
        "allOf": [
            {"$ref": "https://json-schema.org/draft/2020-12/meta/core"},
            {"$ref": "https://json-schema.org/draft/2020-12/meta/applicator"},
            {"$ref": "https://json-schema.org/draft/2020-12/meta/validation"},
        ],
    }
    asked: list[str] = []

    def retriever(uri: str) -> Any:
        asked.append(uri)
        if uri == meta_uri:
            return meta
        raise LookupError(uri)

    v = compile_schema({"$schema": meta_uri, "type": "integer"}, retriever=retriever)
    assert asked[0] == meta_uri
    assert v.draft == "draft2020-12"
    assert v.is_valid(3)
    assert not v.is_valid("3")


def test_custom_meta_schema_follows_its_own_draft(compile_schema: Compile) -> None:
    meta_uri = "https://example.com/meta/draft7-strict"
    meta = {"$schema": DRAFT7, "$id": meta_uri, "allOf": [{"$ref": DRAFT7}]}
    v = compile_schema(
        {"$schema": meta_uri, "items": [{"type": "integer"}], "additionalItems": False},
        retriever=lambda uri: meta,
    )
    assert v.draft == "draft7"
    assert v.is_valid([1])
    assert not v.is_valid([1, 2])


# -- invalid schemas --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "where"),
    [
        ({"type": "strin"}, "/type"),
        ({"minimum": "x"}, "/minimum"),
        ({"required": "user_id"}, "/required"),
        ({"properties": {"a": {"maxLength": -1}}}, "/properties/a/maxLength"),
        ({"pattern": "(("}, "/pattern"),
        ({"patternProperties": {"[": {}}}, "/patternProperties"),
        ({"$ref": "#/$defs/missing"}, "missing"),
    ],
)
def test_invalid_schema_fails_at_compile_time(
    compile_schema: Compile, tmp_path: Path, schema: dict[str, Any], where: str
) -> None:
    with pytest.raises(SchemaCompileError) as info:
        compile_schema(schema, base_dir=tmp_path)
    assert where in info.value.problem
    assert info.value.source == str(tmp_path / "contract.yaml")


@pytest.mark.parametrize("schema", [3, "string", None, [{"type": "string"}]])
def test_a_schema_is_an_object_or_a_boolean(compile_schema: Compile, schema: Any) -> None:
    with pytest.raises(SchemaCompileError, match="object or a boolean"):
        compile_schema(schema)


def test_compile_error_chains_the_library_error(compile_schema: Compile) -> None:
    with pytest.raises(SchemaCompileError) as info:
        compile_schema({"type": "strin"})
    assert info.value.__cause__ is not None


# -- formats ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "good", "bad"),
    [
        ("date-time", "2024-01-01T10:00:00Z", "2024-01-01"),
        ("date-time", "2024-01-01T10:00:00+02:00", "2024-01-01T10:00:00"),
        ("date", "2024-02-29", "2023-02-29"),
        ("email", "ada@example.com", "ada.example.com"),
        ("ipv4", "192.168.0.1", "256.1.1.1"),
        ("uuid", "0b1c7c3e-4f7e-4d61-9d49-1b8d3b3f3a2e", "0b1c7c3e-4f7e"),
        ("uri", "https://example.com/a?b=c", "not a uri"),
    ],
)
def test_formats_are_asserted(compile_schema: Compile, fmt: str, good: str, bad: str) -> None:
    v = compile_schema({"type": "string", "format": fmt})
    assert v.is_valid(good)
    assert not v.is_valid(bad)
    [violation] = v.violations(bad)
    assert violation.keyword == "format"
    assert violation.path == ""


def test_formats_are_asserted_in_draft7(compile_schema: Compile) -> None:
    v = compile_schema({"$schema": DRAFT7, "format": "date-time"})
    assert not v.is_valid("2024-01-01")


@pytest.mark.parametrize("fmt", ["date_time", "int64", "phone"])
def test_unknown_format_fails_naming_it(compile_schema: Compile, fmt: str) -> None:
    schema = {"properties": {"at": {"type": "string", "format": fmt}}}
    with pytest.raises(SchemaCompileError, match=rf"unknown format '{fmt}' at /properties/at"):
        compile_schema(schema)


def test_format_of_a_later_draft_gets_a_hint(compile_schema: Compile) -> None:
    with pytest.raises(SchemaCompileError, match="later draft"):
        compile_schema({"$schema": DRAFT7, "format": "uuid"})


# -- $ref -------------------------------------------------------------------------------------


def write_json(path: Path, doc: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc), encoding="utf-8")


def test_relative_ref_reads_a_file_in_the_contract_folder(
    compile_schema: Compile, tmp_path: Path
) -> None:
    write_json(tmp_path / "defs" / "address.json", {"$ref": "zip.json#/$defs/zip"})
    write_json(tmp_path / "defs" / "zip.json", {"$defs": {"zip": {"pattern": "^[0-9]{5}$"}}})
    schema = {"properties": {"address": {"$ref": "defs/address.json"}}}
    v = compile_schema(schema, base_dir=tmp_path)
    assert v.is_valid({"address": "12345"})
    out = v.violations({"address": "1234x"})
    assert paths(out) == ["/address"]
    assert keywords(out) == ["pattern"]


def test_relative_ref_to_a_yaml_file(compile_schema: Compile, tmp_path: Path) -> None:
    (tmp_path / "sku.yaml").write_text("type: string\nminLength: 3\n", encoding="utf-8")
    v = compile_schema({"$ref": "sku.yaml"}, base_dir=tmp_path)
    assert v.is_valid("abc")
    assert not v.is_valid("ab")


def test_schema_file_refs_resolve_against_the_schema_file(
    compile_schema: Compile, tmp_path: Path
) -> None:
    write_json(tmp_path / "schemas" / "id.json", {"type": "integer"})
    schema = {"properties": {"id": {"$ref": "id.json"}}}
    write_json(tmp_path / "schemas" / "order.json", schema)
    v = compile_schema(schema, base_dir=tmp_path, schema_file="schemas/order.json")
    assert v.is_valid({"id": 1})
    assert not v.is_valid({"id": "1"})


@pytest.mark.parametrize("ref", ["../outside.json", "sub/../../outside.json"])
def test_refs_escaping_the_contract_folder_are_refused(
    compile_schema: Compile, tmp_path: Path, ref: str
) -> None:
    contract_dir = tmp_path / "contracts"
    contract_dir.mkdir()
    write_json(tmp_path / "outside.json", {"type": "string"})
    with pytest.raises(SchemaCompileError, match="outside the contract's folder"):
        compile_schema({"$ref": ref}, base_dir=contract_dir)


def test_absolute_file_ref_outside_is_refused(compile_schema: Compile, tmp_path: Path) -> None:
    contract_dir = tmp_path / "contracts"
    contract_dir.mkdir()
    write_json(tmp_path / "secret.json", {"type": "string"})
    ref = (tmp_path / "secret.json").as_uri()
    with pytest.raises(SchemaCompileError, match="outside the contract's folder"):
        compile_schema({"$ref": ref}, base_dir=contract_dir)


def test_missing_and_broken_ref_files(compile_schema: Compile, tmp_path: Path) -> None:
    with pytest.raises(SchemaCompileError, match="cannot be read"):
        compile_schema({"$ref": "nope.json"}, base_dir=tmp_path)
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(SchemaCompileError, match="not a valid JSON/YAML document"):
        compile_schema({"$ref": "bad.json"}, base_dir=tmp_path)


def test_relative_ref_without_a_contract_folder(compile_schema: Compile) -> None:
    with pytest.raises(SchemaCompileError, match="no folder"):
        compile_schema({"$ref": "address.json"})


def test_remote_ref_is_never_fetched(compile_schema: Compile, tmp_path: Path) -> None:
    with pytest.raises(SchemaCompileError, match=r"remote \$ref .* is not fetched"):
        compile_schema({"$ref": "https://schemas.example.com/user.json"}, base_dir=tmp_path)


def test_remote_ref_goes_to_the_retriever(compile_schema: Compile) -> None:
    asked: list[str] = []

    def retriever(uri: str) -> Any:
        asked.append(uri)
        return {"type": "string", "maxLength": 3}

    v = compile_schema({"$ref": "https://schemas.example.com/code.json"}, retriever=retriever)
    assert asked == ["https://schemas.example.com/code.json"]
    assert v.is_valid("abc")
    assert not v.is_valid("abcd")


def test_relative_ref_under_an_absolute_id_is_remote(compile_schema: Compile) -> None:
    asked: list[str] = []

    def retriever(uri: str) -> Any:
        asked.append(uri)
        return {"type": "integer"}

    schema = {"$id": "https://schemas.example.com/order.json", "$ref": "id.json"}
    assert compile_schema(schema, retriever=retriever).is_valid(3)
    assert asked == ["https://schemas.example.com/id.json"]


def test_a_refusing_retriever_is_reported(compile_schema: Compile) -> None:
    def retriever(uri: str) -> Any:
        raise PermissionError("not on the allow-list")

    with pytest.raises(SchemaCompileError, match="not on the allow-list"):
        compile_schema({"$ref": "https://schemas.example.com/x.json"}, retriever=retriever)


# -- violations -------------------------------------------------------------------------------

USER_EVENT = {
    "type": "object",
    "required": ["user_id", "event", "address"],
    "additionalProperties": False,
    "properties": {
        "user_id": {"type": "string", "pattern": "^USER[0-9]{6}$"},
        "event": {"enum": ["signup", "login"]},
        "at": {"type": "string", "format": "date-time"},
        "address": {
            "type": "object",
            "required": ["zip", "city"],
            "properties": {"zip": {"type": "string"}, "city": {"type": "string"}},
        },
        "items": {
            "type": "array",
            "items": {"type": "object", "properties": {"qty": {"type": "integer", "minimum": 1}}},
        },
    },
}


def test_every_violation_with_pointer_and_keyword(compile_schema: Compile) -> None:
    v = compile_schema(USER_EVENT)
    record = {
        "user_id": "user1",
        "at": "2024-01-01",
        "address": {"zip": 12345},
        "items": [{"qty": 1}, {"qty": 0}],
        "extra": True,
    }
    out = v.violations(record)
    assert all(x.code is ErrorCode.SCHEMA_VIOLATION for x in out)
    found = sorted(zip(paths(out), keywords(out), strict=True))
    assert found == [
        ("/address/city", "required"),
        ("/address/zip", "type"),
        ("/at", "format"),
        ("/event", "required"),
        ("/extra", "additionalProperties"),
        ("/items/1/qty", "minimum"),
        ("/user_id", "pattern"),
    ]
    assert not v.is_valid(record)


def test_one_violation_per_missing_property(compile_schema: Compile) -> None:
    v = compile_schema(USER_EVENT)
    out = v.violations({})
    assert paths(out) == ["/user_id", "/event", "/address"]
    assert out[0].message == '"user_id" is a required property'


def test_pointer_escapes_tilde_and_slash(compile_schema: Compile) -> None:
    v = compile_schema(
        {
            "required": ["a/b", "c~d"],
            "properties": {"x/y": {"properties": {"m~n": {"type": "string"}}}},
        }
    )
    out = v.violations({"x/y": {"m~n": 1}})
    assert sorted(paths(out)) == ["/a~1b", "/c~0d", "/x~1y/m~0n"]
    assert pointers.join(["a/b", 0, "~"]) == "/a~1b/0/~0"


def test_dependent_required(compile_schema: Compile) -> None:
    v = compile_schema({"dependentRequired": {"card": ["cvv", "expiry"]}})
    out = v.violations({"card": "4111"})
    assert paths(out) == ["/cvv", "/expiry"]
    assert keywords(out) == ["dependentRequired", "dependentRequired"]


@pytest.mark.parametrize(
    "schema",
    [
        {"properties": {"a": {}}, "additionalProperties": False},
        # jsonschema-rs reports a bare ``additionalProperties: false`` once, at the object.
        {"type": "object", "additionalProperties": False},
        {"properties": {"a": {}}, "unevaluatedProperties": False},
    ],
)
def test_one_violation_per_unexpected_property(
    compile_schema: Compile, schema: dict[str, Any]
) -> None:
    v = compile_schema({"properties": {"o": schema}})
    record = {"o": {"b": 1, "c/d": {"deep": 1}}} if "properties" in schema else {"o": {"b": 1}}
    out = v.violations(record)
    expected = ["/o/b", "/o/c~1d"] if "properties" in schema else ["/o/b"]
    assert sorted(paths(out)) == expected
    keyword = next(k for k in schema if k.endswith("Properties"))
    assert set(keywords(out)) == {keyword}


def test_bare_additional_properties_false_lists_each_member(compile_schema: Compile) -> None:
    v = compile_schema({"additionalProperties": False})
    out = v.violations({"a": {"x": 1}, "b": 2})
    assert sorted(paths(out)) == ["/a", "/b"]
    assert set(keywords(out)) == {"additionalProperties"}
    assert out[0].message.startswith("additional property")


def test_unevaluated_items_and_items_false(compile_schema: Compile) -> None:
    v = compile_schema({"prefixItems": [{"type": "integer"}], "items": False})
    out = v.violations([1, "a", "b"])
    assert paths(out) == ["/1", "/2"]
    assert set(keywords(out)) == {"items"}
    v = compile_schema({"prefixItems": [{}], "unevaluatedItems": False})
    out = v.violations([1, 2, 3])
    assert paths(out) == [""]
    assert keywords(out) == ["unevaluatedItems"]


def test_property_names_point_at_the_property(compile_schema: Compile) -> None:
    v = compile_schema({"propertyNames": {"pattern": "^[a-z_]+$"}})
    out = v.violations({"ok": 1, "Bad-Name": 2})
    assert paths(out) == ["/Bad-Name"]
    assert keywords(out) == ["propertyNames"]
    assert "Bad-Name" in out[0].message


def test_false_subschema_keyword(compile_schema: Compile) -> None:
    v = compile_schema({"properties": {"legacy": False}})
    [violation] = v.violations({"legacy": 1})
    assert (violation.path, violation.keyword) == ("/legacy", "properties")


def test_long_messages_are_shortened_keeping_the_reason(compile_schema: Compile) -> None:
    v = compile_schema({"type": "string", "pattern": "^[a-z]{3}$"})
    [violation] = v.violations("x" * 10_000)
    assert len(violation.message) <= 300
    assert violation.message.endswith('does not match "^[a-z]{3}$"')
    [violation] = compile_schema({"type": "string"}).violations({"k": "v" * 5_000})
    assert len(violation.message) <= 300
    assert violation.message.endswith('is not of type "string"')


def test_non_json_values_become_a_violation(compile_schema: Compile) -> None:
    v = compile_schema({"type": "object"})
    [violation] = v.violations({1: "int key"})
    assert violation.path == ""
    assert violation.code is ErrorCode.SCHEMA_VIOLATION
    assert len(v.violations({1, 2})) == 1


# -- accuracy traps ---------------------------------------------------------------------------


def test_dollar_does_not_match_before_a_trailing_newline(compile_schema: Compile) -> None:
    v = compile_schema({"type": "string", "pattern": "^USER[0-9]{6}$"})
    assert v.is_valid("USER123456")
    assert not v.is_valid("USER123456\n")
    assert paths(v.violations("USER123456\n")) == [""]
    record = v.decode(b'"USER123456\\n"')
    assert not v.is_valid(record)


@pytest.mark.parametrize(
    "value", ["2024-01-01", "2024-01-01T10:00:00", "2024-01-01 10:00:00Z", "10:00:00Z"]
)
def test_incomplete_date_times_fail(compile_schema: Compile, value: str) -> None:
    v = compile_schema({"type": "string", "format": "date-time"})
    assert not v.is_valid(value)
    assert keywords(v.violations(value)) == ["format"]


def test_a_number_is_never_a_string(compile_schema: Compile) -> None:
    v = compile_schema({"properties": {"id": {"type": "string"}, "n": {"type": "integer"}}})
    record = v.decode(b'{"id": 12345, "n": "7"}')
    assert not v.is_valid(record)
    out = v.violations(record)
    assert sorted(zip(paths(out), keywords(out), strict=True)) == [("/id", "type"), ("/n", "type")]
    assert record == {"id": 12345, "n": "7"}  # nothing was coerced
    assert type(record["id"]) is int


def test_huge_integers_are_exact(compile_schema: Compile) -> None:
    big = 10**30
    v = compile_schema({"type": "integer", "maximum": big})
    assert v.is_valid(big)
    assert not v.is_valid(big + 1)
    assert not v.is_valid(v.decode(b"1000000000000000000000000000001"))
    assert v.is_valid(v.decode(b"1000000000000000000000000000000"))
    c = compile_schema({"const": big + 1})
    assert c.is_valid(big + 1)
    assert not c.is_valid(big)
    assert paths(c.violations({"x": 1})) == [""]


def nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def test_deep_nesting_does_not_crash(compile_schema: Compile) -> None:
    v = compile_schema({"type": "array", "items": {"$ref": "#"}})
    s = compile_schema({"type": "string"})
    # The decoder refuses absurd nesting outright.
    with pytest.raises(DecodeFailure):
        v.decode(b"[" * 100_000 + b"]" * 100_000)
    decoded = v.decode(b"[" * 1000 + b"1" + b"]" * 1000)
    assert not v.is_valid(decoded)
    assert v.violations(decoded)  # the leaf 1 is not an array
    assert not s.is_valid(decoded)
    assert len(s.violations(decoded)) == 1  # too deep to echo: reported whole, not raised
    # Values built in memory can nest deeper than any decoded record.
    [violation] = v.violations(nested(100_000))
    assert "deeper than" in violation.message


def test_float_edge_cases(compile_schema: Compile) -> None:
    v = compile_schema({"type": "number", "multipleOf": 0.01, "maximum": 1e308})
    assert v.is_valid(19.99)
    assert not v.is_valid(19.999)
    assert compile_schema({"type": "integer"}).is_valid(1.0)  # JSON Schema: 1.0 is an integer
    assert not compile_schema({"type": "integer"}).is_valid(math.pi)


# -- property: is_valid and violations always agree -------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.sampled_from(["id", "name", "tags", "a/b", "m~n", "x", "at", "n"])
            | st.text(max_size=5),
            children,
            max_size=5,
        )
    ),
    max_leaves=25,
)

PROPERTY_SCHEMAS: list[Any] = [
    USER_EVENT,
    {
        "type": "object",
        "required": ["id"],
        "properties": {
            "id": {"type": "integer", "minimum": 0, "maximum": 10**30},
            "name": {"type": "string", "minLength": 1, "pattern": "^[A-Za-z ]+$"},
            "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
            "at": {"type": "string", "format": "date-time"},
        },
        "propertyNames": {"maxLength": 4},
        "dependentRequired": {"name": ["tags"]},
        "unevaluatedProperties": False,
        "anyOf": [{"required": ["name"]}, {"required": ["tags"]}, {"type": "object"}],
    },
    {
        "$schema": DRAFT7,
        "type": ["array", "object", "null"],
        "items": [{"type": "number"}, {"type": "string"}],
        "additionalItems": {"type": "boolean"},
        "contains": {"type": "number"},
        "dependencies": {"a/b": ["m~n"], "x": {"required": ["n"]}},
        "additionalProperties": False,
        "oneOf": [{"type": "array"}, {"maxProperties": 2}],
    },
    {"not": {"type": "object"}, "items": {"$ref": "#"}, "const": [[]]},
]


PROPERTY_VALIDATORS = [
    compile_json_schema(
        ContractSpec.model_validate({"name": "p", "version": "1.0.0", "schema": schema}),
        CompileOptions(schema=schema),
    )
    for schema in PROPERTY_SCHEMAS
]


@pytest.mark.parametrize("validator", PROPERTY_VALIDATORS, ids=range(len(PROPERTY_SCHEMAS)))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=JSON_VALUES)
def test_is_valid_agrees_with_violations(validator: JsonSchemaValidator, value: Any) -> None:
    valid = validator.is_valid(value)
    out = validator.violations(value)
    assert valid == (out == [])
    for violation in out:
        assert violation.path == "" or violation.path.startswith("/")
        assert violation.code is ErrorCode.SCHEMA_VIOLATION
        assert len(violation.message) <= 300
