from __future__ import annotations

import io
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastavro
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataquarantine.contracts.model import ContractSpec
from dataquarantine.contracts.version import Version
from dataquarantine.errors import SchemaCompileError
from dataquarantine.kernel.results import ErrorCode, Violation
from dataquarantine.validation.avro_kind import MAX_SCHEMA_DEPTH, AvroValidator, compile_avro
from dataquarantine.validation.base import KINDS, CompileOptions, DecodeFailure

V1 = Version.parse("1.0.0")
MakeAvro = Callable[..., AvroValidator]

ORDER: dict[str, Any] = {
    "type": "record",
    "name": "Order",
    "namespace": "com.acme",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "sku", "type": "string"},
        {"name": "qty", "type": "int"},
        {"name": "price", "type": "double"},
        {"name": "weight", "type": "float"},
        {"name": "paid", "type": "boolean"},
        {
            "name": "status",
            "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID", "SHIPPED"]},
        },
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "attrs", "type": {"type": "map", "values": "long"}},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "hash", "type": {"type": "fixed", "name": "Hash", "size": 4}},
        {"name": "blob", "type": "bytes", "default": ""},
        {
            "name": "address",
            "type": [
                "null",
                {
                    "type": "record",
                    "name": "Address",
                    "fields": [
                        {"name": "city", "type": "string"},
                        {"name": "zip", "type": "string"},
                    ],
                },
            ],
            "default": None,
        },
        {
            "name": "lines",
            "type": {
                "type": "array",
                "items": {
                    "type": "record",
                    "name": "Line",
                    "fields": [
                        {"name": "sku", "type": "string"},
                        {"name": "n", "type": "int"},
                        {"name": "ship_to", "type": ["null", "Address"], "default": None},
                    ],
                },
            },
        },
        {"name": "amount", "type": ["int", "string", "Address"]},
    ],
}

VALID_ORDER: dict[str, Any] = {
    "id": 2**40,
    "sku": "A-1",
    "qty": 3,
    "price": 9.5,
    "weight": 1.25,
    "paid": True,
    "status": "PAID",
    "tags": ["x", "y"],
    "attrs": {"a": 1, "b": -(2**62)},
    "note": None,
    "day": 19000,
    "hash": "\x00\xffab",
    "blob": "",
    "address": {"city": "Paris", "zip": "75001"},
    "lines": [{"sku": "B", "n": 1, "ship_to": None}, {"sku": "C", "n": 2}],
    "amount": 5,
}

# The same record as binary input takes it: bytes for ``fixed`` and ``bytes``.
BINARY_ORDER: dict[str, Any] = VALID_ORDER | {"hash": b"\x00\xffab", "blob": b""}

# Recursive: read by the strict reader. Holds every type so the reader is fully exercised.
TREE: dict[str, Any] = {
    "type": "record",
    "name": "Tree",
    "fields": [
        {"name": "value", "type": "long"},
        {"name": "small", "type": "int"},
        {"name": "label", "type": "string"},
        {"name": "flag", "type": "boolean"},
        {"name": "ratio", "type": "float"},
        {"name": "score", "type": "double"},
        {"name": "data", "type": "bytes"},
        {"name": "fx", "type": {"type": "fixed", "name": "Fx", "size": 2}},
        {"name": "color", "type": {"type": "enum", "name": "Color", "symbols": ["R", "G", "B"]}},
        {"name": "attrs", "type": {"type": "map", "values": "int"}},
        {"name": "maybe", "type": ["null", "string"]},
        {"name": "children", "type": {"type": "array", "items": "Tree"}},
        {"name": "next", "type": ["null", "Tree"], "default": None},
    ],
}

LINKED: dict[str, Any] = {
    "type": "record",
    "name": "Node",
    "fields": [
        {"name": "value", "type": "int"},
        {"name": "next", "type": ["null", "Node"], "default": None},
    ],
}

NULLS: dict[str, Any] = {"type": "array", "items": "null"}
EMPTY_RECORDS: dict[str, Any] = {
    "type": "array",
    "items": {"type": "record", "name": "Nothing", "fields": []},
}


