"""Registry URLs, fingerprints and the immutability rule of contract sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataquarantine.contracts.loader import spec_from_dict
from dataquarantine.contracts.source import (
    StoredContract,
    fingerprint_of,
    parse_contracts_url,
    same_version,
)
from dataquarantine.errors import ConfigError, DuplicateContractError


@pytest.mark.parametrize(
    ("url", "kind", "directory"),
    [
        ("file://contracts", "file", Path("contracts")),
        ("file:///srv/contracts", "file", Path("/srv/contracts")),
        ("contracts/sub", "file", Path("contracts/sub")),
        ("postgresql://u:secret@db/dq?schema=reg", "postgresql", None),
        ("postgres://db/dq", "postgresql", None),
        ("s3://bucket/prefix", "s3", None),
    ],
)
def test_registry_urls(url: str, kind: str, directory: Path | None) -> None:
    parsed = parse_contracts_url(url)
    assert (parsed.kind, parsed.directory) == (kind, directory)


@pytest.mark.parametrize("url", ["", "file://", "s3:///prefix", "http://x/y"])
def test_bad_registry_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        parse_contracts_url(url)


def test_an_unknown_scheme_never_shows_a_password() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_contracts_url("mysql://user:hunter2@db/x")
    assert "hunter2" not in str(caught.value)


def test_the_fingerprint_ignores_key_order_and_the_file() -> None:
    assert fingerprint_of({"a": 1, "b": [1, 2]}) == fingerprint_of({"b": [1, 2], "a": 1})
    doc = {"name": "orders", "version": "1.0.0", "schema": {"type": "object"}}
    from_file = spec_from_dict(doc, source=Path("/x/orders.yaml"))
    assert (
        StoredContract.of(from_file).fingerprint
        == StoredContract.of(spec_from_dict(doc)).fingerprint
    )


def test_the_same_body_is_a_no_op_and_another_is_refused() -> None:
    doc = {"name": "orders", "version": "1.0.0", "schema": {"type": "object"}}
    one = StoredContract.of(spec_from_dict(doc), registered_by="alice")
    assert same_version(None, one) is False
    assert same_version(one, StoredContract.of(spec_from_dict(doc), registered_by="bob")) is True
    other = StoredContract.of(spec_from_dict({**doc, "description": "changed"}))
    with pytest.raises(DuplicateContractError, match="immutable"):
        same_version(one, other)
