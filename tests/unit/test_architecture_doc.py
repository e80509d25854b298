"""docs/architecture.md's layer table says what the import-linter `layers` contract enforces."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROW = re.compile(r"^\| (?P<layer>[a-z]+) \| `(?P<package>[a-z_]+)(?:/|\.py)` \|")


def _documented_layers() -> list[set[str]]:
    layers: list[tuple[str, set[str]]] = []
    for line in (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8").splitlines():
        row = ROW.match(line)
        if row is None:
            continue
        if not layers or layers[-1][0] != row["layer"]:
            layers.append((row["layer"], set()))
        layers[-1][1].add(row["package"])
    return [packages for _, packages in layers]


def _enforced_layers() -> list[set[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contract = next(c for c in config["tool"]["importlinter"]["contracts"] if c["id"] == "layers")
    return [{name.strip() for name in layer.split("|")} for layer in contract["layers"]]


def test_the_layer_table_matches_the_import_linter_contract() -> None:
    assert _documented_layers() == _enforced_layers()


def test_every_package_is_in_the_layer_table() -> None:
    package = ROOT / "src" / "dataquarantine"
    modules = {p.name for p in package.iterdir() if (p / "__init__.py").exists()}
    modules |= {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    documented = set().union(*_documented_layers())
    assert modules == documented
