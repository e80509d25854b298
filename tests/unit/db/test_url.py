"""Parsing of metadata-store URLs (``sqlite:///...``, ``postgresql://...``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataquarantine.db.url import PostgresTarget, SqliteTarget, parse_store_url
from dataquarantine.errors import ConfigError, UnsafeIdentifierError
from dataquarantine.quarantine.sql import open_store


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///relative/q.db", Path("relative/q.db")),
        ("sqlite:////absolute/q.db", Path("/absolute/q.db")),
        ("sqlite:///:memory:", None),
        ("SQLite:///q.db", Path("q.db")),  # schemes are case-insensitive
    ],
)
def test_parse_sqlite_urls(url: str, path: Path | None) -> None:
    assert parse_store_url(url) == SqliteTarget(path)


def test_parse_postgres_urls() -> None:
    target = parse_store_url(
        "postgresql://dq:s3cret@db.example:5433/app?schema=Dq_1&sslmode=require"
    )
    assert isinstance(target, PostgresTarget)
    assert target.schema == "Dq_1"
    assert target.conninfo == "postgresql://dq:s3cret@db.example:5433/app?sslmode=require"
    assert "s3cret" not in target.display
    assert "s3cret" not in repr(open_store("postgres://dq:s3cret@db.example/app"))
    assert parse_store_url("postgres://u@h/db") == PostgresTarget(
        "postgres://u@h/db", None, "postgres://u@h/db"
    )


@pytest.mark.parametrize(
    "url",
    [
        "mysql://u@h/db",
        "no-scheme",
        "sqlite://host/q.db",
        "sqlite:///",
        "sqlite:///q.db?mode=ro",
        "postgresql://u@h:notaport/db",
        "postgresql://u@h/db?schema=a&schema=b",
        "postgresql://u@h/db#frag",
        "postgresql://u@h/db?no_such_libpq_parameter=1",
    ],
)
def test_malformed_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        open_store(url)


@pytest.mark.parametrize("schema", ["", "a-b", "x;drop", '"q"', "1abc", "a b", "é", "x" * 64])
def test_unsafe_schema_names_are_refused(schema: str) -> None:
    with pytest.raises(UnsafeIdentifierError):
        open_store(f"postgresql://u@h/db?schema={schema}")


@given(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,62}", fullmatch=True))
def test_plain_schema_names_are_accepted(schema: str) -> None:
    target = parse_store_url(f"postgresql://u@h/db?schema={schema}&connect_timeout=3")
    assert isinstance(target, PostgresTarget)
    assert target.schema == schema
    assert target.conninfo == "postgresql://u@h/db?connect_timeout=3"
