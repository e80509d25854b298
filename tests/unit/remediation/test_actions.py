"""Each remediation action on its own: what it fixes, what it leaves, what it fails on."""

from __future__ import annotations

from typing import Any

import pytest

from dataquarantine.remediation.scalars import (
    FAIL,
    SKIP,
    coerce_float,
    coerce_int,
    e164_phone,
    lowercase,
    number_text,
    trim,
    uppercase,
)
from dataquarantine.remediation.timestamps import format_utc, iso_timestamp, parse_timestamp


@pytest.mark.parametrize(
    ("fix", "value", "expected"),
    [
        (trim, "  a b \t\n", "a b"),
        (trim, "ok", "ok"),
        (trim, 12, SKIP),
        (lowercase, "Ab@EXAMPLE.com", "ab@example.com"),
        (uppercase, "eur", "EUR"),
        (uppercase, None, SKIP),
        (lowercase, ["A"], SKIP),
    ],
)
def test_text_actions(fix: Any, value: Any, expected: Any) -> None:
    assert fix(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (" 42 ", 42),
        ("-7", -7),
        ("+7", 7),
        ("1,234", 1234),
        ("-1,234,567", -1234567),
        ("42.0", 42),
        ("1e3", 1000),
        (42.0, 42),
        ("12345678901234567890123", 12345678901234567890123),
        ("3.5", FAIL),
        (3.5, FAIL),
        ("1,5", FAIL),  # a decimal comma is ambiguous: never guessed
        ("12,34", FAIL),
        ("abc", FAIL),
        ("", FAIL),
        ("1e999999", FAIL),
        ("٣", FAIL),  # non-ASCII digits are not numbers here
        (42, SKIP),
        (True, SKIP),
        (None, SKIP),
    ],
)
def test_coerce_int(value: Any, expected: Any) -> None:
    result = coerce_int(value)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3.5", 3.5),
        (" -0.25 ", -0.25),
        ("1,234.5", 1234.5),
        ("42", 42.0),
        (".5", 0.5),
        ("1e-3", 0.001),
        ("1e999", FAIL),
        ("nan", FAIL),
        ("Infinity", FAIL),
        ("3,5", FAIL),
        (7, SKIP),
        (7.5, SKIP),
        (False, SKIP),
    ],
)
def test_coerce_float(value: Any, expected: Any) -> None:
    result = coerce_float(value)
    assert result == expected and type(result) is type(expected)


def test_number_text_only_takes_complete_groups() -> None:
    assert number_text(" 1,000,000.25 ") == "1000000.25"
    assert number_text("1,0000") is None
    assert number_text("1" * 101) is None


@pytest.mark.parametrize(
    ("region", "value", "expected"),
    [
        ("FR", "01 23 45 67 89", "+33123456789"),
        ("FR", "+33 1 23 45 67 89", "+33123456789"),
        (None, "+33 (0)1 23 45 67 89", "+33123456789"),
        ("US", "(650) 253-0000", "+16502530000"),
        ("US", 6502530000, "+16502530000"),
        ("GB", "020 7946 0958", "+442079460958"),
        (None, "0123456789", FAIL),  # no country code and no region
        ("FR", "12", FAIL),
        ("FR", "not a phone", FAIL),
        ("FR", "", FAIL),
        ("FR", 1.5, SKIP),
        ("FR", None, SKIP),
    ],
)
def test_e164_phone(region: str | None, value: Any, expected: Any) -> None:
    assert e164_phone(region)(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"),
        ("2024-05-01T12:00:00+02:00", "2024-05-01T10:00:00Z"),
        ("2024-05-01 10:00:00", "2024-05-01T10:00:00Z"),
        ("2024-05-01", "2024-05-01T00:00:00Z"),
        ("2024-05-01T10:00:00.123456789Z", "2024-05-01T10:00:00.123456Z"),
        ("2024-05-01T10:00:00.5Z", "2024-05-01T10:00:00.500Z"),
        ("01/05/2024 10:30", "2024-05-01T10:30:00Z"),
        ("01/05/2024 10:30:15", "2024-05-01T10:30:15Z"),
        ("01.05.2024", "2024-05-01T00:00:00Z"),
        ("2024/05/01 10:30", "2024-05-01T10:30:00Z"),
        ("1 May 2024 10:30:00", "2024-05-01T10:30:00Z"),
        ("Wed, 01 May 2024 12:00:00 +0200", "2024-05-01T10:00:00Z"),
        ("20240501", "2024-05-01T00:00:00Z"),
        ("20240501103000", "2024-05-01T10:30:00Z"),
        (1714557600, "2024-05-01T10:00:00Z"),
        ("1714557600", "2024-05-01T10:00:00Z"),
        (1714557600123, "2024-05-01T10:00:00.123Z"),
        (1714557600.5, "2024-05-01T10:00:00.500Z"),
        (1714557600123456, "2024-05-01T10:00:00.123456Z"),
        (1714557600123456789, "2024-05-01T10:00:00.123456Z"),
        ("yesterday", FAIL),
        ("2024-13-45", FAIL),
        ("32/01/2024", FAIL),
        ("", FAIL),
        (10**30, FAIL),
        (True, SKIP),
        (None, SKIP),
        ({"at": 1}, SKIP),
    ],
)
def test_iso_timestamp(value: Any, expected: Any) -> None:
    assert iso_timestamp()(value) == expected


def test_iso_timestamp_options() -> None:
    us = iso_timestamp(formats=("%m/%d/%Y %H:%M",))
    assert us("05/01/2024 10:30") == "2024-05-01T10:30:00Z"  # own formats before built-ins
    assert iso_timestamp(epoch="milliseconds")(1000) == "1970-01-01T00:00:01Z"
    assert iso_timestamp(epoch="seconds")(1714557600123) == FAIL  # year 56000: out of range
    paris = iso_timestamp(timezone="Europe/Paris")
    assert paris("2024-05-01 12:00:00") == "2024-05-01T10:00:00Z"  # naive: in the rule's zone
    assert paris("2024-05-01T12:00:00Z") == "2024-05-01T12:00:00Z"  # an offset wins


def test_parse_and_format_round_trip() -> None:
    moment = parse_timestamp("2024-05-01T10:00:00.250+01:00")
    assert moment is not None
    assert format_utc(moment) == "2024-05-01T09:00:00.250Z"
    assert parse_timestamp(format_utc(moment)) == moment
