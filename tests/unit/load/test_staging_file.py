"""``load.staging`` files resolve inside the contract's folder, links included (as ``$ref``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataquarantine.errors import ConfigError
from dataquarantine.load.staging import contained_file


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    contracts = tmp_path / "contracts"
    (contracts / "data").mkdir(parents=True)
    (contracts / "data" / "calls.csv").write_text("a\n1\n")
    (tmp_path / "secret.csv").write_text("password\nhunter2\n")
    return contracts


def test_a_file_inside_the_folder(folder: Path) -> None:
    assert contained_file(folder, "data/calls.csv") == (folder / "data" / "calls.csv").resolve()
    # A link that stays inside is fine.
    (folder / "inside.csv").symlink_to(folder / "data" / "calls.csv")
    assert contained_file(folder, "inside.csv") == (folder / "data" / "calls.csv").resolve()


@pytest.mark.parametrize("name", ["../secret.csv", "data/../../secret.csv", "/etc/passwd.csv"])
def test_escapes_are_refused(folder: Path, name: str) -> None:
    with pytest.raises(ConfigError, match="outside the contract's folder"):
        contained_file(folder, name)


def test_a_link_out_of_the_folder_is_refused(folder: Path) -> None:
    (folder / "link.csv").symlink_to(folder.parent / "secret.csv")
    (folder / "dir").symlink_to(folder.parent)
    for name in ("link.csv", "dir/secret.csv"):
        with pytest.raises(ConfigError, match="outside the contract's folder"):
            contained_file(folder, name)


def test_no_folder_no_file() -> None:
    with pytest.raises(ConfigError, match="needs a contract folder"):
        contained_file(None, "calls.csv")
