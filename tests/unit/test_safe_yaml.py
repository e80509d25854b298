"""YAML from someone else: size, alias expansion and recursive aliases are refused."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from dataquarantine.safe_yaml import (
    MAX_YAML_BYTES,
    MAX_YAML_NODES,
    YamlLimitError,
    load_yaml,
    read_yaml,
)


def laughs(levels: int, width: int = 10, indent: str = "") -> str:
    """The classic billion-laughs document: each anchor is ``width`` aliases of the previous."""
    lines = [f'{indent}l0: &l0 ["lol"]']
    for i in range(1, levels + 1):
        lines.append(f"{indent}l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_before_anything_is_built() -> None:
    started = time.perf_counter()
    with pytest.raises(YamlLimitError, match="expands to more than"):
        load_yaml(laughs(9))
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    "text",
    [
        laughs(30, width=2),  # doubling: few aliases per line, many lines
        laughs(3, width=200),  # wide: many aliases on few lines
        # a bomb behind a mapping merge key
        "a: &a {k0: 0, k1: 1, k2: 2, k3: 3, k4: 4, k5: 5, k6: 6, k7: 7, k8: 8, k9: 9}\n"
        + "".join(
            f"m{i}: &m{i} [" + ", ".join(["*" + ("a" if i == 0 else f"m{i - 1}")] * 10) + "]\n"
            for i in range(6)
        ),
    ],
)
def test_other_bomb_shapes_are_refused(text: str) -> None:
    with pytest.raises(YamlLimitError):
        load_yaml(text)


@pytest.mark.parametrize("text", ["a: &x [1, *x]\n", "a: &x {b: {c: *x}}\n"])
def test_recursive_alias_is_refused(text: str) -> None:
    with pytest.raises(YamlLimitError, match="recursive alias"):
        load_yaml(text)


def test_moderate_anchors_still_work() -> None:
    text = """
defaults: &defaults {type: string, maxLength: 40}
props:
  a: *defaults
  b: {<<: *defaults, minLength: 1}
  c: *defaults
"""
    data = load_yaml(text)
    assert data["props"]["a"] == {"type": "string", "maxLength": 40}
    assert data["props"]["b"] == {"type": "string", "maxLength": 40, "minLength": 1}
    # a small laugh is fine: 3 levels of 10 aliases is about a thousand nodes
    assert len(load_yaml(laughs(3))["l3"]) == 10


def test_same_data_as_safe_load() -> None:
    text = "a: [1, 2.5, true, null, '2024-01-01']\nb: {c: d}\n"
    assert load_yaml(text) == yaml.safe_load(text)
    assert load_yaml("") is None


def test_yaml_limit_error_is_a_yaml_error() -> None:
    assert issubclass(YamlLimitError, yaml.YAMLError)
    assert MAX_YAML_NODES >= 100_000


def test_file_size_limit(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# " + b"x" * MAX_YAML_BYTES + b"\n")
    with pytest.raises(YamlLimitError, match="larger than"):
        read_yaml(big)
    ok = tmp_path / "ok.yaml"
    ok.write_text("a: 1\n")
    assert read_yaml(ok) == {"a": 1}


_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=20)
_data = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=30,
)


@given(_data)
def test_plain_documents_load_as_safe_load_does(data: object) -> None:
    text = yaml.safe_dump(data)
    assert load_yaml(text) == yaml.safe_load(text) == data
