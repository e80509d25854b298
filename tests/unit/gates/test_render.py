"""Gates to SQL: quoted identifiers, literal numbers, the user's SQL pasted only where meant."""

from __future__ import annotations

from typing import Any

import pytest

from dataquarantine.gates.model import gates_from_dict
from dataquarantine.gates.render import (
    as_text,
    checked_query,
    count_query,
    fetch_query,
    probe_query,
    sample_query,
    violations_query,
)


def gate(**fields: Any) -> Any:
    return gates_from_dict({"gates": [{"name": "g", **fields}]}).gates[0]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"kind": "not_null", "table": "Lead", "column": "customer_id"},
            'SELECT t.* FROM "Lead" AS t WHERE t."customer_id" IS NULL',
        ),
        (
            {
                "kind": "not_null",
                "table": "crm.Lead",
                "column": "customer_id",
                "where": "status <> 'lost'",
            },
            'SELECT t.* FROM "crm"."Lead" AS t WHERE t."customer_id" IS NULL'
            " AND (status <> 'lost'\n)",
        ),
        (
            {
                "kind": "relationship",
                "child": {"table": "Lead", "column": "customer_id"},
                "parent": {"table": "Customer", "column": "id"},
            },
            'SELECT c.* FROM "Lead" AS c WHERE c."customer_id" IS NOT NULL AND NOT EXISTS'
            ' (SELECT 1 FROM "Customer" AS p WHERE p."id" = c."customer_id")',
        ),
        (
            {
                "kind": "max_per_key",
                "table": "Conversation",
                "key": "lead_id",
                "where": "closed_at IS NULL",
                "max": 1,
            },
            'SELECT t."lead_id", count(*) AS "rows" FROM "Conversation" AS t'
            ' WHERE t."lead_id" IS NOT NULL AND (closed_at IS NULL\n)'
            " GROUP BY 1 HAVING count(*) > 1",
        ),
        (
            {"kind": "unique", "table": "Customer", "columns": ["tenant", "email"]},
            'SELECT t."tenant", t."email", count(*) AS "rows" FROM "Customer" AS t'
            ' WHERE t."tenant" IS NOT NULL AND t."email" IS NOT NULL'
            " GROUP BY 1, 2 HAVING count(*) > 1",
        ),
        (
            {"kind": "unique", "table": "Customer", "columns": ["email"], "ignore_case": True},
            'SELECT lower(t."email"::text) AS "email", count(*) AS "rows" FROM "Customer" AS t'
            ' WHERE t."email" IS NOT NULL GROUP BY 1 HAVING count(*) > 1',
        ),
        (
            {"kind": "row_count", "table": "Lead", "min": 1, "max": 1000},
            'SELECT c.n AS "row_count" FROM (SELECT count(*) AS n FROM "Lead" AS t) AS c'
            " WHERE c.n < 1 OR c.n > 1000",
        ),
        (
            {"kind": "freshness", "table": "Message", "column": "created_at", "max_age": "24h"},
            "SELECT m.latest, date_trunc('second', now() - m.latest) AS age FROM"
            ' (SELECT max(t."created_at") AS latest FROM "Message" AS t) AS m'
            " WHERE m.latest IS NULL OR m.latest < now() - make_interval(secs => 86400.0)",
        ),
        (
            {"kind": "sql", "sql": 'SELECT role, count(*) FROM "Message" GROUP BY role;'},
            'SELECT role, count(*) FROM "Message" GROUP BY role',
        ),
    ],
)
def test_violations_query(fields: dict[str, Any], expected: str) -> None:
    assert as_text(violations_query(gate(**fields))) == expected


def test_mixed_case_names_keep_their_case() -> None:
    text = as_text(violations_query(gate(kind="not_null", table="MySchema.Lead", column="CustID")))
    assert '"MySchema"."Lead"' in text and '"CustID"' in text


def test_user_text_is_pasted_verbatim_even_with_braces_and_percent() -> None:
    where = "note LIKE '%{0}%' -- trailing comment"
    text = as_text(violations_query(gate(kind="not_null", table="t", column="c", where=where)))
    assert f"({where}\n)" in text  # the newline keeps the comment from eating the parenthesis
    report = "SELECT '{}' AS \"{x}\", 100 % 7"
    assert as_text(violations_query(gate(kind="sql", sql=report))) == report


def test_checked_query_counts_and_samples_in_one_pass() -> None:
    g = gate(kind="unique", table="Customer", columns=["email"])
    text = as_text(checked_query(g, 5))
    assert text.startswith('SELECT count(*), json_agg(w) FILTER (WHERE w."dq_sample_index" <= 5)')
    assert as_text(violations_query(g)) in text
    assert as_text(checked_query(g, 0)).startswith("SELECT count(*), NULL::json FROM (")
    with pytest.raises(TypeError):
        checked_query(gate(kind="sql", sql="SELECT 1"), 5)
    with pytest.raises(TypeError):
        checked_query(gate(kind="not_null", table="t", column="c"), 5)


def test_row_gate_queries() -> None:
    g = gate(kind="not_null", table="Lead", column="customer_id")
    base = 'FROM "Lead" AS t WHERE t."customer_id" IS NULL'
    assert as_text(count_query(g)) == f"SELECT count(*) {base}"
    assert as_text(count_query(g, after_block=12)) == (
        "SELECT count(*), min(t.ctid) FILTER (WHERE t.ctid >= '(12,0)'::tid), max(t.ctid) " + base
    )
    assert as_text(probe_query(g, 5, before_block=3)) == (
        f"SELECT json_agg(s) FROM (SELECT t.* {base} AND t.ctid < '(3,0)'::tid LIMIT 5) AS s"
    )
    assert as_text(fetch_query(g, ["(1,2)", "(9,1)"])) == (
        f"SELECT json_agg(s) FROM (SELECT t.* {base}"
        " AND t.ctid = ANY (ARRAY['(1,2)', '(9,1)']::tid[])) AS s"
    )
    assert (
        as_text(sample_query(g, 3)) == f"SELECT json_agg(s) FROM (SELECT t.* {base} LIMIT 3) AS s"
    )