def spec_for(**extra: Any) -> ContractSpec:
    return ContractSpec(name="orders", version=V1, format="avro", schema_file="x.avsc", **extra)


@pytest.fixture(scope="module")
def make_avro() -> MakeAvro:
    def make(schema: Any, **extra: Any) -> AvroValidator:
        validator = compile_avro(spec_for(**extra), CompileOptions(schema=schema))
        assert isinstance(validator, AvroValidator)
        return validator

    return make


def write(schema: Any, record: Any) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return out.getvalue()


def framed(schema_id: int, body: bytes) -> bytes:
    return b"\x00" + schema_id.to_bytes(4, "big") + body


def zigzag(n: int) -> bytes:
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while True:
        b = z & 0x7F
        z >>= 7
        if z:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def paths(found: list[Violation]) -> list[tuple[str, str | None]]:
    return [(v.path, v.keyword) for v in found]


def tree(depth: int = 0) -> dict[str, Any]:
    return {
        "value": -(2**63),
        "small": 2**31 - 1,
        "label": "héllo",
        "flag": False,
        "ratio": 0.5,
        "score": -1e300,
        "data": b"\x00\x01",
        "fx": b"ab",
        "color": "B",
        "attrs": {"k": -5},
        "maybe": "m",
        "children": [tree(depth - 1)] if depth > 0 else [],
        "next": tree(depth - 1) if depth > 0 else None,
    }


# -- compile --------------------------------------------------------------------------------


def test_registered_as_avro_kind() -> None:
    assert KINDS["avro"] is compile_avro


@pytest.mark.parametrize(
    ("schema", "fragment"),
    [
        ({"type": "foo"}, "unknown type"),
        ({"type": "fixed", "name": "F"}, "missing attribute 'size'"),
        ({"type": "array"}, "missing attribute 'items'"),
        ({"type": "enum", "name": "E", "symbols": ["A", "A"]}, "unique"),
        (
            {
                "type": "record",
                "name": "R",
                "fields": [{"name": "a", "type": "int", "default": "x"}],
            },
            "Default value",
        ),
        (
            {
                "type": "record",
                "name": "R",
                "fields": [{"name": "a", "type": "int"}, {"name": "a", "type": "long"}],
            },
            r"repeats field\(s\) a",
        ),
        (["int", "int"], "lists int twice"),
        (["null", {"type": "int", "logicalType": "date"}, "int"], "lists int twice"),
        (["null", ["int"]], "directly contain a union"),
        ([], "at least one branch"),
        ({"type": "fixed", "name": "F", "size": -1}, "size >= 0"),
        (42, "not integer"),
        (None, "not null"),
        ({"type": "record", "name": "R", "fields": [{"name": "a", "type": "Nope"}]}, "Nope"),
    ],
)
def test_invalid_schemas(make_avro: MakeAvro, schema: Any, fragment: str) -> None:
    with pytest.raises(SchemaCompileError, match=fragment):
        make_avro(schema)


def test_compile_error_names_the_contract_file(tmp_path: Path) -> None:
    source = tmp_path / "orders.yaml"
    with pytest.raises(SchemaCompileError) as info:
        compile_avro(spec_for(source_path=source), CompileOptions(schema={"type": "foo"}))
    assert info.value.source == str(source)
    assert isinstance(info.value.__cause__, Exception)
    with pytest.raises(SchemaCompileError) as info2:
        compile_avro(spec_for(source_path=source), CompileOptions(schema=["int", "int"]))
    assert info2.value.source == str(source)


def test_schema_nesting_limit(make_avro: MakeAvro) -> None:
    schema: Any = "int"
    for _ in range(MAX_SCHEMA_DEPTH):
        schema = {"type": "array", "items": schema}
    with pytest.raises(SchemaCompileError, match="nests deeper"):
        make_avro(schema)


# -- binary ---------------------------------------------------------------------------------


