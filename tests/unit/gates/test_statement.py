"""The statement check: one read-only query, no refused keyword or function, however spelled."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataquarantine.errors import ConfigError, UnsafeSqlError
from dataquarantine.gates.model import gates_from_dict
from dataquarantine.gates.runner import check_gate
from dataquarantine.gates.statement import (
    DENIED_FUNCTIONS,
    check_condition,
    check_query,
    tokenize,
)

REFUSED = [
    ("COPY (SELECT 1) TO PROGRAM 'id > out.txt'", "COPY"),
    ("copy t to 't.csv'", "COPY"),
    ("/* */COPY (SELECT 1) TO STDOUT", "COPY"),
    ("-- a comment\nCoPy t TO PROGRAM 'id'", "COPY"),
    ("/* nested /* comment */ still */ COPY t TO STDOUT", "COPY"),
    ("(COPY t TO STDOUT)", "COPY"),
    ("DO $$BEGIN PERFORM 1; END$$", "DO"),
    ("CALL p()", "CALL"),
    ("SET search_path = x", "SET"),
    ("RESET ROLE", "RESET"),
    ("LISTEN x", "LISTEN"),
    ("NOTIFY x", "NOTIFY"),
    ("PREPARE q AS SELECT 1", "PREPARE"),
    ("EXECUTE q", "EXECUTE"),
    ("LOCK TABLE t", "LOCK"),
    ("VACUUM t", "VACUUM"),
    ("EXPLAIN ANALYZE DELETE FROM t", "EXPLAIN"),
    ("SELECT 1; DROP TABLE t", "multiple statements"),
    ("SELECT 1;SELECT 2", "multiple statements"),
    ("SELECT 1 /* ; */ ; DELETE FROM t", "multiple statements"),
    ("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", "DELETE"),
    ("WITH u AS (UPDATE t SET a = 1 RETURNING *) SELECT 1", "UPDATE"),
    ("WITH i AS (INSERT INTO t VALUES (1) RETURNING *) SELECT 1", "INSERT"),
    ("WITH m AS (MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE) SELECT 1", "MERGE"),
    ("SELECT * INTO newt FROM t", "INTO"),
    ("SELECT * FROM t FOR UPDATE", "UPDATE"),
    ("SELECT * FROM t FOR NO KEY UPDATE", "FOR NO"),
    ("SELECT * FROM t FOR SHARE", "FOR SHARE"),
    ("SELECT * FROM t FOR KEY SHARE", "FOR KEY"),
    ("SELECT pg_read_file('/etc/passwd')", "pg_read_file()"),
    ("SELECT PG_READ_FILE('/etc/passwd')", "pg_read_file()"),
    ("SELECT \"pg_read_file\"('/etc/passwd')", "pg_read_file()"),
    ("SELECT pg_catalog.pg_read_file('/etc/passwd')", "pg_read_file()"),
    ('SELECT "pg_catalog"."pg_read_file"(\'/etc/passwd\')', "pg_read_file()"),
    ("SELECT pg_catalog . pg_read_file /* x */ ('/etc/passwd')", "pg_read_file()"),
    ("SELECT pg_read_binary_file('/etc/passwd')", "pg_read_binary_file()"),
    ("SELECT * FROM pg_ls_dir('/')", "pg_ls_dir()"),
    ("SELECT * FROM pg_ls_waldir()", "pg_ls_waldir()"),
    ("SELECT pg_stat_file('/etc/passwd')", "pg_stat_file()"),
    ("SELECT lo_import('/etc/passwd')", "lo_import()"),
    ("SELECT lo_export(1, 'out.txt')", "lo_export()"),
    ("SELECT lo_unlink(1)", "lo_unlink()"),
    ("SELECT pg_terminate_backend(42)", "pg_terminate_backend()"),
    ("SELECT pg_cancel_backend(42)", "pg_cancel_backend()"),
    ("SELECT pg_reload_conf()", "pg_reload_conf()"),
    ("SELECT pg_rotate_logfile()", "pg_rotate_logfile()"),
    ("SELECT pg_advisory_lock(1)", "pg_advisory_lock()"),
    ("SELECT pg_advisory_xact_lock_shared(1)", "pg_advisory_xact_lock_shared()"),
    ("SELECT pg_try_advisory_lock(1)", "pg_try_advisory_lock()"),
    ("SELECT set_config('role', 'none', false)", "set_config()"),
    ("SELECT pg_sleep(100)", "pg_sleep()"),
    ("SELECT pg_sleep_for('1 hour')", "pg_sleep_for()"),
    ("SELECT * FROM dblink('host=x', 'DELETE FROM t') AS x(a int)", "dblink()"),
    ("SELECT dblink_exec('DELETE FROM t')", "dblink_exec()"),
    ("SELECT pg_file_write('x', 'y', false)", "pg_file_write()"),
    ("SELECT pg_switch_wal()", "pg_switch_wal()"),
    ("SELECT pg_create_restore_point('x')", "pg_create_restore_point()"),
    ("SELECT pg_promote()", "pg_promote()"),
    ("SELECT pg_logical_emit_message(true, 'x', 'y')", "pg_logical_emit_message()"),
    ("SELECT pg_create_logical_replication_slot('s', 'x')", "pg_create_logical_replication_slot()"),
    ("SELECT pg_drop_replication_slot('s')", "pg_drop_replication_slot()"),
    ("SELECT txid_current()", "txid_current()"),
    ("SELECT pg_current_xact_id()", "pg_current_xact_id()"),
    ("SELECT pg_notify('c', 'x')", "pg_notify()"),
    ("SELECT nextval('s')", "nextval()"),
    ("SELECT setval('s', 1)", "setval()"),
    ("SELECT query_to_xml('DELETE FROM t RETURNING 1', true, true, '')", "query_to_xml()"),
    ("SELECT query_to_xmlschema('SELECT 1', true, true, '')", "query_to_xmlschema()"),
    ("SELECT query_to_xml_and_xmlschema('x', true, true, '')", "query_to_xml_and_xmlschema()"),
    ("SELECT cursor_to_xml('c', 1, true, true, '')", "cursor_to_xml()"),
    ("SELECT table_to_xml('t', true, true, '')", "table_to_xml()"),
    ("SELECT ts_stat('SELECT 1')", "ts_stat()"),
    ("TABLE t UNION SELECT pg_read_file('x')", "pg_read_file()"),
    ("VALUES (pg_read_file('x'))", "pg_read_file()"),
    ("SELECT U&\"pg_read_file\"('x')", 'U&"..."'),
    ("INSERT INTO t VALUES (1)", "INSERT"),
    ("", "empty"),
    ("-- only a comment", "empty"),
]


@pytest.mark.parametrize(("text", "construct"), REFUSED)
def test_refused(text: str, construct: str) -> None:
    with pytest.raises(UnsafeSqlError) as info:
        check_query(text)
    assert info.value.construct == construct
    assert info.value.code == "unsafe_sql"
    assert isinstance(info.value, ConfigError)


ACCEPTED = [
    "SELECT 1",
    "select 'COPY (SELECT 1) TO PROGRAM ''id''' AS s",
    "SELECT $$ pg_read_file('/etc/passwd'); DELETE FROM t $$ AS d",
    "SELECT $tag$ COPY $x$ ; $tag$ AS d",
    "SELECT E'it\\'s ; COPY' AS e",
    'SELECT 1 AS "into", 2 AS "set", 3 AS "copy", 4 AS "pg_read_file"',
    "SELECT 1 -- ; DELETE FROM t",
    "SELECT 1 /* COPY t TO PROGRAM 'id' */",
    "WITH x AS (SELECT 1 AS a) SELECT a FROM x",
    "(SELECT 1) UNION ALL (SELECT 2)",
    "VALUES (1), (2)",
    "TABLE t",
    "SELECT id FROM t ORDER BY id FETCH FIRST 3 ROWS ONLY",
    "SELECT substring('abc' FROM 1 FOR 2)",
    "SELECT current_setting('search_path'), current_user, pg_relation_size('t')",
    "SELECT lower(name) FROM t WHERE name ~ '^lo_' AND a$b = $1",
    "SELECT 1.5e3, .5, 1_000, x'1f', B'101', N'n', U&'d\\0061t\\+000061'",
    "SELECT a::int[] @> ARRAY[1] FROM t WHERE b !~~* 'x%'",
    'SELECT "weird ""quoted"" name" FROM t',
    "SELECT lo_value, pg_ls, t.pg_read_file FROM t",  # names, not calls
]


@pytest.mark.parametrize("text", ACCEPTED)
def test_accepted(text: str) -> None:
    check_query(text)


@pytest.mark.parametrize(
    "text",
    ["SELECT 'open", 'SELECT "open', "SELECT $$ open", "SELECT 1 /* open", "SELECT E'\\'"],
)
def test_unterminated_text_is_refused(text: str) -> None:
    with pytest.raises(UnsafeSqlError, match="unterminated"):
        check_query(text)


@pytest.mark.parametrize(
    ("where", "construct"),
    [
        ("true); DELETE FROM t; --", "unbalanced ')'"),
        ("true) OR (true", "unbalanced ')'"),
        ("(true", "unbalanced ')'"),
        ("pg_read_file('/etc/passwd') IS NOT NULL", "pg_read_file()"),
        ("id IN (SELECT lo_import('/etc/passwd'))", "lo_import()"),
        ("true; COPY t TO STDOUT", "multiple statements"),
    ],
)
def test_refused_conditions(where: str, construct: str) -> None:
    with pytest.raises(UnsafeSqlError) as info:
        check_condition(where)
    assert info.value.construct == construct


def test_conditions_may_contain_the_words_in_strings() -> None:
    check_condition("note <> 'COPY ; pg_read_file(x)' AND (a = 1 OR b IN (SELECT 1))")


def test_check_gate_checks_where_and_query() -> None:
    suite = gates_from_dict(
        {
            "gates": [
                {"name": "a", "kind": "not_null", "table": "t", "column": "c", "where": "x = 1"},
                {
                    "name": "b",
                    "kind": "unique",
                    "table": "t",
                    "columns": ["c"],
                    "where": "pg_sleep(10) IS NULL",
                },
                {"name": "c", "kind": "sql", "sql": "SELECT lo_export(1, 'x')", "expect_rows": 0},
                {"name": "d", "kind": "freshness", "table": "t", "column": "c", "max_age": "1d"},
            ]
        }
    )
    a, b, c, d = suite.gates
    check_gate(a)
    check_gate(d)  # the built-in kinds' own SQL passes the check
    with pytest.raises(UnsafeSqlError, match=r"pg_sleep\(\)"):
        check_gate(b)
    with pytest.raises(UnsafeSqlError, match=r"lo_export\(\)"):
        check_gate(c)


def test_comments_are_removed_and_strings_kept_whole() -> None:
    tokens = tokenize("SELECT /* a /* b */ c */ 'x''y' -- z\n, \"Q\"\"q\", $t$ $ $t$, $1")
    assert [(t.kind, t.text) for t in tokens] == [
        ("word", "select"),
        ("string", "'x''y'"),
        ("punct", ","),
        ("ident", 'Q"q'),
        ("punct", ","),
        ("string", "$t$ $ $t$"),
        ("punct", ","),
        ("param", "$1"),
    ]


# -- fuzz ----------------------------------------------------------------------------------

_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40)


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_any_string_literal_is_data(content: str) -> None:
    check_query("SELECT '" + content.replace("'", "''") + "' AS s")


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_any_dollar_quoted_string_is_data(content: str) -> None:
    if "$q$" in content:
        return
    check_query(f"SELECT $q${content}$q$ AS s")


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_any_quoted_identifier_is_a_name(content: str) -> None:
    if not content:
        return
    check_query('SELECT 1 AS "' + content.replace('"', '""') + '"')


_GAPS = st.sampled_from([" ", "\n", "\t", "/**/", "/* x */", "-- c\n", "/* /* n */ */"])


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(DENIED_FUNCTIONS | {"pg_read_file", "lo_export", "pg_advisory_lock"})),
    st.lists(st.booleans(), min_size=30, max_size=30),
    _GAPS,
    _GAPS,
    st.sampled_from(["", "pg_catalog.", '"pg_catalog".', "pg_catalog /**/ . "]),
    st.booleans(),
)
def test_a_denied_call_is_refused_however_spelled(
    name: str, upper: list[bool], gap1: str, gap2: str, schema: str, quoted: bool
) -> None:
    spelled = "".join(c.upper() if u else c for c, u in zip(name, upper, strict=False))
    spelled += name[len(spelled) :]
    if quoted:
        spelled = f'"{spelled}"'
    with pytest.raises(UnsafeSqlError, match="is not allowed"):
        check_query(f"SELECT{gap1}{schema}{spelled}{gap2}(1)")


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["COPY t TO PROGRAM 'x'", "DELETE FROM t", "SET role = x", "DO $$ $$"]),
    st.lists(st.booleans(), min_size=30, max_size=30),
    _GAPS,
)
def test_a_denied_statement_is_refused_however_spelled(
    statement: str, upper: list[bool], gap: str
) -> None:
    spelled = "".join(c.upper() if u else c.lower() for c, u in zip(statement, upper, strict=False))
    spelled += statement[len(spelled) :]
    for text in (gap + spelled, f"SELECT 1;{gap}{spelled}"):
        with pytest.raises(UnsafeSqlError):
            check_query(text)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80))
def test_the_tokenizer_only_ever_refuses(text: str) -> None:
    try:
        check_query(text)
        check_condition(text)
    except UnsafeSqlError:
        pass
