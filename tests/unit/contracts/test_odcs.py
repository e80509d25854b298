"""ODCS import and export: the mapping, and the verdicts records get against it."""

from __future__ import annotations

from typing import Any

import pytest

from dataquarantine import Contract, ErrorCode
from dataquarantine.contracts.loader import spec_from_dict
from dataquarantine.contracts.odcs import export_odcs, import_odcs
from dataquarantine.errors import ContractSyntaxError
from dataquarantine.gates.model import gates_from_dict


def _doc(*objects: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v3.1.0",
        "kind": "DataContract",
        "id": "orders-contract",
        "version": "1.2.0",
        "status": "active",
        "schema": list(objects),
        **top,
    }


ORDERS: dict[str, Any] = {
    "name": "Orders",
    "physicalName": "orders",
    "properties": [
        {
            "name": "order_id",
            "logicalType": "string",
            "required": True,
            "primaryKey": True,
            "logicalTypeOptions": {"pattern": "^ORD-[0-9]+$", "maxLength": 12},
        },
        {
            "name": "amount",
            "logicalType": "number",
            "required": True,
            "logicalTypeOptions": {"minimum": 0, "exclusiveMaximum": 10000},
        },
        {"name": "quantity", "logicalType": "integer", "logicalTypeOptions": {"minimum": 1}},
        {"name": "email", "logicalType": "string", "logicalTypeOptions": {"format": "email"}},
        {"name": "ordered_on", "logicalType": "date"},
        {
            "name": "tags",
            "logicalType": "array",
            "items": {"logicalType": "string"},
            "logicalTypeOptions": {"maxItems": 2},
        },
        {
            "name": "status",
            "logicalType": "string",
            "quality": [
                {"metric": "nullValues", "mustBe": 0},
                {
                    "metric": "invalidValues",
                    "mustBe": 0,
                    "arguments": {"validValues": ["new", "paid"]},
                },
                {
                    "metric": "invalidValues",
                    "mustBeLessThan": 5,
                    "unit": "percent",
                    "arguments": {"validValues": ["new", "paid"]},
                },
            ],
        },
        {
            "name": "customer_id",
            "logicalType": "integer",
            "relationships": [{"to": "customers.id"}],
            "quality": [
                {
                    "type": "custom",
                    "engine": "dataquarantine",
                    "name": "positive",
                    "implementation": "record.customer_id > 0",
                    "severity": "warning",
                },
            ],
        },
    ],
    "quality": [
        {"metric": "rowCount", "mustBeGreaterOrEqualTo": 10},
        {"type": "sql", "query": "SELECT max(amount) FROM ${object}", "mustBeLessThan": 5000},
        {"type": "custom", "engine": "soda", "implementation": {"type": "row_count"}},
        {"type": "text", "description": "orders look right"},
    ],
}

GOOD: dict[str, Any] = {
    "order_id": "ORD-1",
    "amount": 10.5,
    "quantity": 2,
    "email": "a@example.com",
    "ordered_on": "2024-02-29",
    "tags": ["x"],
    "status": "paid",
    "customer_id": 7,
}


@pytest.fixture(scope="module")
def imported() -> Any:
    return import_odcs(_doc(ORDERS))


@pytest.fixture(scope="module")
def contract(imported: Any) -> Contract:
    return Contract(imported.contracts[0])


def test_one_contract_named_after_the_schema_object(imported: Any) -> None:
    (spec,) = imported.contracts
    assert (spec.name, str(spec.version)) == ("orders", "1.2.0")


def test_a_valid_record_passes(contract: Contract) -> None:
    assert contract.validate(GOOD).valid


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"order_id": "X-1"}, "/order_id"),  # pattern
        ({"order_id": "ORD-1234567890"}, "/order_id"),  # maxLength
        ({"amount": None}, "/amount"),  # required: not null
        ({"amount": 10000}, "/amount"),  # exclusiveMaximum
        ({"amount": -1}, "/amount"),  # minimum
        ({"quantity": 1.5}, "/quantity"),  # integer
        ({"email": "nope"}, "/email"),  # format
        ({"ordered_on": "2023-02-30"}, "/ordered_on"),  # date
        ({"tags": ["a", "b", "c"]}, "/tags"),  # maxItems
        ({"tags": [1]}, "/tags/0"),  # items
    ],
)
def test_schema_verdicts(contract: Contract, change: dict[str, Any], path: str) -> None:
    result = contract.validate({**GOOD, **change})
    assert not result.valid
    assert [v.path for v in result.errors] == [path]
    assert result.errors[0].code is ErrorCode.SCHEMA_VIOLATION


