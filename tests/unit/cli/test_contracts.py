"""``dataquarantine contracts``: push, pull, list, show and diff against every registry kind
(a folder, PostgreSQL with a schema per test, S3 on moto_server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from dataquarantine.cli.app import app
from dataquarantine.cli.common import EXIT_OK, EXIT_USAGE
from dataquarantine.extras import EXTRAS

KINDS = [
    "file",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("s3", marks=pytest.mark.s3),
]


def _contract(version: str, required: list[str], **extra: object) -> dict[str, object]:
    return {
        "name": "orders",
        "version": version,
        "schema": {
            "type": "object",
            "required": required,
            "properties": {"id": {"type": "string"}, "note": {"type": "string"}},
        },
        **extra,
    }


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Two versions written by hand, the second with its schema in a file."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "orders-1.0.0.yaml").write_text(yaml.safe_dump(_contract("1.0.0", ["id"])))
    second = _contract("1.1.0", ["id"])
    (src / "orders.schema.json").write_text(json.dumps(second.pop("schema")))
    second["schema_file"] = "orders.schema.json"
    (src / "orders-1.1.0.yaml").write_text(yaml.safe_dump(second))
    return src


@pytest.fixture(params=KINDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "file":
        (tmp_path / "registry").mkdir()
        return f"file://{tmp_path / 'registry'}"
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_schema_url"))
    target = request.getfixturevalue("s3_target")
    return f"s3://{target.bucket}/contracts"


def cli(url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["contracts", *args, "--contracts-url", url])
    return result.exit_code, result.output


def test_push_is_idempotent_and_versions_are_immutable(
    url: str, folder: Path, tmp_path: Path
) -> None:
    code, out = cli(url, "push", str(folder), "--actor", "alice")
    assert code == EXIT_OK, out
    assert "registered: orders@1.0.0 (first)" in out
    assert "registered: orders@1.1.0 (compatible)" in out
    code, out = cli(url, "push", str(folder))
    assert code == EXIT_OK, out
    assert out.count("unchanged") == 2
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(_contract("1.0.0", ["id", "note"])))
    code, out = cli(url, "push", str(changed))
    assert code == EXIT_USAGE
    assert "immutable" in out


def test_an_incompatible_version_needs_compatibility_none(url: str, tmp_path: Path) -> None:
    first, breaking = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(yaml.safe_dump(_contract("1.0.0", ["id"])))
    breaking.write_text(yaml.safe_dump(_contract("2.0.0", ["id", "note"])))
    assert cli(url, "push", str(first))[0] == EXIT_OK
    code, out = cli(url, "push", str(breaking))
    assert code == EXIT_USAGE and "not backward compatible" in out
    code, out = cli(url, "push", str(breaking), "--compatibility", "none")
    assert code == EXIT_OK and "registered: orders@2.0.0 (incompatible)" in out


def test_list_show_diff_and_a_pull_push_round_trip(url: str, folder: Path, tmp_path: Path) -> None:
    assert cli(url, "push", str(folder), "--actor", "alice")[0] == EXIT_OK
    code, out = cli(url, "list", "--json")
    assert code == EXIT_OK, out
    rows = json.loads(out)
    assert [(r["version"], r["latest"], r["registered_by"]) for r in rows] == [
        ("1.0.0", False, "alice"),
        ("1.1.0", True, "alice"),
    ]
    code, out = cli(url, "show", "orders", "--json")
    shown = json.loads(out)
    assert shown["ref"] == "orders@1.1.0" and shown["verdict"] == "compatible"
    assert "schema" in shown["definition"] and "schema_file" not in shown["definition"]
    code, out = cli(url, "diff", "orders", "1.0.0", "1.1.0")
    assert code == EXIT_OK
    assert "orders@1.1.0 is backward compatible with orders@1.0.0" in out

    pulled = tmp_path / "pulled"
    code, out = cli(url, "pull", str(pulled))
    assert code == EXIT_OK and "2 new version(s)" in out
    assert sorted(p.name for p in pulled.glob("*.yaml")) == [
        "orders@1.0.0.yaml",
        "orders@1.1.0.yaml",
    ]
    assert cli(url, "pull", str(pulled))[1].startswith("0 new version(s)")
    # The pulled folder is a registry of its own with the same versions and registrations...
    code, out = cli(f"file://{pulled}", "list", "--json")
    assert [(r["version"], r["registered_by"]) for r in json.loads(out)] == [
        ("1.0.0", "alice"),
        ("1.1.0", "alice"),
    ]
    # ...and pushing it back changes nothing.
    code, out = cli(url, "push", str(pulled))
    assert code == EXIT_OK and out.count("unchanged") == 2


@pytest.mark.parametrize(
    ("extra", "url"),
    [("postgres", "postgresql://127.0.0.1:1/db"), ("s3", "s3://bucket/prefix")],
)
def test_a_registry_without_its_extra_exits_2_naming_it(
    monkeypatch: pytest.MonkeyPatch, extra: str, url: str
) -> None:
    monkeypatch.setitem(EXTRAS, extra, ("dataquarantine_no_such_module",))  # type: ignore[index]
    code, out = cli(url, "list")
    assert code == EXIT_USAGE
    assert f"'{extra}' extra" in out


def test_a_registry_that_is_down_fails_with_a_clear_message(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["contracts", "list", "--contracts-url", "postgresql://postgres@127.0.0.1:1/test"],
        env={"DQ_CONTRACTS_CACHE": ""},
    )
    assert result.exit_code == 1
    assert "unreachable" in result.output and "no local cache" in result.output
