"""View models of the web UI pages, built from the review service's values (pure functions)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from markupsafe import Markup

from dataquarantine.kernel.lifecycle import Status
from dataquarantine.kernel.results import Violation
from dataquarantine.quarantine.history import Bucket, QuarantineStats, SeriesPoint, StoredRevision
from dataquarantine.web.charts import BarItem, TimeSeries, hbar_chart, stacked_bar_chart
from dataquarantine.web.forms import RecordsQuery
from dataquarantine.web.payload_view import (
    DecodedPayload,
    DiffLine,
    anchor_for,
    decode_payload,
    diff_lines,
    locate,
    pretty_json,
    render_json,
)

__all__ = [
    "RANGES",
    "Dashboard",
    "ErrorRow",
    "PayloadPanel",
    "RevisionView",
    "dashboard",
    "error_rows",
    "fill_series",
    "payload_panel",
    "revision_views",
]

DashboardRange = Literal["24h", "7d", "30d", "all"]
#: Dashboard ranges: label, look-back and bucket width.
RANGES: dict[str, tuple[str, timedelta | None, Bucket]] = {
    "24h": ("Last 24 hours", timedelta(hours=24), "hour"),
    "7d": ("Last 7 days", timedelta(days=7), "day"),
    "30d": ("Last 30 days", timedelta(days=30), "day"),
    "all": ("All time", None, "day"),
}
_MAX_BUCKETS = 400
_NO_CONTRACT = "(none)"


def _floor(moment: datetime, bucket: Bucket) -> datetime:
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    if bucket == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def fill_series(
    points: Sequence[SeriesPoint],
    bucket: Bucket,
    *,
    since: datetime | None,
    until: datetime,
) -> TimeSeries:
    """Counts per bucket and code, with empty buckets filled in so time reads evenly.

    Without ``since`` the axis starts at the first point. At most :data:`_MAX_BUCKETS`
    buckets are drawn (the latest ones).
    """
    step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
    end = _floor(until, bucket)
    if since is not None:
        start = _floor(since, bucket)
    elif points:
        start = _floor(min(p.at for p in points), bucket)
    else:
        start = end
    start = max(start, end - step * (_MAX_BUCKETS - 1))
    slots: list[datetime] = []
    moment = start
    while moment <= end:
        slots.append(moment)
        moment += step
    index = {slot: i for i, slot in enumerate(slots)}
    codes = sorted({p.code for p in points})
    values: dict[str, list[int]] = {code: [0] * len(slots) for code in codes}
    for point in points:
        i = index.get(_floor(point.at, bucket))
        if i is not None:
            values[point.code][i] += point.count
    label_format = "%m-%d %H:00" if bucket == "hour" else "%b %d"
    labels = tuple(slot.strftime(label_format) for slot in slots)
    return TimeSeries(labels=labels, values={k: v for k, v in values.items() if any(v)})


@dataclass(frozen=True, slots=True)
class Dashboard:
    range_key: str
    range_label: str
    total: int
    by_status: dict[str, int]
    timeline: Markup
    contracts: Markup
    fields: Markup
    codes: Markup


def dashboard(
    stats: QuarantineStats, range_key: str, *, now: datetime, base: str = ""
) -> Dashboard:
    """The dashboard of ``stats`` (already filtered to the range); links start with ``base``."""
    label, back, _ = RANGES[range_key]
    since = now - back if back is not None else None
    series = fill_series(stats.series, stats.bucket, since=since, until=now)
    by_status = {status.value: 0 for status in Status}
    for count in stats.by_status:
        by_status[count.key] = count.count
    since_param = since.date().isoformat() if since is not None else ""

    def link(**params: str) -> str:
        return base + RecordsQuery(since=since_param).url(**params)

    return Dashboard(
        range_key=range_key,
        range_label=label,
        total=stats.total,
        by_status=by_status,
        timeline=stacked_bar_chart(series),
        contracts=hbar_chart(
            [
                # The stats name records without a contract "(none)"; no filter selects them.
                BarItem(c.key, c.count, None if c.key == _NO_CONTRACT else link(contract=c.key))
                for c in stats.by_contract
            ]
        ),
        fields=hbar_chart(
            [
                # A whole-record violation has no path to filter on.
                BarItem(c.key or "(whole record)", c.count, link(field=c.key) if c.key else None)
                for c in stats.by_field
            ]
        ),
        codes=hbar_chart([BarItem(c.key, c.count, link(code=c.key)) for c in stats.by_code]),
    )


@dataclass(frozen=True, slots=True)
class ErrorRow:
    violation: Violation
    #: The anchor of its highlight in the payload view (``None`` when nothing is shown).
    anchor: str | None


def error_rows(errors: Sequence[Violation], value: Any, is_json: bool) -> list[ErrorRow]:
    rows: list[ErrorRow] = []
    for violation in errors:
        anchor = None
        if is_json:
            spot = locate(value, violation.path)
            anchor = anchor_for(violation.path if spot.kind == "missing" else spot.target)
        rows.append(ErrorRow(violation, anchor))
    return rows


@dataclass(frozen=True, slots=True)
class PayloadPanel:
    """The payload shown on the record page (the latest revision, else the original)."""

    decoded: DecodedPayload
    highlighted: Markup | None
    #: The editor's initial text.
    editor_text: str
    size: int


def payload_panel(data: bytes, errors: Sequence[Violation]) -> PayloadPanel:
    decoded = decode_payload(data)
    if decoded.is_json:
        marks = [(v.path, v.message) for v in errors]
        try:
            highlighted = render_json(decoded.value, marks)
            return PayloadPanel(decoded, highlighted, pretty_json(decoded.value), len(data))
        except RecursionError:  # nested deeper than the renderer's stack: shown as text
            decoded = DecodedPayload(text=decoded.text, is_json=False)
    return PayloadPanel(decoded, None, decoded.text, len(data))


@dataclass(frozen=True, slots=True)
class RevisionView:
    revision: StoredRevision
    #: The diff against the previous revision (revision 1: against the original).
    diff: list[DiffLine]


def _display_text(data: bytes) -> str:
    decoded = decode_payload(data)
    if decoded.is_json:
        try:
            return pretty_json(decoded.value)
        except RecursionError:
            pass
    return decoded.text


def revision_views(original: bytes, revisions: Sequence[StoredRevision]) -> list[RevisionView]:
    """Each revision with its diff against the one before, newest first."""
    views: list[RevisionView] = []
    previous = _display_text(original)
    for revision in sorted(revisions, key=lambda r: r.number):
        text = _display_text(revision.payload)
        views.append(RevisionView(revision, diff_lines(previous, text)))
        previous = text
    views.reverse()
    return views
