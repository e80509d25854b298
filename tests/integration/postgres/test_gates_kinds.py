"""Every gate kind on real PostgreSQL: a passing case and a failing case with the exact count."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from dataquarantine.db.url import PostgresTarget, parse_store_url
from dataquarantine.gates.model import gates_from_dict
from dataquarantine.gates.runner import GateResult, GateRunner, GateStatus

Exec = Callable[..., None]


@pytest.fixture
def db(pg_schema_url: str) -> Iterator[tuple[str, Exec]]:
    """The schema URL and a function running setup SQL in that (new) schema."""
    target = parse_store_url(pg_schema_url)
    assert isinstance(target, PostgresTarget) and target.schema
    conn = psycopg.connect(target.conninfo, autocommit=True)
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(target.schema)))
    conn.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(target.schema)))

    def execute(statement: str, params: Any = None) -> None:
        conn.execute(statement, params)

    yield pg_schema_url, execute
    conn.close()


def check(url: str, *, samples: int = 5, **gate: Any) -> GateResult:
    definition = gates_from_dict({"gates": [{"name": "g", **gate}]}).gates[0]
    with GateRunner(url, sample_size=samples) as runner:
        result = runner.run_gate(definition)
    assert result.error is None, result.error
    return result


def test_not_null(db: tuple[str, Exec]) -> None:
    url, execute = db
    execute('CREATE TABLE "Lead" (id int PRIMARY KEY, customer_id int, status text)')
    execute("""INSERT INTO "Lead" SELECT g, g, 'new' FROM generate_series(1, 50) AS g""")
    gate = {"kind": "not_null", "table": "Lead", "column": "customer_id"}
    passing = check(url, **gate)
    assert (passing.status, passing.count, passing.samples.rows) == (GateStatus.PASS, 0, ())

    execute("""UPDATE "Lead" SET customer_id = NULL, status = 'lost' WHERE id IN (3, 17, 44)""")
    execute("""UPDATE "Lead" SET customer_id = NULL WHERE id = 45""")
    failing = check(url, **gate)
    assert (failing.status, failing.count) == (GateStatus.FAIL, 4)
    assert failing.samples.columns == ("id", "customer_id", "status")
    assert sorted(r[0] for r in failing.samples.rows) == [3, 17, 44, 45]
    assert all(r[1] is None for r in failing.samples.rows)

    scoped = check(url, **gate, where="status <> 'lost'")
    assert (scoped.status, scoped.count) == (GateStatus.FAIL, 1)
    assert check(url, **gate, samples=2).samples.rows.__len__() == 2
    assert check(url, **gate, samples=0).samples.rows == ()


def test_relationship(db: tuple[str, Exec]) -> None:
    url, execute = db
    execute('CREATE TABLE "Customer" (id int PRIMARY KEY)')
    execute('CREATE TABLE "Lead" (id int PRIMARY KEY, customer_id int, kind text)')
    execute('INSERT INTO "Customer" SELECT generate_series(1, 20)')
    execute("""INSERT INTO "Lead" SELECT g, 1 + g % 20, 'b2c' FROM generate_series(1, 60) g""")
    execute("INSERT INTO \"Lead\" VALUES (61, NULL, 'b2c')")  # NULL is not an orphan
    gate = {
        "kind": "relationship",
        "child": {"table": "Lead", "column": "customer_id"},
        "parent": {"table": "Customer", "column": "id"},
    }
    assert (check(url, **gate).status, check(url, **gate).count) == (GateStatus.PASS, 0)

    execute("""INSERT INTO "Lead" VALUES (62, 99, 'b2b'), (63, 100, 'b2c'), (64, 99, 'b2c')""")
    failing = check(url, **gate)
    assert (failing.status, failing.count) == (GateStatus.FAIL, 3)
    assert sorted(r[1] for r in failing.samples.rows) == [99, 99, 100]
    assert check(url, **gate, where="kind = 'b2b'").count == 1


def test_max_per_key(db: tuple[str, Exec]) -> None:
    url, execute = db
    execute('CREATE TABLE "Conversation" (id int PRIMARY KEY, lead_id int, closed_at timestamptz)')
    execute(
        """INSERT INTO "Conversation" SELECT g, g % 10,
           CASE WHEN g > 10 THEN now() END FROM generate_series(1, 30) g"""
    )
    gate = {"kind": "max_per_key", "table": "Conversation", "key": "lead_id",
            "where": "closed_at IS NULL", "max": 1}  # fmt: skip
    passing = check(url, **gate)
    assert (passing.status, passing.count) == (GateStatus.PASS, 0)

    execute('INSERT INTO "Conversation" VALUES (31, 4, NULL), (32, 4, NULL), (33, 7, NULL)')
    execute('INSERT INTO "Conversation" VALUES (34, NULL, NULL), (35, NULL, NULL)')  # ignored
    failing = check(url, **gate)
    assert (failing.status, failing.count) == (GateStatus.FAIL, 2)
    assert failing.samples.columns == ("lead_id", "rows")
    assert sorted(failing.samples.rows) == [(4, 3), (7, 2)]
    assert check(url, **{**gate, "max": 2}).count == 1
    assert check(url, **{**gate, "key": ["lead_id", "id"]}).count == 0


def test_unique(db: tuple[str, Exec]) -> None:
    url, execute = db
    execute('CREATE TABLE "Customer" (id int PRIMARY KEY, tenant int, email text)')
    execute(
        """INSERT INTO "Customer" SELECT g, g % 3, 'user' || g || '@example.com'
           FROM generate_series(1, 40) g"""
    )
    execute("""INSERT INTO "Customer" VALUES (41, 0, NULL), (42, 0, NULL)""")  # NULLs never clash
    gate = {"kind": "unique", "table": "Customer", "columns": ["email"]}
    assert check(url, **gate).status is GateStatus.PASS

    execute("""INSERT INTO "Customer" VALUES (43, 1, 'user1@example.com'),
               (44, 2, 'user1@example.com'), (45, 1, 'user2@example.com'),
               (46, 1, 'USER3@example.com')""")
    failing = check(url, **gate)
    assert (failing.status, failing.count) == (GateStatus.FAIL, 2)
    assert sorted(failing.samples.rows) == [("user1@example.com", 3), ("user2@example.com", 2)]
    assert check(url, **gate, ignore_case=True).count == 3
    # (tenant, email): user1 is held by tenants 1 (ids 1, 43) and 2 (id 44); user2 by 2 and 1.
    assert check(url, **{**gate, "columns": ["tenant", "email"]}).count == 1
    assert check(url, **gate, where="id < 44").count == 1


def test_row_count(db: tuple[str, Exec]) -> None:
    url, execute = db
    execute('CREATE TABLE "Lead" (id int, status text)')
    gate = {"kind": "row_count", "table": "Lead", "min": 1}
    empty = check(url, **gate)
    assert (empty.status, empty.count) == (GateStatus.FAIL, 1)
    assert empty.samples.columns == ("row_count",) and empty.samples.rows == ((0,),)

    execute("""INSERT INTO "Lead" SELECT g, 'new' FROM generate_series(1, 12) g""")
    assert (check(url, **gate).status, check(url, **gate).count) == (GateStatus.PASS, 0)
    over = check(url, kind="row_count", table="Lead", min=1, max=10)
    assert (over.status, over.count, over.samples.rows) == (GateStatus.FAIL, 1, ((12,),))
    assert check(url, kind="row_count", table="Lead", max=0, where="status = 'won'").count == 0


def test_freshness(db: tuple[str, Exec]) -> None:
    url, execute = db
    execute('CREATE TABLE "Message" (id int, created_at timestamptz, local_at timestamp)')
    gate = {"kind": "freshness", "table": "Message", "column": "created_at", "max_age": "24h"}
    empty = check(url, **gate)  # no rows: nothing is fresh
    assert (empty.status, empty.count, empty.samples.rows) == (GateStatus.FAIL, 1, ((None, None),))

    execute(
        """INSERT INTO "Message" VALUES
           (1, now() - interval '3 days', now() - interval '3 days'),
           (2, now() - interval '30 hours', localtimestamp - interval '30 hours')"""
    )
    stale = check(url, **gate)
    assert (stale.status, stale.count) == (GateStatus.FAIL, 1)
    assert stale.samples.columns == ("latest", "age")
    latest, age = stale.samples.rows[0]
    assert isinstance(latest, str) and age == "1 day 06:00:00"

    execute("INSERT INTO \"Message\" VALUES (3, now() - interval '5 minutes', localtimestamp)")
    assert (check(url, **gate).status, check(url, **gate).count) == (GateStatus.PASS, 0)
    assert check(url, **gate, where="id < 3").count == 1
    assert check(url, **{**gate, "column": "local_at", "max_age": "1h"}).count == 0
    assert check(url, **{**gate, "max_age": "1m"}).count == 1


def test_sql(db: tuple[str, Exec]) -> None:
    url, execute = db
    execute('CREATE TABLE "Message" (id int, role text)')
    execute("""INSERT INTO "Message" SELECT g, (ARRAY['agent', 'customer'])[1 + g % 2]
               FROM generate_series(1, 30) g""")
    gate = {
        "kind": "sql",
        "expect_rows": 0,
        "sql": """SELECT id, role FROM "Message" WHERE role NOT IN ('agent', 'customer')""",
    }
    assert (check(url, **gate).status, check(url, **gate).count) == (GateStatus.PASS, 0)

    execute("""INSERT INTO "Message" VALUES (31, 'bot'), (32, 'bot'), (33, 'spam')""")
    failing = check(url, **gate, samples=2)
    assert (failing.status, failing.count) == (GateStatus.FAIL, 3)
    assert failing.samples.columns == ("id", "role") and len(failing.samples.rows) == 2

    report = check(
        url,
        kind="sql",
        sql='SELECT role, count(*) AS n, 1.5::numeric AS x FROM "Message" '
        "GROUP BY role ORDER BY n DESC, role",
    )
    assert (report.status, report.count, report.severity.value) == (
        GateStatus.INFO,
        4,
        "informational",
    )
    assert report.samples.rows == (("agent", 15, 1.5), ("customer", 15, 1.5), ("bot", 2, 1.5),
                                   ("spam", 1, 1.5))  # fmt: skip


def test_informational_gates_report_without_failing(db: tuple[str, Exec]) -> None:
    url, execute = db
    execute('CREATE TABLE "Lead" (id int, customer_id int)')
    execute('INSERT INTO "Lead" VALUES (1, NULL), (2, NULL), (3, 3)')
    result = check(url, kind="not_null", table="Lead", column="customer_id",
                   severity="informational")  # fmt: skip
    assert (result.status, result.count, result.blocking) == (GateStatus.INFO, 2, False)


@pytest.mark.parametrize("layout", ["dense_start", "sparse", "dense_end", "single_last"])
def test_row_gates_on_a_larger_table_count_exactly(db: tuple[str, Exec], layout: str) -> None:
    """Many blocks: exercises the probe / first-and-last-ctid sampling of row gates."""
    url, execute = db
    condition = {
        "dense_start": "g <= 3000",  # found by the probe of the first blocks
        "sparse": "g % 4999 = 0",  # none in the probed blocks: first and last read directly
        "dense_end": "g > 17000",
        "single_last": "g = 20000",
    }[layout]
    # Violations are planted at insert time: an UPDATE would move the rows to the end.
    execute("CREATE TABLE big (id int, parent_id int, v int, pad text)")
    execute(
        f"INSERT INTO big SELECT g, CASE WHEN {condition} THEN -g ELSE g END,"
        f" CASE WHEN {condition} THEN NULL ELSE g END, repeat('x', 80)"
        " FROM generate_series(1, 20000) g"
    )
    execute("CREATE TABLE parent (id int PRIMARY KEY)")
    execute("INSERT INTO parent SELECT generate_series(1, 20000)")
    expected = {"dense_start": 3000, "sparse": 4, "dense_end": 3000, "single_last": 1}[layout]
    # Sparse: one violation in the probed part at most, then the first and last after it.
    shown = {"dense_start": 5, "sparse": 2, "dense_end": 5, "single_last": 1}[layout]

    orphans = check(url, kind="relationship", child={"table": "big", "column": "parent_id"},
                    parent={"table": "parent", "column": "id"})  # fmt: skip
    assert (orphans.status, orphans.count) == (GateStatus.FAIL, expected)
    assert len(orphans.samples.rows) == shown
    assert all(row[1] < 0 for row in orphans.samples.rows)  # only real violations

    nulls = check(url, kind="not_null", table="big", column="v")
    assert (nulls.status, nulls.count) == (GateStatus.FAIL, expected)
    assert len(nulls.samples.rows) == shown
    assert all(row[2] is None for row in nulls.samples.rows)
    assert check(url, kind="not_null", table="big", column="v", where="id < 0").count == 0


def test_row_gates_on_views_and_partitioned_tables(db: tuple[str, Exec]) -> None:
    """No usable ctid: counted, then sampled with a LIMIT."""
    url, execute = db
    execute("CREATE TABLE events (id int, at date, user_id int) PARTITION BY RANGE (at)")
    execute(
        "CREATE TABLE events_a PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2024-07-01')"
    )
    execute(
        "CREATE TABLE events_b PARTITION OF events FOR VALUES FROM ('2024-07-01') TO ('2025-01-01')"
    )
    execute(
        "INSERT INTO events SELECT g, date '2024-01-01' + g % 360,"
        " CASE WHEN g % 7 = 0 THEN NULL ELSE g END FROM generate_series(1, 700) g"
    )
    execute("CREATE VIEW recent_events AS SELECT * FROM events WHERE at >= '2024-07-01'")
    partitioned = check(url, kind="not_null", table="events", column="user_id")
    assert (partitioned.count, len(partitioned.samples.rows)) == (100, 5)
    view = check(url, kind="not_null", table="recent_events", column="user_id")
    expected = sum(1 for g in range(1, 701) if g % 7 == 0 and g % 360 >= 182)
    assert view.count == expected and len(view.samples.rows) == 5
