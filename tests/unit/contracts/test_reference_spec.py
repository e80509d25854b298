"""A reference's ``fk_violation`` and missing-reference entry: one wording for the load and
Spark (the message shows the value as Python writes it)."""

from __future__ import annotations

from dataquarantine.contracts.model import ReferenceSpec
from dataquarantine.kernel.results import ErrorCode


def test_an_orphan_names_its_field_value_and_parent() -> None:
    spec = ReferenceSpec(field="/customer_id", table="crm.customers", column="id")
    assert spec.field_column == "customer_id"
    v = spec.orphan(999)
    assert (v.code, v.path, v.keyword) == (ErrorCode.FK_VIOLATION, "/customer_id", "references")
    assert v.message == "customer_id 999 has no parent row in crm.customers.id"
    assert spec.orphan("C-1").message == "customer_id 'C-1' has no parent row in crm.customers.id"
    assert spec.missing(999) == {
        "field": "customer_id",
        "table": "crm.customers",
        "column": "id",
        "value": 999,
    }
