from __future__ import annotations

import logging
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataquarantine.db.url import parse_store_url
from dataquarantine.errors import ConfigError, StoreUnavailableError
from dataquarantine.masking import MaskingFilter, is_secret_key, mask_secrets
from dataquarantine.quarantine.payloads import open_payload_store


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("postgresql://u:PW@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgresql://h/db?user=u&password=PW", "postgresql://h/db?user=u&password=***"),
        ("postgresql://h/db?user=u&PassWord=PW&x=1", "postgresql://h/db?user=u&PassWord=***&x=1"),
        ("postgresql://h/db?pass%77ord=PW", "postgresql://h/db?pass%77ord=***"),
        (
            "postgresql://h/db?sslpassword=PW&sslkey=/k.pem",
            "postgresql://h/db?sslpassword=***&sslkey=/k.pem",
        ),
        (
            "postgresql://h/db?passfile=/home/u/.pgpass",
            "postgresql://h/db?passfile=/home/u/.pgpass",
        ),
        ("postgresql://u:p@ss@h/db", "postgresql://u:***@h/db"),
        ("host=h user=u password=PW dbname=d", "host=h user=u password=*** dbname=d"),
        ("host=h password='p w\\' x' dbname=d", "host=h password=*** dbname=d"),
        ("s3://AKIA:abc/def+ghi@bucket/p", "s3://AKIA:***@bucket/p"),
        (
            "s3://b/p?aws_secret_access_key=S&aws_session_token=T",
            "s3://b/p?aws_secret_access_key=***&aws_session_token=***",
        ),
        (
            "https://s3/o?X-Amz-Signature=abc&X-Amz-Credential=c",
            "https://s3/o?X-Amz-Signature=***&X-Amz-Credential=***",
        ),
        ("sasl.password=abc, ssl.key.password=def", "sasl.password=***, ssl.key.password=***"),
        ("https://user@github.com/x", "https://user@github.com/x"),
        ("postgresql://h:5432/db?schema=s", "postgresql://h:5432/db?schema=s"),
        ("record.password == 'x'", "record.password == 'x'"),
    ],
)
def test_every_credential_form_is_masked(text: str, masked: str) -> None:
    assert mask_secrets(text) == masked
    if "\\" not in text:  # repr() would double the backslash of a conninfo escape
        assert mask_secrets(f"error: {text!r}: failed") == f"error: {masked!r}: failed"


def test_a_driver_message_echoing_a_secret_is_masked_given_its_url() -> None:
    url = "postgresql://h/db?password=Pw%21long"
    echoed = 'invalid value "Pw!long" and "Pw%21long"'
    assert mask_secrets(echoed, url) == 'invalid value "***" and "***"'


def test_secret_keys() -> None:
    for key in (
        "password",
        "PASSWORD",
        "sslpassword",
        "sasl.password",
        "api_token",
        "aws_secret_access_key",
        "X-Amz-Security-Token",
        "pass%77ord",
    ):
        assert is_secret_key(key), key
    for key in ("user", "host", "passfile", "sslkey", "sslcert", "schema"):
        assert not is_secret_key(key), key


_PASSWORDS = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1
)


@given(_PASSWORDS)
def test_any_password_percent_encoded_is_masked(password: str) -> None:
    encoded = quote(password, safe="")
    assert mask_secrets(f"postgresql://u:{encoded}@h/db") == "postgresql://u:***@h/db"
    assert mask_secrets(f"postgresql://h/db?password={encoded}&user=u") == (
        "postgresql://h/db?password=***&user=u"
    )
    assert parse_store_url(f"postgresql://u:{encoded}@h/db?password={encoded}").display == (
        "postgresql://u:***@h/db?password=***"
    )


@given(_PASSWORDS)
def test_any_raw_password_in_user_info_is_masked(password: str) -> None:
    """Unencoded too: '@', '/', '+', ':' and '#' are common in real passwords."""
    assert mask_secrets(f"postgresql://u:{password}@h/db") == "postgresql://u:***@h/db"


def test_errors_are_masked_at_construction() -> None:
    exc = StoreUnavailableError("postgresql://u:PW@h/db?password=PW2: refused")
    assert str(exc) == "postgresql://u:***@h/db?password=*** refused"
    with pytest.raises(ConfigError) as info:
        open_payload_store("s3://AKIA:SECRET/KEY@bucket/prefix")
    assert "SECRET" not in str(info.value)
    with pytest.raises(ConfigError) as info:
        open_payload_store("s3://bucket/prefix?aws_secret_access_key=SECRET")
    assert "SECRET" not in str(info.value)
    # An unencoded '/' makes the parser take part of the password for a port.
    with pytest.raises(ConfigError) as info:
        parse_store_url("postgresql://u:SECRET/KEY@h/db")
    assert "SECRET" not in str(info.value) and "KEY" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_the_logging_filter_masks_messages_arguments_and_tracebacks() -> None:
    record = logging.LogRecord(
        "dq", logging.WARNING, __file__, 1, "store %s down (%s)",
        ("postgresql://u:PW1@h/db", ValueError("password=PW2")), None,
    )  # fmt: skip
    try:
        raise RuntimeError("postgresql://h/db?password=PW3")
    except RuntimeError as exc:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    assert MaskingFilter().filter(record)
    text = logging.Formatter().format(record)
    assert "PW1" not in text and "PW2" not in text and "PW3" not in text
    assert "postgresql://u:***@h/db" in text


def test_the_commands_log_setup_masks_every_logger(capsys: pytest.CaptureFixture[str]) -> None:
    """serve hands uvicorn's loggers to the one setup of every command (infra/logs.py)."""
    from dataquarantine.infra.logs import CONTEXT_FIELDS, LogFormat, bind, configure

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        configure(LogFormat.TEXT, "info", command="serve")
        logging.getLogger("uvicorn.error").warning("db at %s", "postgresql://u:PW9@h/db")
        err = capsys.readouterr().err
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        bind(**dict.fromkeys(CONTEXT_FIELDS))
    assert "PW9" not in err and "uvicorn.error: db at postgresql://u:***@h/db" in err


def test_mask_logging_adds_the_filter_once() -> None:
    from dataquarantine.masking import mask_logging

    logger = logging.getLogger("dq-test-mask-logging")
    handler = logging.StreamHandler()
    logger.addHandler(handler)
    try:
        mask_logging(logger)
        mask_logging(logger)
        assert sum(isinstance(f, MaskingFilter) for f in handler.filters) == 1
    finally:
        logger.removeHandler(handler)