def test_binary_roundtrip(make_avro: MakeAvro) -> None:
    validator = make_avro(ORDER, avro_encoding="binary")
    value = validator.decode(write(ORDER, BINARY_ORDER))
    expected = BINARY_ORDER | {
        "lines": [{"sku": "B", "n": 1, "ship_to": None}, {"sku": "C", "n": 2, "ship_to": None}],
    }
    assert value == expected
    assert value["day"] == 19000  # logical types keep their underlying value
    assert validator.is_valid(value)
    # Checked for real the second time, and still valid (bytes are accepted for bytes/fixed).
    assert validator.is_valid(value)
    assert validator.violations(value) == []


def test_binary_value_changed_after_decoding_is_checked(make_avro: MakeAvro) -> None:
    validator = make_avro(ORDER, avro_encoding="binary")
    value = validator.decode(write(ORDER, BINARY_ORDER))
    assert validator.is_valid(value)
    value["qty"] = "three"
    assert not validator.is_valid(value)
    assert paths(validator.violations(value)) == [("/qty", "type")]


def test_recursive_roundtrip_with_every_type(make_avro: MakeAvro) -> None:
    validator = make_avro(TREE, avro_encoding="binary")
    record = tree(3)
    value = validator.decode(write(TREE, record))
    assert value == record
    assert validator.violations(value) == []


def test_top_level_non_record_schemas(make_avro: MakeAvro) -> None:
    validator = make_avro(["null", "long", {"type": "array", "items": "int"}])
    assert validator.decode(b"\x02" + zigzag(-7)) == -7
    assert validator.decode(write(["null", "long", {"type": "array", "items": "int"}], [1, 2])) == [
        1,
        2,
    ]
    scalar = make_avro("string", avro_encoding="binary")
    assert scalar.decode(b"\x06abc") == "abc"


def test_trailing_bytes(make_avro: MakeAvro) -> None:
    for schema, record in ((ORDER, BINARY_ORDER), (TREE, tree(1))):
        validator = make_avro(schema, avro_encoding="binary")
        with pytest.raises(DecodeFailure, match="1 trailing bytes"):
            validator.decode(write(schema, record) + b"\x00")


def test_every_truncation_is_a_decode_failure(make_avro: MakeAvro) -> None:
    for schema, record in ((ORDER, BINARY_ORDER), (TREE, tree(1))):
        validator = make_avro(schema, avro_encoding="binary")
        raw = write(schema, record)
        for cut in range(len(raw)):
            with pytest.raises(DecodeFailure):
                validator.decode(raw[:cut])


@pytest.mark.parametrize("schema", [ORDER, TREE])
def test_huge_and_negative_lengths(make_avro: MakeAvro, schema: dict[str, Any]) -> None:
    # ORDER starts with a long then a string; TREE with a long, an int, then a string.
    validator = make_avro(schema, avro_encoding="binary")
    prefix = zigzag(1) if schema is ORDER else zigzag(1) + zigzag(1)
    for length in (2**62, 2**31, -1, -(2**62)):
        with pytest.raises(DecodeFailure):
            validator.decode(prefix + zigzag(length) + b"abc")


def test_huge_array_counts(make_avro: MakeAvro) -> None:
    strings = make_avro({"type": "array", "items": "string"}, avro_encoding="binary")
    with pytest.raises(DecodeFailure):
        strings.decode(zigzag(2**62) + b"\x02a")
    for schema in (NULLS, EMPTY_RECORDS):
        validator = make_avro(schema, avro_encoding="binary")
        assert validator.decode(zigzag(3) + b"\x00") in ([None] * 3, [{}] * 3)
        with pytest.raises(DecodeFailure, match="empty items"):
            validator.decode(zigzag(2**62) + b"\x00")
        with pytest.raises(DecodeFailure, match="empty items"):  # many blocks add up
            validator.decode(zigzag(900_000) + zigzag(900_000) + b"\x00")
        with pytest.raises(DecodeFailure):
            validator.decode(zigzag(-(2**62)) + zigzag(1) + b"\x00")


def test_deep_recursive_binary_is_a_decode_failure_not_a_crash(make_avro: MakeAvro) -> None:
    # fastavro's compiled reader overflows the C stack here (the process dies).
    validator = make_avro(LINKED, avro_encoding="binary")
    deep = (zigzag(1) + b"\x02") * 100_000 + zigzag(1) + b"\x00"
    with pytest.raises(DecodeFailure, match="nested too deeply"):
        validator.decode(deep)
    shallow = (zigzag(1) + b"\x02") * 50 + zigzag(1) + b"\x00"
    value = validator.decode(shallow)
    assert value["next"]["next"]["value"] == 1


