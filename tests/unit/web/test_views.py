from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from dataquarantine.kernel.results import ErrorCode, Violation
from dataquarantine.kernel.revisions import RevisionKind
from dataquarantine.quarantine.history import Count, QuarantineStats, SeriesPoint, StoredRevision
from dataquarantine.web.payload_view import anchor_for
from dataquarantine.web.views import (
    dashboard,
    error_rows,
    fill_series,
    payload_panel,
    revision_views,
)

NOW = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)


def test_fill_series_fills_empty_hours() -> None:
    points = [
        SeriesPoint(NOW.replace(hour=13, minute=0), "schema_violation", 4),
        SeriesPoint(NOW.replace(hour=15, minute=0), "parse_error", 1),
    ]
    series = fill_series(points, "hour", since=NOW - timedelta(hours=3), until=NOW)
    assert series.labels == ("03-10 12:00", "03-10 13:00", "03-10 14:00", "03-10 15:00")
    assert series.values == {"parse_error": [0, 0, 0, 1], "schema_violation": [0, 4, 0, 0]}


def test_fill_series_without_since_starts_at_the_first_point_and_is_capped() -> None:
    old = NOW - timedelta(days=1000)
    series = fill_series([SeriesPoint(old, "rule_violation", 2)], "day", since=None, until=NOW)
    assert len(series.labels) == 400  # the latest 400 days; the old point falls outside
    assert series.values == {}
    empty = fill_series([], "day", since=None, until=NOW)
    assert empty.labels == ("Mar 10",)


def test_dashboard_counts_every_status_and_links_to_filtered_lists() -> None:
    stats = QuarantineStats(
        total=5,
        by_contract=(Count("orders", 4), Count("(none)", 1)),
        by_code=(Count("schema_violation", 5),),
        by_status=(Count("quarantined", 4), Count("dead", 1)),
        by_field=(Count("/email", 3), Count("", 2)),
        series=(SeriesPoint(NOW, "schema_violation", 5),),
        bucket="day",
    )
    view = dashboard(stats, "7d", now=NOW, base="/dq")
    assert view.by_status["quarantined"] == 4 and view.by_status["resolved"] == 0
    assert "/dq/records?contract=orders&amp;since=2026-03-03" in str(view.contracts)
    assert "contract=%28none%29" not in str(view.contracts)
    assert "(whole record)" in str(view.fields)
    assert "/dq/records?since=2026-03-03&amp;field=%2Femail" in str(view.fields)
    assert str(view.fields).count("<a ") == 1  # the whole record has no path to filter on


def test_payload_panel_and_error_anchors() -> None:
    errors = (Violation(ErrorCode.SCHEMA_VIOLATION, "/email", "bad email"),)
    panel = payload_panel(b'{"email":"x"}', errors)
    assert panel.highlighted is not None and anchor_for("/email") in panel.highlighted
    assert panel.editor_text == '{\n  "email": "x"\n}'
    rows = error_rows(errors, {"email": "x"}, True)
    assert rows[0].anchor == anchor_for("/email")
    raw = payload_panel(b"not json", errors)
    assert raw.highlighted is None and raw.editor_text == "not json"
    assert error_rows(errors, None, False)[0].anchor is None


def test_revision_views_diff_each_against_the_previous_newest_first() -> None:
    rid = uuid.uuid4()
    revs = [
        StoredRevision(rid, 2, RevisionKind.EDIT, "web:ana", b'{"a":3}'),
        StoredRevision(rid, 1, RevisionKind.REMEDIATION, "system", b'{"a":2}'),
    ]
    views = revision_views(b'{"a":1}', revs)
    assert [v.revision.number for v in views] == [2, 1]
    assert [(d.kind, d.text) for d in views[0].diff if d.kind != "hunk"] == [
        ("same", "{"),
        ("del", '  "a": 2'),
        ("add", '  "a": 3'),
        ("same", "}"),
    ]
    assert ("del", '  "a": 1') in [(d.kind, d.text) for d in views[1].diff]


def test_deeply_nested_payloads_fall_back_to_text() -> None:
    for depth in (900, 990, 5000, 100_000):
        data = b"[" * depth + b"]" * depth
        panel = payload_panel(data, ())
        assert panel.editor_text.startswith("[")
        assert revision_views(data, ()) == []
