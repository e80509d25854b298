from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataquarantine.contracts.version import Version


def test_semver_precedence_follows_the_spec() -> None:
    ordered = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.2.0",
        "1.10.0",
        "2.0.0",
    ]
    parsed = [Version.parse(v) for v in ordered]
    assert sorted(reversed(parsed)) == parsed


def test_build_metadata_is_ignored_for_ordering() -> None:
    assert Version.parse("1.0.0+build.1") == Version.parse("1.0.0+other")
    assert str(Version.parse("1.0.0-rc.1+b7")) == "1.0.0-rc.1+b7"


@pytest.mark.parametrize("bad", ["1", "1.0", "01.0.0", "1.0.0-", "v1.0.0", "1.0.0.0", ""])
def test_rejects_non_semver(bad: str) -> None:
    with pytest.raises(ValueError, match="semantic version"):
        Version.parse(bad)


@given(st.tuples(st.integers(0, 999), st.integers(0, 999), st.integers(0, 999)))
def test_round_trip(parts: tuple[int, int, int]) -> None:
    text = ".".join(map(str, parts))
    assert str(Version.parse(text)) == text
    assert Version.parse(text) == Version(*parts)