def test_strict_reader_rejects_what_avro_forbids(make_avro: MakeAvro) -> None:
    validator = make_avro(LINKED, avro_encoding="binary")
    with pytest.raises(DecodeFailure, match="32 bits"):
        validator.decode(zigzag(2**31) + b"\x00")
    with pytest.raises(DecodeFailure, match="no branch #-1"):
        validator.decode(zigzag(1) + zigzag(-1))
    with pytest.raises(DecodeFailure, match="no branch #2"):
        validator.decode(zigzag(1) + zigzag(2))
    with pytest.raises(DecodeFailure, match="longer than 10 bytes"):
        validator.decode(b"\xff" * 11 + b"\x01\x00")
    tree_validator = make_avro(TREE, avro_encoding="binary")
    good = write(TREE, tree())
    # value (10 bytes), small (5), "héllo" (1 + 6): then the boolean byte.
    at = len(zigzag(-(2**63))) + len(zigzag(2**31 - 1)) + 1 + len("héllo".encode())
    assert good[at] == 0
    with pytest.raises(DecodeFailure, match="boolean byte 0x02"):
        tree_validator.decode(good[:at] + b"\x02" + good[at + 1 :])
    bad_utf8 = good.replace("héllo".encode(), b"h\xff\xfello")
    with pytest.raises(DecodeFailure, match="not UTF-8"):
        tree_validator.decode(bad_utf8)


# -- confluent framing ----------------------------------------------------------------------


def test_confluent_matching_schema_id(make_avro: MakeAvro) -> None:
    validator = make_avro(ORDER, avro_encoding="confluent", schema_id=42)
    value = validator.decode(framed(42, write(ORDER, BINARY_ORDER)))
    assert value["sku"] == "A-1"
    assert validator.is_valid(value)


def test_confluent_mismatching_schema_id(make_avro: MakeAvro) -> None:
    validator = make_avro(ORDER, avro_encoding="confluent", schema_id=42)
    with pytest.raises(DecodeFailure) as info:
        validator.decode(framed(7, write(ORDER, BINARY_ORDER)))
    assert info.value.message == "schema id 7 does not match contract schema_id 42"


def test_confluent_without_contract_schema_id_accepts_any(make_avro: MakeAvro) -> None:
    validator = make_avro(TREE, avro_encoding="confluent")
    assert validator.decode(framed(2**31 - 1, write(TREE, tree()))) == tree()


@pytest.mark.parametrize("raw", [b"", b"\x00\x00\x00\x01", b"\x01\x00\x00\x00\x01\x02"])
def test_confluent_bad_framing(make_avro: MakeAvro, raw: bytes) -> None:
    validator = make_avro(ORDER, avro_encoding="confluent")
    with pytest.raises(DecodeFailure, match="not Confluent wire format"):
        validator.decode(raw)


def test_confluent_body_errors(make_avro: MakeAvro) -> None:
    validator = make_avro(ORDER, avro_encoding="confluent", schema_id=1)
    body = write(ORDER, BINARY_ORDER)
    with pytest.raises(DecodeFailure, match="trailing"):
        validator.decode(framed(1, body + b"\x00\x00"))
    with pytest.raises(DecodeFailure, match="truncated"):
        validator.decode(framed(1, body[:-3]))


# -- auto detection -------------------------------------------------------------------------


def test_auto_detection(make_avro: MakeAvro) -> None:
    validator = make_avro(ORDER, schema_id=9)
    body = write(ORDER, BINARY_ORDER)
    assert validator.decode(framed(9, body))["id"] == 2**40
    with pytest.raises(DecodeFailure, match="schema id 1 does not match"):
        validator.decode(framed(1, body))
    as_json = validator.decode(b"  \n" + orjson.dumps(VALID_ORDER))
    assert as_json == VALID_ORDER
    assert validator.decode(body)["sku"] == "A-1"  # first byte 0x80: plain binary