def test_optional_properties_may_be_null_or_missing(contract: Contract) -> None:
    record = {**GOOD, "quantity": None, "email": None}
    del record["tags"]
    assert contract.validate(record).valid


def test_missing_required_property(contract: Contract) -> None:
    record = dict(GOOD)
    del record["order_id"]
    assert [v.path for v in contract.validate(record).errors] == ["/order_id"]


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"status": None}, "status.nullValues"),
        ({"status": "lost"}, "status.invalidValues"),
    ],
)
def test_zero_tolerance_library_metrics_judge_each_record(
    contract: Contract, change: dict[str, Any], rule: str
) -> None:
    result = contract.validate({**GOOD, **change})
    assert [(v.code, v.rule) for v in result.errors] == [(ErrorCode.RULE_VIOLATION, rule)]


def test_null_values_counts_a_missing_field(contract: Contract) -> None:
    record = dict(GOOD)
    del record["status"]
    assert [v.rule for v in contract.validate(record).errors] == ["status.nullValues"]


def test_custom_dataquarantine_rule_is_cel_with_its_severity(contract: Contract) -> None:
    result = contract.validate({**GOOD, "customer_id": -3})
    assert result.valid
    assert [(w.rule, w.path) for w in result.warnings] == [("positive", "/customer_id")]


def test_relationships_are_references(imported: Any) -> None:
    (ref,) = imported.contracts[0].references
    assert (ref.field, ref.table, ref.column) == ("customer_id", "customers", "id")


def test_set_level_checks_are_gates(imported: Any) -> None:
    suite = gates_from_dict({"gates": list(imported.gates)})
    kinds = {g.name: g.kind for g in suite.gates}
    assert kinds == {
        "orders.order_id.primaryKey": "unique",
        "orders.status.invalidValues": "sql",
        "orders.rowCount": "row_count",
        "orders.sql": "sql",
    }
    by_name = {g.name: g for g in suite.gates}
    row_count = by_name["orders.rowCount"]
    assert (row_count.table, row_count.min, row_count.max) == ("orders", 10, None)
    sql = by_name["orders.sql"].sql
    assert "FROM orders" in sql and "NOT (value < 5000)" in sql


def test_unmapped_parts_are_listed_with_their_path(imported: Any) -> None:
    assert [(u.path, u.reason.split(" (")[0]) for u in imported.unmapped] == [
        ("/schema/0/quality/2", "custom rule of engine 'soda'"),
        ("/schema/0/quality/3", "a text quality entry is documentation, not a check"),
    ]


def test_several_schema_objects_give_several_contracts() -> None:
    other = {"name": "customers", "properties": [{"name": "id", "logicalType": "integer"}]}
    result = import_odcs(_doc(ORDERS, other))
    assert [c.name for c in result.contracts] == ["orders", "customers"]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"kind": "DataContract"}, "not an ODCS v3 document"),
        ([1, 2], "not an ODCS v3 document"),
        (_doc(), "no schema objects"),
        (_doc({"properties": []}), "needs a name"),
        ({**_doc(ORDERS), "version": "one"}, "semantic version"),
        (_doc(ORDERS, {**ORDERS, "name": "ORDERS"}), "two schema objects map"),
    ],
)
def test_malformed_documents_are_refused_with_a_reason(doc: Any, message: str) -> None:
    with pytest.raises(ContractSyntaxError, match=message):
        import_odcs(doc, source="orders.odcs.yaml")


def test_export_keeps_what_odcs_cannot_say_and_round_trips() -> None:
    spec = spec_from_dict(
        {
            "name": "events.click",
            "version": "2.0.0",
            "schema": {
                "type": "object",
                "properties": {"id": {"type": "string"}, "n": {"oneOf": [{"type": "integer"}]}},
                "required": ["id"],
                "additionalProperties": False,
            },
            "rules": [
                {"id": "n_small", "expr": "!has(record.n) || record.n < 5", "field": "n"},
                {"id": "whole", "expr": "true"},
            ],
            "references": [{"field": "id", "table": "crm.users", "column": "id"}],
            "remediation": [{"field": "id", "action": "trim"}],
            "key": "id",
        }
    )
    doc = export_odcs(spec, spec.schema_)
    (obj,) = doc["schema"]
    custom = {c["property"] for c in obj["customProperties"]}
    assert custom == {
        "dataquarantineSchema",
        "dataquarantineReferences",
        "dataquarantineRemediation",
        "dataquarantineKey",
    }
    assert import_odcs(doc).contracts == (spec,)
