from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from dataquarantine.kernel.lifecycle import Status
from dataquarantine.kernel.results import ErrorCode
from dataquarantine.quarantine.envelope import QuarantineFilter
from dataquarantine.web.forms import RecordsQuery


def test_empty_query_is_the_empty_filter() -> None:
    query = RecordsQuery.from_params({})
    assert query.to_filter() == QuarantineFilter()
    assert (query.page, query.size) == (1, 50)
    assert not query.active
    assert query.url() == "/records"


def test_full_query_maps_to_the_filter_with_an_inclusive_until_day() -> None:
    query = RecordsQuery.from_params(
        {
            "contract": " orders ",
            "code": "schema_violation",
            "status": "quarantined",
            "kind": "kafka",
            "source": "orders.raw",
            "since": "2026-01-02",
            "until": "2026-01-03",
            "q": "email",
            "field": "/email",
            "page": "3",
            "size": "100",
        }
    )
    assert query.problems() == []
    assert query.to_filter() == QuarantineFilter(
        contract="orders",
        code=ErrorCode.SCHEMA_VIOLATION,
        status=Status.QUARANTINED,
        source_kind="kafka",
        source_name="orders.raw",
        since=datetime(2026, 1, 2, tzinfo=UTC),
        until=datetime(2026, 1, 4, tzinfo=UTC),
        text="email",
        path="/email",
    )
    assert (query.page, query.size) == (3, 100)


def test_bad_values_are_ignored_and_reported() -> None:
    query = RecordsQuery.from_params(
        {
            "code": "nope",
            "status": "x",
            "since": "yesterday",
            "page": "-1",
            "size": "7",
            "kind": "s3",
        }
    )
    assert query.to_filter() == QuarantineFilter()
    assert len(query.problems()) == 4
    assert (query.page, query.size) == (1, 50)


def test_url_round_trips_and_applies_changes() -> None:
    query = RecordsQuery.from_params({"contract": "a&b=c", "q": "x y", "page": "2"})
    url = query.url(page=3)
    parts = urlsplit(url)
    assert parts.path == "/records"
    again = RecordsQuery.from_params(dict(parse_qsl(parts.query)))
    assert again.contract == "a&b=c" and again.q == "x y" and again.page == 3
    assert "page" not in query.url(page=1)


@given(st.dictionaries(st.sampled_from(["contract", "q", "page", "size", "since"]), st.text()))
def test_any_params_give_a_filter(params: dict[str, str]) -> None:
    query = RecordsQuery.from_params(params)
    query.to_filter()
    assert query.page >= 1
    assert len(query.q) <= 200