def test_auto_binary_that_looks_like_json(make_avro: MakeAvro) -> None:
    schema = {"type": "record", "name": "R", "fields": [{"name": "a", "type": "long"}]}
    validator = make_avro(schema)
    assert zigzag(-62) == b"{"
    value = validator.decode(b"{")
    assert value == {"a": -62}
    assert validator.is_valid(value)
    with pytest.raises(DecodeFailure, match=r"invalid JSON.*not Avro binary either"):
        validator.decode(b'{"a": ')


def test_auto_json_values_are_checked(make_avro: MakeAvro) -> None:
    validator = make_avro(ORDER)
    value = validator.decode(orjson.dumps(VALID_ORDER | {"qty": "3"}))
    assert not validator.is_valid(value)
    assert paths(validator.violations(value)) == [("/qty", "type")]


# -- JSON records ---------------------------------------------------------------------------


def test_json_valid_record(make_avro: MakeAvro) -> None:
    validator = make_avro(ORDER, avro_encoding="json")
    value = validator.decode(orjson.dumps(VALID_ORDER))
    assert validator.is_valid(value)
    assert validator.violations(value) == []


def test_json_decode_failure(make_avro: MakeAvro) -> None:
    validator = make_avro(ORDER, avro_encoding="json")
    with pytest.raises(DecodeFailure, match="invalid JSON"):
        validator.decode(framed(1, b"\x02"))


def test_json_all_errors_collected(make_avro: MakeAvro) -> None:
    validator = make_avro(ORDER, avro_encoding="json")
    bad = {
        "id": "1",
        "qty": 2**31,
        "price": True,
        "weight": 1e39,
        "paid": 1,
        "status": "LOST",
        "tags": ["ok", 2, None],
        "attrs": {"a": 1.5, "b/c": 2**63},
        "note": 5,
        "day": 1.0,
        "hash": "abc",
        "blob": "snow☃",
        "address": {"city": "Paris"},
        "lines": [{"sku": "B", "n": 1, "ship_to": {"city": 1, "zip": "z"}}, "x"],
        "amount": [],
        "extra~field": 1,
    }
    assert not validator.is_valid(bad)
    found = validator.violations(bad)
    assert paths(found) == [
        ("/id", "type"),
        ("/sku", "required"),
        ("/qty", "type"),
        ("/price", "type"),
        ("/weight", "type"),
        ("/paid", "type"),
        ("/status", "enum"),
        ("/tags/1", "type"),
        ("/tags/2", "type"),
        ("/attrs/a", "type"),
        ("/attrs/b~1c", "type"),
        ("/note", "union"),
        ("/day", "type"),
        ("/hash", "size"),
        ("/blob", "type"),
        ("/address/zip", "required"),
        ("/lines/0/ship_to/city", "type"),
        ("/lines/1", "type"),
        ("/amount", "union"),
        ("/extra~0field", "additionalProperties"),
    ]
    assert all(v.code is ErrorCode.SCHEMA_VIOLATION for v in found)
    messages = {v.path: v.message for v in found}
    assert messages["/sku"] == "required field 'sku' is missing"
    assert messages["/qty"] == "2147483648 is out of range for Avro int (32-bit signed)"
    assert messages["/status"] == "'LOST' is not a symbol of com.acme.Status (NEW, PAID, SHIPPED)"
    assert messages["/note"] == "integer value matches none of the union branches (null, string)"
    assert messages["/amount"] == (
        "array value matches none of the union branches (int, string, com.acme.Address)"
    )
    assert messages["/hash"] == "fixed com.acme.Hash is 4 bytes, got 3"
    assert messages["/extra~0field"] == "'extra~field' is not a field of record com.acme.Order"


def test_json_defaults_make_fields_optional(make_avro: MakeAvro) -> None:
    validator = make_avro(ORDER, avro_encoding="json")
    record = {k: v for k, v in VALID_ORDER.items() if k not in ("note", "blob", "address")}
    assert validator.is_valid(record)


