from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataquarantine.web.charts import (
    BarItem,
    TimeSeries,
    color_for,
    hbar_chart,
    nice_ticks,
    stacked_bar_chart,
)

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))


@given(st.integers(min_value=0, max_value=10**9))
def test_ticks_start_at_zero_cover_the_maximum_and_are_evenly_spaced(maximum: int) -> None:
    ticks = nice_ticks(maximum)
    assert ticks[0] == 0
    assert ticks[-1] >= maximum
    steps = {b - a for a, b in itertools.pairwise(ticks)}
    assert len(steps) == 1
    assert steps.pop() > 0
    assert len(ticks) <= 6


def test_ticks_are_round_numbers() -> None:
    assert nice_ticks(1000) == [0, 250, 500, 750, 1000]
    assert nice_ticks(7) == [0, 2, 4, 6, 8]
    assert nice_ticks(0) == [0, 1]


def test_stacked_bars_stack_each_bucket_to_its_total() -> None:
    data = TimeSeries(
        labels=("Jan 01", "Jan 02"), values={"schema_violation": [3, 0], "parse_error": [1, 2]}
    )
    root = parse(stacked_bar_chart(data))
    bars = [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    # One rect per non-zero (bucket, series) pair, each with a tooltip.
    titles = sorted(r.find(f"{SVG}title").text or "" for r in bars)
    assert titles == [
        "Jan 01 · parse_error: 1",
        "Jan 01 · schema_violation: 3",
        "Jan 02 · parse_error: 2",
    ]
    heights = {t: float(r.get("height", "0")) for t, r in zip(titles, bars, strict=True)}
    assert all(h > 0 for h in heights.values())


def test_stacked_bars_say_when_empty() -> None:
    root = parse(stacked_bar_chart(TimeSeries(labels=(), values={})))
    assert "No quarantined records" in "".join(root.itertext())


def test_series_must_match_the_labels() -> None:
    with pytest.raises(ValueError, match="2 labels"):
        TimeSeries(labels=("a", "b"), values={"x": [1]})


def test_labels_and_series_names_are_escaped() -> None:
    evil = '<script>alert("x")</script>'
    data = TimeSeries(labels=(evil,), values={evil: [1]})
    markup = str(stacked_bar_chart(data, title=evil))
    assert "<script>" not in markup
    parse(markup)  # still well-formed XML
    bars = str(hbar_chart([BarItem(evil, 3, href='/records?contract="><script>')]))
    assert "<script>" not in bars
    parse(bars)


def test_hbar_links_and_truncates_long_labels() -> None:
    root = parse(hbar_chart([BarItem("a" * 40, 10, "/records?contract=a"), BarItem("b", 5)]))
    links = list(root.iter(f"{SVG}a"))
    assert [a.get("href") for a in links] == ["/records?contract=a"]
    texts = "".join(root.itertext())
    assert "a" * 21 + "…" in texts
    assert "a" * 40 in texts  # the full label stays in the tooltip


def test_hbar_without_items() -> None:
    assert "Nothing here yet" in hbar_chart([])


def test_colors_are_stable_and_fixed_for_error_codes() -> None:
    assert color_for("schema_violation") == "#0072b2"
    assert color_for("orders") == color_for("orders")
    assert re.fullmatch(r"#[0-9a-f]{6}", color_for("anything"))
