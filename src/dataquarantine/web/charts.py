"""Server-side charts as inline SVG: pure functions from numbers to markup, no JavaScript.

Every text that reaches the SVG is escaped (series names and labels come from stored data).
Colours are stable per series name, so ``schema_violation`` has the same colour on every page.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

__all__ = [
    "PALETTE",
    "BarItem",
    "TimeSeries",
    "color_for",
    "hbar_chart",
    "nice_ticks",
    "stacked_bar_chart",
]

#: Colour-blind friendly (Okabe-Ito, then Tableau) colours.
PALETTE: tuple[str, ...] = (
    "#0072b2",
    "#e69f00",
    "#009e73",
    "#d55e00",
    "#cc79a7",
    "#56b4e9",
    "#f0e442",
    "#4e79a7",
    "#9c755f",
    "#bab0ac",
)

#: The error codes keep fixed colours; other series hash into the palette.
_FIXED: dict[str, str] = {
    "schema_violation": "#0072b2",
    "rule_violation": "#e69f00",
    "parse_error": "#d55e00",
    "fk_violation": "#cc79a7",
    "schema_not_found": "#009e73",
    "system_error": "#999999",
    "upstream_error": "#56b4e9",
    "dbt_test_failure": "#f0e442",
}


def color_for(name: str) -> str:
    """A stable colour for a series name."""
    fixed = _FIXED.get(name)
    if fixed is not None:
        return fixed
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).digest()
    return PALETTE[digest[0] % len(PALETTE)]


@dataclass(frozen=True, slots=True)
class TimeSeries:
    """Counts per time bucket and series: ``values[series][i]`` belongs to ``labels[i]``."""

    labels: tuple[str, ...]
    values: Mapping[str, Sequence[int]]

    def __post_init__(self) -> None:
        for name, counts in self.values.items():
            if len(counts) != len(self.labels):
                raise ValueError(
                    f"series {name!r} has {len(counts)} values for {len(self.labels)} labels"
                )

    def totals(self) -> list[int]:
        """The stacked height of every bucket."""
        return [sum(counts[i] for counts in self.values.values()) for i in range(len(self.labels))]


@dataclass(frozen=True, slots=True)
class BarItem:
    """One horizontal bar: a label, its count and an optional link."""

    label: str
    value: int
    href: str | None = None


def nice_ticks(maximum: int, *, count: int = 4) -> list[int]:
    """Round axis ticks from 0 covering ``maximum`` (e.g. 0, 250, 500, 750, 1000)."""
    if maximum <= 0:
        return [0, 1]
    raw = max(maximum / count, 1.0)
    magnitude = 10 ** math.floor(math.log10(raw))
    steps = [m * magnitude for m in (1, 2, 2.5, 5, 10)]
    step = int(next(s for s in steps if s >= raw and s == int(s)))
    top = math.ceil(maximum / step) * step
    return list(range(0, top + 1, step))


def _fmt(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M".replace(".0M", "M")
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    if n >= 1000:
        return f"{n / 1000:.1f}k".replace(".0k", "k")
    return str(n)


def stacked_bar_chart(
    data: TimeSeries,
    *,
    width: int = 1100,
    height: int = 250,
    title: str = "Quarantined records over time",
) -> Markup:
    """A stacked bar chart (one bar per bucket, one colour per series) with a legend."""
    left, right, top, bottom = 44, 8, 10, 46
    plot_w = width - left - right
    plot_h = height - top - bottom
    totals = data.totals()
    ticks = nice_ticks(max(totals, default=0))
    y_max = ticks[-1]
    parts: list[str] = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for tick in ticks:
        y = top + plot_h - plot_h * tick / y_max
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_fmt(tick)}</text>"
        )
    n = len(data.labels)
    if n == 0:
        parts.append(
            f'<text class="empty" x="{width / 2:.0f}" y="{top + plot_h / 2:.0f}" '
            f'text-anchor="middle">No quarantined records in this period</text>'
        )
    slot = plot_w / max(n, 1)
    bar_w = max(slot * 0.78, 1.0)
    label_every = max(1, math.ceil(n / 8))
    for i, label in enumerate(data.labels):
        x = left + i * slot + (slot - bar_w) / 2
        y = top + plot_h
        for name, counts in data.values.items():
            value = counts[i]
            if value <= 0:
                continue
            h = plot_h * value / y_max
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{color_for(name)}"><title>{escape(label)} · {escape(name)}: '
                f"{value}</title></rect>"
            )
        if i % label_every == 0:
            parts.append(
                f'<text class="axis" x="{left + i * slot + slot / 2:.1f}" '
                f'y="{top + plot_h + 14}" text-anchor="middle">{escape(label)}</text>'
            )
    # Legend under the axis labels, one entry per series.
    lx = float(left)
    ly = height - 12
    for name in data.values:
        parts.append(
            f'<rect x="{lx:.0f}" y="{ly - 9}" width="10" height="10" fill="{color_for(name)}"/>'
            f'<text class="legend" x="{lx + 14:.0f}" y="{ly}">{escape(name)}</text>'
        )
        lx += 24 + 7 * len(name)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text piece went through escape()


def hbar_chart(items: Sequence[BarItem], *, width: int = 360, row: int = 22) -> Markup:
    """Horizontal bars, largest first as given; labels may link to a filtered list."""
    if not items:
        return Markup('<p class="muted">Nothing here yet.</p>')
    label_w = 150
    value_w = 48
    bar_max = width - label_w - value_w
    peak = max(item.value for item in items) or 1
    height = row * len(items)
    parts: list[str] = [
        f'<svg class="hbar" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, item in enumerate(items):
        y = i * row
        w = max(bar_max * item.value / peak, 1.0)
        text = item.label if len(item.label) <= 22 else item.label[:21] + "…"
        label = (
            f'<text class="label" x="{label_w - 6}" y="{y + row * 0.68:.1f}" '
            f'text-anchor="end">{escape(text)}<title>{escape(item.label)}</title></text>'
        )
        if item.href is not None:
            label = f'<a href="{escape(item.href)}">{label}</a>'
        parts.append(
            label + f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" '
            f'fill="{color_for(item.label)}" rx="2"/>'
            f'<text class="value" x="{label_w + w + 4:.1f}" y="{y + row * 0.68:.1f}">'
            f"{_fmt(item.value)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text piece went through escape()
