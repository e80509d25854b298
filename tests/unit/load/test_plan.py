"""The SQL of a load is built from quoted identifiers and bind parameters only."""

from __future__ import annotations

import pytest
from psycopg import sql

from dataquarantine.contracts.model import ReferenceSpec
from dataquarantine.errors import UnsafeIdentifierError
from dataquarantine.load.plan import (
    Column,
    ColumnKind,
    LoadPlan,
    RefPlan,
    checkpoints_ddl,
    ident,
    quarantine_ddl,
)


def _plan(**overrides: object) -> LoadPlan:
    values: dict[str, object] = {
        "staging": "raw.staging_calls",
        "target": "calls",
        "key": ("call_id",),
        "columns": (
            Column("call_id", "text", cast=False),
            Column("agent_id", "integer", cast=True),
            Column("status", "text", cast=False),
        ),
        "update": ("agent_id", "status"),
        "track": ("status",),
        "refs": (
            RefPlan(
                ReferenceSpec(field="agent_id", table="agents", column="agent_id"),
                column="agent_id",
                as_text=True,
                distinct=False,
            ),
        ),
        "has_created_at": True,
        "has_last_updated_at": True,
        "staging_columns": (
            ("call_id", "text"),
            ("agent_id", "character varying(10)"),
            ("started", "timestamp(3) with time zone"),
            ("amount", "numeric(10,2)"),
            ("ok", "boolean"),
        ),
    }
    values.update(overrides)
    return LoadPlan(**values)  # type: ignore[arg-type]


def _text(q: sql.Composable) -> str:
    return q.as_string(None)


def test_ident_quotes_each_part_and_refuses_injection() -> None:
    assert _text(ident("raw.calls")) == '"raw"."calls"'
    with pytest.raises(UnsafeIdentifierError):
        ident('calls"; DROP TABLE x; --')


def test_check_query_joins_every_reference_once() -> None:
    text = _text(_plan().check())
    assert 'FROM "raw"."staging_calls" s LEFT JOIN "agents" "dq_p0"' in text
    assert '"dq_p0"."agent_id"::text = s."agent_id"::text' in text
    assert '(s."agent_id" IS NOT NULL AND "dq_p0"."agent_id" IS NULL)' in text
    assert "to_json(s.\"started\") #>> '{}'" in text
    assert 'to_json(s."amount")::text' in text
    assert text.count("%s") == 2


def test_distinct_parent_when_not_unique() -> None:
    ref = RefPlan(ReferenceSpec(field="agent_id", table="agents", column="agent_id"),
                  column="agent_id", as_text=False, distinct=True)  # fmt: skip
    text = _text(_plan(refs=(ref,)).check())
    assert 'LEFT JOIN (SELECT DISTINCT "agent_id" FROM "agents") "dq_p0"' in text


def test_upsert_keeps_created_at_and_skips_unchanged_rows() -> None:
    text = _text(_plan().upsert())
    assert 'ON CONFLICT ("call_id") DO UPDATE SET' in text
    assert '"created_at" = EXCLUDED' not in text
    assert '"last_updated_at" = EXCLUDED."last_updated_at"' in text
    assert 'WHERE ROW(t."agent_id", t."status") IS DISTINCT FROM ROW(EXCLUDED."agent_id"' in text
    assert 'CAST(s."agent_id" AS integer)' in text
    assert "NOT EXISTS (SELECT 1 FROM dq_bad b WHERE b.rid = s.ctid)" in text
    assert 'INSERT INTO "calls_history"' in text
    assert text.count("%s") == 3


def test_upsert_without_update_columns_does_nothing_on_conflict() -> None:
    text = _text(_plan(update=(), track=()).upsert())
    assert "DO NOTHING" in text and "hist" not in text
    assert text.count("%s") == 2


def test_row_columns_and_text_columns() -> None:
    plan = _plan()
    kinds = {c.name: c.kind for c in plan.row_columns()}
    assert kinds == {
        "call_id": ColumnKind.NATIVE,
        "agent_id": ColumnKind.NATIVE,
        "started": ColumnKind.STRING,
        "amount": ColumnKind.JSON,
        "ok": ColumnKind.NATIVE,
    }
    assert plan.staging_text == ("call_id", "agent_id")


def test_ddl_names_are_quoted() -> None:
    assert 'CREATE TABLE IF NOT EXISTS "data_quality_quarantine"' in _text(quarantine_ddl())
    assert '"dq_load_checkpoints"' in _text(checkpoints_ddl())
    assert '"call_id" text NOT NULL' in _text(_plan().history_ddl())
