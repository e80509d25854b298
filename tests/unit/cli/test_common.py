"""The CLI's shared exit-code mapping and settings resolution (cli/common.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from dataquarantine.cli.common import (
    EXIT_OK,
    EXIT_RUNTIME,
    EXIT_USAGE,
    exit_codes,
    settings_from,
)
from dataquarantine.errors import (
    ConfigError,
    ContractNotFoundError,
    MissingExtraError,
    StoreIntegrityError,
    StoreUnavailableError,
)


def _exit_code(exc: BaseException) -> int:
    with pytest.raises(typer.Exit) as caught, exit_codes():
        raise exc
    return caught.value.exit_code


def test_missing_extra_exits_2_naming_the_extra(capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code(MissingExtraError("kafka", "dataquarantine stream")) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "dataquarantine stream needs the 'kafka' extra" in err
    assert "dataquarantine[kafka]" in err  # the brackets are text, not Rich markup


@pytest.mark.parametrize(
    "exc",
    [ConfigError("bad URL"), ContractNotFoundError("no contract orders")],
    ids=["config", "contract-not-found"],
)
def test_usage_and_contract_errors_exit_2(exc: Exception) -> None:
    assert _exit_code(exc) == EXIT_USAGE


@pytest.mark.parametrize(
    "exc",
    [StoreUnavailableError("store down"), StoreIntegrityError("corrupt"), OSError("disk full")],
    ids=["transient", "terminal", "oserror"],
)
def test_runtime_errors_exit_1(exc: Exception) -> None:
    assert _exit_code(exc) == EXIT_RUNTIME


def test_credentials_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    _exit_code(StoreUnavailableError("cannot reach postgresql://dq:s3cret@db:5432/dq"))
    assert "s3cret" not in capsys.readouterr().err


def test_other_exceptions_pass_through() -> None:
    with pytest.raises(KeyError), exit_codes():
        raise KeyError("a bug")


def test_no_error_no_exit() -> None:
    with exit_codes():
        pass


def test_a_bad_option_is_a_usage_error() -> None:
    from dataquarantine.cli.app import app

    result = CliRunner().invoke(app, ["validate", "--no-such-option", "x.jsonl"])
    assert result.exit_code == EXIT_USAGE
    assert CliRunner().invoke(app, ["contracts", "--help"]).exit_code == EXIT_OK


def test_options_override_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DQ_STORE_URL", "sqlite:///from-env.db")
    monkeypatch.setenv("DQ_PAYLOADS_URL", "file://from-env")
    settings = settings_from(tmp_path, None, "file://from-option")
    assert settings.contracts_dir == tmp_path
    assert settings.store_url == "sqlite:///from-env.db"
    assert settings.payloads_url == "file://from-option"


def test_an_invalid_setting_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DQ_BATCH_SIZE", "many")
    with pytest.raises(ConfigError, match="DQ_BATCH_SIZE"):
        settings_from(None, None, None)