@pytest.mark.parametrize(
    ("schema", "good", "bad"),
    [
        ("int", [0, -(2**31), 2**31 - 1], [2**31, -(2**31) - 1, True, 1.0, "1", None]),
        ("long", [2**63 - 1, -(2**63)], [2**63, False, 2.5]),
        ("float", [1, 1.5, -3.4e38, float("nan")], [3.5e38, 10**39, True, "1"]),
        ("double", [1, 1e308, 2**1000, float("inf")], [10**400, False, None]),
        ("boolean", [True, False], [0, 1, "true", None]),
        ("string", ["", "x"], [b"x", 1, None]),
        ("bytes", ["", "\x00\xff", b"\x01"], ["☃", 1, None]),
        ("null", [None], [0, "", False]),
        ({"type": "array", "items": "int"}, [[], [1, 2]], [[1, "2"], {}, "x"]),
        ({"type": "map", "values": "int"}, [{}, {"a": 1}], [{"a": "1"}, {1: 1}, []]),
        ({"type": "enum", "name": "E", "symbols": ["A"]}, ["A"], ["B", 0, None]),
        ({"type": "fixed", "name": "F", "size": 2}, ["ab", b"ab"], ["abc", b"a", "☃☃", 12]),
        (["null", "string"], [None, "x", {"string": "x"}], [1, {"int": 1}, {"string": 1}]),
    ],
)
def test_json_type_checks(
    make_avro: MakeAvro, schema: Any, good: list[Any], bad: list[Any]
) -> None:
    validator = make_avro(schema, avro_encoding="json")
    for value in good:
        assert validator.is_valid(value), value
        assert validator.violations(value) == []
    for value in bad:
        assert not validator.is_valid(value), value
        found = validator.violations(value)
        assert len(found) == 1, (value, found)


def test_union_tagged_form(make_avro: MakeAvro) -> None:
    validator = make_avro(ORDER, avro_encoding="json")
    tagged = VALID_ORDER | {
        "note": {"string": "hi"},
        "address": {"com.acme.Address": {"city": "P", "zip": "1"}},
        "amount": {"int": 4},
    }
    assert validator.is_valid(tagged)
    broken = tagged | {"address": {"com.acme.Address": {"city": "P"}}, "amount": {"string": 4}}
    assert paths(validator.violations(broken)) == [
        ("/address/com.acme.Address/zip", "required"),
        ("/amount/string", "type"),
    ]


def test_union_blames_the_only_branch_that_fits(make_avro: MakeAvro) -> None:
    validator = make_avro(ORDER, avro_encoding="json")
    found = validator.violations(VALID_ORDER | {"address": {"city": 1, "zip": "z"}})
    assert paths(found) == [("/address/city", "type")]


def test_recursive_json(make_avro: MakeAvro) -> None:
    validator = make_avro(LINKED, avro_encoding="json")
    good = {"value": 1, "next": {"value": 2, "next": {"value": 3}}}
    assert validator.is_valid(good)
    bad = {"value": 1, "next": {"value": 2, "next": {"value": "3", "x": 1}}}
    assert paths(validator.violations(bad)) == [
        ("/next/next/value", "type"),
        ("/next/next/x", "additionalProperties"),
    ]


def test_too_deep_json_is_invalid_not_a_crash(make_avro: MakeAvro) -> None:
    validator = make_avro(LINKED, avro_encoding="json")
    value: dict[str, Any] = {"value": 0}
    for i in range(5000):
        value = {"value": i, "next": value}
    assert not validator.is_valid(value)
    assert paths(validator.violations(value)) == [("", "depth")]


def test_repr(make_avro: MakeAvro) -> None:
    assert repr(make_avro(ORDER, schema_id=3)) == "AvroValidator(encoding='auto', schema_id=3)"


# -- generated records ----------------------------------------------------------------------

_i32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)
_i64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_f32 = st.floats(width=32, allow_nan=False)
_text = st.text(max_size=6)


