"""The ``load:`` section of a contract: identifiers, defaults and consistency."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataquarantine.contracts.loader import spec_from_dict
from dataquarantine.errors import ContractSyntaxError


def _spec(**load: Any) -> Any:
    section = {"staging": "staging_calls", "target": "calls", "conflict_key": ["call_id"]}
    section.update(load)
    return spec_from_dict(
        {"name": "calls", "version": "1.0.0", "schema": {"type": "object"}, "load": section}
    )


def test_defaults() -> None:
    load = _spec().load
    assert load.batch_size == 100_000
    assert load.update_columns is None
    assert load.track_changes == ()
    assert not load.staging_is_file
    assert load.history_table == "calls_history"


def test_schema_qualified_names_and_files() -> None:
    load = _spec(staging="raw.calls", target="silver.calls").load
    assert (load.staging, load.target, load.history_table) == (
        "raw.calls",
        "silver.calls",
        "silver.calls_history",
    )
    assert _spec(staging="data/calls.csv").load.staging_is_file
    assert _spec(staging="calls.PARQUET").load.staging_is_file


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("target", "x; DROP TABLE y"),
        ("target", 'calls"--'),
        ("staging", "staging; DELETE FROM calls"),
        ("target", "a.b.c"),
        ("conflict_key", ["id; --"]),
        ("conflict_key", ["s.id"]),
        ("update_columns", ["ok", "bad col"]),
        ("track_changes", ["1abc"]),
    ],
)
def test_unsafe_identifiers_are_refused(field: str, value: Any) -> None:
    with pytest.raises(ContractSyntaxError, match="not a plain"):
        _spec(**{field: value})


@pytest.mark.parametrize(
    ("load", "message"),
    [
        ({"conflict_key": []}, "conflict_key"),
        ({"update_columns": ["call_id"]}, "must not contain conflict_key"),
        ({"track_changes": ["call_id"]}, "must not contain conflict_key"),
        ({"update_columns": ["a"], "track_changes": ["b"]}, "among update_columns"),
        ({"update_columns": ["a", "a"]}, "listed twice"),
        ({"batch_size": 0}, "batch_size"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_inconsistent_sections_are_refused(load: dict[str, Any], message: str) -> None:
    with pytest.raises(ContractSyntaxError, match=message):
        _spec(**load)


@given(st.text(min_size=1, max_size=80))
def test_any_accepted_table_name_is_a_plain_identifier(name: str) -> None:
    try:
        load = _spec(target=name).load
    except ContractSyntaxError:
        return
    for part in load.target.split("."):
        assert part.isascii() and (part[0].isalpha() or part[0] == "_")
        assert all(c.isalnum() or c == "_" for c in part)


@pytest.mark.parametrize(
    "value",
    [
        "/etc/passwd.csv",
        "//server/share/x.csv",
        "\\\\server\\share\\x.csv",
        "C:/data/x.csv",
        "c:x.parquet",
        "~/x.jsonl",
        "~root/x.csv",
        "../x.csv",
        "data/../../x.csv",
        "data\\..\\..\\x.ndjson",
        "./../x.csv",
        "a/b/../../../x.parquet",
        "x\x00.csv",
    ],
)
def test_a_staging_file_must_stay_inside_the_contracts_folder(value: str) -> None:
    with pytest.raises(ContractSyntaxError, match=r"load\.staging: .*contract's folder"):
        _spec(staging=value)


@pytest.mark.parametrize("value", ["calls.csv", "data/calls.csv", "./data/x.jsonl", "a..b.csv"])
def test_relative_staging_files_inside_the_folder(value: str) -> None:
    assert _spec(staging=value).load.staging == value


@given(st.lists(st.sampled_from(["a", "b", "..", ".", "c d"]), min_size=1, max_size=6))
def test_staging_paths_with_dotdot_are_refused(parts: list[str]) -> None:
    value = "/".join([*parts, "x.csv"])
    if ".." in parts:
        with pytest.raises(ContractSyntaxError):
            _spec(staging=value)
    else:
        assert _spec(staging=value).load.staging_is_file


# -- names and file names: injective, one plain path component ---------------------------------

_segment = st.from_regex(r"[a-z0-9_][a-z0-9_-]{0,6}", fullmatch=True)
_names = st.lists(_segment, min_size=1, max_size=4).map(".".join)
_versions = st.from_regex(
    r"(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})(-[A-Za-z][0-9A-Za-z-]{0,4}(\.[A-Za-z][0-9A-Za-z-]{0,4}){0,2})?",
    fullmatch=True,
)


@given(_names, _versions, _names, _versions)
def test_file_names_are_injective_plain_components(n1: str, v1: str, n2: str, v2: str) -> None:
    a = spec_from_dict({"name": n1, "version": v1, "schema": {}})
    b = spec_from_dict({"name": n2, "version": v2, "schema": {}})
    for spec in (a, b):
        assert "/" not in spec.file_name and "\\" not in spec.file_name
        assert not spec.file_name.startswith(".")
        assert spec.file_name.count("@") == 1
    if (a.name, str(a.version)) != (b.name, str(b.version)):
        assert a.file_name != b.file_name
