"""The one logging setup (infra/logs.py): JSON and text lines, their fields, masking, defaults."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from dataquarantine.infra.logs import (
    CONTEXT_FIELDS,
    LogFormat,
    LogLevel,
    bind,
    bound,
    configure,
    log_context,
    resolve_format,
)

log = logging.getLogger("dataquarantine.test")


@pytest.fixture(autouse=True)
def restore_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("DQ_LOG_FORMAT", raising=False)
    monkeypatch.delenv("DQ_LOG_LEVEL", raising=False)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    bind(**dict.fromkeys(CONTEXT_FIELDS))


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_a_json_line_has_the_common_fields_and_those_that_apply(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert configure(LogFormat.JSON, LogLevel.INFO, command="stream", run_id="r1") is LogFormat.JSON
    log.info("assigned %s", "raw[0]", extra={"topic": "raw", "partition": 0, "offset": 42})
    (line,) = json_lines(capsys.readouterr().err)
    assert line == {
        "ts": line["ts"],
        "level": "info",
        "logger": "dataquarantine.test",
        "msg": "assigned raw[0]",
        "command": "stream",
        "run_id": "r1",
        "topic": "raw",
        "partition": 0,
        "offset": 42,
    }
    assert str(line["ts"]).endswith("Z") and "T" in str(line["ts"])


def test_secrets_are_masked_in_messages_fields_and_tracebacks(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(LogFormat.JSON, LogLevel.INFO, command="load", run_id="r2")
    url = "postgresql://loader:hunter2secret@db/prod"
    try:
        raise RuntimeError(f"cannot connect to {url}")
    except RuntimeError:
        log.exception("store %s down", url, extra={"contract": "orders"})
    err = capsys.readouterr().err
    assert "hunter2secret" not in err
    (line,) = json_lines(err)
    assert line["msg"] == "store postgresql://loader:***@db/prod down"
    assert "RuntimeError: cannot connect to postgresql://loader:***@db/prod" in str(line["exc"])
    assert line["contract"] == "orders"


def test_text_lines_for_people(capsys: pytest.CaptureFixture[str]) -> None:
    configure(LogFormat.TEXT, LogLevel.INFO, command="serve", run_id="r3")
    log.warning("slow %s", "store")
    err = capsys.readouterr().err
    assert "warning dataquarantine.test: slow store  [command=serve run_id=r3]" in err
    assert not err.startswith("{")


def test_the_default_is_text_on_a_terminal_and_json_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert resolve_format(None, Terminal()) is LogFormat.TEXT
    assert resolve_format(None, io.StringIO()) is LogFormat.JSON
    monkeypatch.setenv("DQ_LOG_FORMAT", "text")
    assert resolve_format(None, io.StringIO()) is LogFormat.TEXT
    assert resolve_format("json", Terminal()) is LogFormat.JSON


def test_the_level_option_then_the_environment_then_the_default(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(LogFormat.JSON, default_level=LogLevel.WARNING)
    log.info("hidden")
    log.warning("shown")
    assert [x["msg"] for x in json_lines(capsys.readouterr().err)] == ["shown"]
    monkeypatch.setenv("DQ_LOG_LEVEL", "debug")
    configure(LogFormat.JSON, default_level=LogLevel.WARNING)
    log.debug("debug too")
    assert [x["msg"] for x in json_lines(capsys.readouterr().err)] == ["debug too"]
    configure(LogFormat.JSON, LogLevel.ERROR)
    log.warning("not at error")
    assert capsys.readouterr().err == ""


def test_context_is_scoped_and_a_new_setup_replaces_the_old(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(LogFormat.JSON, LogLevel.INFO, command="validate", run_id="r4")
    configure(LogFormat.JSON, LogLevel.INFO, command="validate", run_id="r5")
    assert bound("run_id") == "r5"
    with log_context(contract="orders", batch=3):
        log.info("inside")
    log.info("outside")
    inside, outside = json_lines(capsys.readouterr().err)  # one handler: one line each
    assert (inside["contract"], inside["batch"], inside["run_id"]) == ("orders", 3, "r5")
    assert "contract" not in outside and "batch" not in outside