def _trees(depth: int) -> st.SearchStrategy[dict[str, Any]]:
    child: st.SearchStrategy[Any] = _trees(depth - 1) if depth else st.none()
    return st.fixed_dictionaries(
        {
            "value": _i64,
            "small": _i32,
            "label": _text,
            "flag": st.booleans(),
            "ratio": _f32,
            "score": st.floats(allow_nan=False),
            "data": st.binary(max_size=4),
            "fx": st.binary(min_size=2, max_size=2),
            "color": st.sampled_from(["R", "G", "B"]),
            "attrs": st.dictionaries(_text, _i32, max_size=3),
            "maybe": st.none() | _text,
            "children": st.lists(child, max_size=2) if depth else st.just([]),
            "next": st.none() | child,
        }
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(record=_trees(2))
def test_generated_trees_roundtrip(make_avro: MakeAvro, record: dict[str, Any]) -> None:
    validator = make_avro(TREE, avro_encoding="binary")
    raw = write(TREE, record)
    value = validator.decode(raw)
    assert value == record
    assert validator.violations(value) == []
    assert fastavro.schemaless_reader(io.BytesIO(raw), fastavro.parse_schema(TREE), None) == value


# -- fuzz -----------------------------------------------------------------------------------

FUZZ_SCHEMAS: list[Any] = [
    ORDER,
    TREE,
    LINKED,
    NULLS,
    EMPTY_RECORDS,
    ["null", "int", {"type": "map", "values": ["null", "string"]}],
]
ENCODINGS = ["auto", "confluent", "binary", "json"]


def _check_decoded(validator: AvroValidator, value: Any, strict: bool) -> None:
    valid = validator.is_valid(value)
    found = validator.violations(value)
    assert validator.is_valid(value) == (found == [])
    assert isinstance(valid, bool)
    if strict:  # the strict reader only produces valid values
        assert found == []


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("index", range(len(FUZZ_SCHEMAS)))
@settings(max_examples=150, deadline=None)
@given(raw=st.binary(max_size=48))
def test_fuzz_random_bytes(make_avro: MakeAvro, index: int, encoding: str, raw: bytes) -> None:
    validator = make_avro(FUZZ_SCHEMAS[index], avro_encoding=encoding)
    try:
        value = validator.decode(raw)
    except DecodeFailure as failure:
        assert failure.message
        return
    _check_decoded(validator, value, strict=index in (1, 2, 3, 4) and encoding == "binary")


@pytest.mark.parametrize("schema", [ORDER, TREE])
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_fuzz_mutated_encodings(make_avro: MakeAvro, schema: Any, data: st.DataObject) -> None:
    validator = make_avro(schema, avro_encoding="binary")
    raw = bytearray(write(schema, BINARY_ORDER if schema is ORDER else tree(1)))
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        at = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
        raw[at] = data.draw(st.integers(min_value=0, max_value=255))
    try:
        value = validator.decode(bytes(raw))
    except DecodeFailure:
        return
    _check_decoded(validator, value, strict=schema is TREE)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=6)
    | st.binary(max_size=4),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["id", "sku", "value", "next", "string", "int", "com.acme.Address"])
            | st.text(max_size=4),
            children,
            max_size=5,
        )
    ),
    max_leaves=25,
)


@pytest.mark.parametrize("index", range(len(FUZZ_SCHEMAS)))
@settings(max_examples=200, deadline=None)
@given(value=json_values)
def test_fuzz_values(make_avro: MakeAvro, index: int, value: Any) -> None:
    validator = make_avro(FUZZ_SCHEMAS[index], avro_encoding="json")
    valid = validator.is_valid(value)
    found = validator.violations(value)
    assert valid == (found == [])
    for v in found:
        assert v.code is ErrorCode.SCHEMA_VIOLATION
        assert v.path == "" or v.path.startswith("/")
        assert v.keyword in {"type", "required", "additionalProperties", "enum", "size", "union"}


def test_float_boundaries_roundtrip(make_avro: MakeAvro) -> None:
    schema = {"type": "record", "name": "F", "fields": [{"name": "f", "type": "float"}]}
    validator = make_avro(schema, avro_encoding="binary")
    big = struct.unpack("<f", struct.pack("<f", 3.4e38))[0]
    assert validator.decode(write(schema, {"f": big})) == {"f": big}
    assert validator.violations({"f": big}) == []
