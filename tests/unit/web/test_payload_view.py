from __future__ import annotations

import html
import json
import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from dataquarantine.web.payload_view import (
    anchor_for,
    decode_payload,
    diff_lines,
    locate,
    pretty_json,
    render_json,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


def text_of(markup: str) -> str:
    """The JSON text of rendered markup (the end-of-line notes left out)."""
    markup = re.sub(r'<span class="note"[^>]*>[^<]*</span>', "", markup)
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


@given(json_values)
def test_rendered_text_is_the_pretty_json(value: Any) -> None:
    assert text_of(render_json(value)) == pretty_json(value)


def test_failing_paths_are_marked_with_their_messages() -> None:
    value = {"user": {"email": "nope", "tags": ["a", 3]}, "n": 1}
    out = str(
        render_json(value, [("/user/email", "not an email"), ("/user/tags/1", "not a string")])
    )
    marks = re.findall(
        r'<mark class="bad" id="([^"]+)" data-pointer="([^"]*)" title="([^"]*)">', out
    )
    assert [(p, t) for _, p, t in marks] == [
        ("/user/email", "not an email"),
        ("/user/tags/1", "not a string"),
    ]
    assert marks[0][0] == anchor_for("/user/email")
    assert text_of(out) == pretty_json(value)
    assert '&#34;nope&#34;</span></mark><span class="p">,</span><span class="note"' in out
    assert "← not an email</span>" in out


def test_missing_member_gets_a_placeholder_line_inside_its_object() -> None:
    out = str(render_json({"a": 1}, [("/b", "b is required")]))
    assert 'class="bad missing"' in out
    assert text_of(out) == '{\n  "a": 1,\n  "b": missing\n}'
    assert locate({"a": 1}, "/b").kind == "missing"


def test_pointer_below_a_scalar_marks_the_nearest_ancestor() -> None:
    spot = locate({"a": "x"}, "/a/b/c")
    assert (spot.kind, spot.target) == ("ancestor", "/a")
    out = str(render_json({"a": "x"}, [("/a/b/c", "deep")]))
    assert 'data-pointer="/a"' in out


def test_escaped_pointer_segments_resolve() -> None:
    value = {"a/b": {"m~n": 1}}
    assert locate(value, "/a~1b/m~0n").kind == "exact"
    assert 'data-pointer="/a~1b/m~0n"' in str(render_json(value, [("/a~1b/m~0n", "x")]))


def test_whole_record_pointer_marks_everything() -> None:
    out = str(render_json([1], [("", "wrong type")]))
    assert out.startswith('<mark class="bad"')
    assert out.endswith('</mark><span class="note" aria-hidden="true">  ← wrong type</span>')


def test_html_in_payload_is_escaped() -> None:
    value = {"<img src=x onerror=alert(1)>": "</pre><script>alert(1)</script>"}
    out = str(render_json(value, [("/<img src=x onerror=alert(1)>", '"><script>')]))
    assert "<script>" not in out and "<img" not in out
    assert text_of(out) == pretty_json(value)


def test_decode_payload_kinds() -> None:
    assert decode_payload(b'{"a": 1}').is_json
    bad = decode_payload(b'{"a": 1,}')
    assert not bad.is_json and bad.text == '{"a": 1,}'
    binary = decode_payload(b"\xff\xfe{")
    assert binary.binary and "\\xff" in binary.text


def test_diff_lines() -> None:
    old = pretty_json({"a": 1, "b": 2})
    new = pretty_json({"a": 1, "b": 3})
    kinds = [(line.kind, line.text) for line in diff_lines(old, new)]
    assert ("del", '  "b": 2') in kinds and ("add", '  "b": 3') in kinds
    assert kinds[0][0] == "hunk"
    assert diff_lines(old, old) == []


def test_diff_keeps_removed_lines_that_look_like_headers() -> None:
    kinds = [(d.kind, d.text) for d in diff_lines("-- x\n++ y", "z")]
    assert ("del", "-- x") in kinds and ("del", "++ y") in kinds


def test_pretty_json_keeps_unicode() -> None:
    assert pretty_json({"é": "☃"}) == json.dumps({"é": "☃"}, indent=2, ensure_ascii=False)
