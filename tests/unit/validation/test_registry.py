"""Contract registry (versions, latest, reload, duplicates) and the router."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from dataquarantine import ContractRegistry, ErrorCode, Router
from dataquarantine.errors import (
    ConfigError,
    ContractNotFoundError,
    DuplicateContractError,
    RuleCompileError,
)


def contract_yaml(version: str, required: str = "id", name: str = "order") -> str:
    return f"name: {name}\nversion: {version}\nschema: {{type: object, required: [{required}]}}\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "order").mkdir()
    (tmp_path / "order/v1.yaml").write_text(contract_yaml("1.0.0"))
    (tmp_path / "order/v1_10.yaml").write_text(contract_yaml("1.10.0", "total"))
    (tmp_path / "order/v2rc.yaml").write_text(contract_yaml("2.0.0-rc.1", "sku"))
    (tmp_path / "user.yml").write_text(contract_yaml("0.1.0", "name", name="user"))
    return tmp_path


def test_latest_is_the_highest_release(folder: Path) -> None:
    reg = ContractRegistry.from_directory(folder)
    assert len(reg) == 4
    assert reg.names() == ["order", "user"]
    assert reg.versions("order") == ["1.0.0", "1.10.0", "2.0.0-rc.1"]
    assert reg.get("order").version == "1.10.0"
    assert reg.get("order", "2.0.0-rc.1").version == "2.0.0-rc.1"
    assert reg.find("order@latest") is reg.get("order")
    assert reg.find("nope") is None and reg.find("order@9.9.9") is None
    with pytest.raises(ContractNotFoundError):
        reg.get("order", "3.0.0")


def test_duplicate_name_and_version_fails_naming_both_files(folder: Path) -> None:
    (folder / "again.yaml").write_text(contract_yaml("1.0.0"))
    with pytest.raises(DuplicateContractError) as info:
        ContractRegistry.from_directory(folder)
    assert "again.yaml" in str(info.value) and "v1.yaml" in str(info.value)


def test_a_bad_file_fails_fast(folder: Path) -> None:
    (folder / "bad.yaml").write_text(
        "name: bad\nversion: 1.0.0\nschema: {}\nrules: [{id: r, expr: 'record.a ++'}]\n"
    )
    with pytest.raises(RuleCompileError) as info:
        ContractRegistry.from_directory(folder)
    assert "bad.yaml" in str(info.value)


def test_missing_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        ContractRegistry.from_directory(tmp_path / "nope")


def test_refresh_picks_up_changes_and_keeps_old_contracts_on_error(folder: Path) -> None:
    reg = ContractRegistry.from_directory(folder)
    router = Router(reg)
    assert router.lookup("order") is reg.get("order")
    assert reg.refresh() is False
    (folder / "order/v3.yaml").write_text(contract_yaml("3.0.0"))
    assert reg.refresh() is True
    assert router.lookup("order").version == "3.0.0"
    path = folder / "order/v3.yaml"
    path.write_text("name: [broken")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with pytest.raises(Exception, match=r"v3\.yaml"):
        reg.refresh()
    assert reg.get("order").version == "3.0.0"


def test_router_routes_by_schema_field(folder: Path) -> None:
    router = Router(ContractRegistry.from_directory(folder))
    batch = router.validate_batch(
        [
            b'{"_schema": "order@1.0.0", "id": 1}',
            b'{"_schema": "order", "id": 1}',
            b'{"_schema": "order", "total": 1}',
            b'{"_schema": "ordr", "id": 1}',
            b'{"id": 1}',
            b"[1, 2]",
            b'{"_schema": 7}',
            b"{oops",
        ]
    )
    assert [str(c) if c else None for c in batch.contracts] == [
        "order@1.0.0",
        "order@1.10.0",
        "order@1.10.0",
        None,
        None,
        None,
        None,
        None,
    ]
    assert sorted(batch.invalid) == [1, 3, 4, 5, 6, 7]
    assert batch.invalid[1].errors[0].path == "/total"
    for i in (3, 4, 5, 6):
        (v,) = batch.invalid[i].errors
        assert v.code is ErrorCode.SCHEMA_NOT_FOUND and v.path == "/_schema"
    assert "ordr" in batch.invalid[3].errors[0].message
    assert batch.invalid[7].errors[0].code is ErrorCode.PARSE_ERROR
    assert batch.size == batch.valid_count + batch.invalid_count


def test_forced_contract(folder: Path) -> None:
    router = Router(ContractRegistry.from_directory(folder), contract="order@1.0.0")
    batch = router.validate_batch([orjson.dumps({"id": 1}), orjson.dumps({"_schema": "x"})])
    assert batch.valid_count == 1 and batch.invalid[1].errors[0].path == "/id"
    with pytest.raises(ContractNotFoundError):
        Router(ContractRegistry.from_directory(folder), contract="nope")


def test_text_rows_are_typed_by_the_contract(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(
        "name: row\nversion: 1.0.0\nschema:\n  type: object\n  properties:\n"
        "    qty: {type: integer}\n    code: {type: string}\n  required: [qty, code]\n"
    )
    router = Router(ContractRegistry.from_directory(tmp_path), contract="row")
    batch = router.validate_batch(
        [{"qty": "3", "code": "00123"}, {"qty": "3.5", "code": "x"}, {"qty": "1"}], text=True
    )
    assert batch.values[0] == {"qty": 3, "code": "00123"}
    assert sorted(batch.invalid) == [1, 2]
    assert batch.invalid[2].errors[0].path == "/code"
