"""Payload rendering for the record page: pretty JSON with the failing paths highlighted, and
line diffs between revisions. Pure functions; every piece of payload text is escaped.

A violation's ``path`` is an RFC 6901 JSON Pointer. It either names a value that exists (it is
highlighted in place), a member missing from an object (a placeholder line is shown where it
should be), or something below a value that cannot hold it (the nearest existing ancestor is
highlighted instead).
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from markupsafe import Markup, escape

from dataquarantine.kernel import pointers

__all__ = [
    "DecodedPayload",
    "DiffLine",
    "Highlight",
    "anchor_for",
    "decode_payload",
    "diff_lines",
    "pretty_json",
    "render_json",
]

_MISSING = object()
_NOTE_MAX = 140


@dataclass(frozen=True, slots=True)
class DecodedPayload:
    """The bytes of a payload as the page shows them."""

    text: str
    is_json: bool
    value: Any = None
    #: True when the bytes are not valid UTF-8 (``text`` then escapes the bad bytes).
    binary: bool = False


def decode_payload(data: bytes) -> DecodedPayload:
    """Decode ``data`` for display: parsed JSON when it is JSON, else the text as it is."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return DecodedPayload(
            text=data.decode("utf-8", "backslashreplace"), is_json=False, binary=True
        )
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # too deep to parse is shown as text
        return DecodedPayload(text=text, is_json=False)
    return DecodedPayload(text=text, is_json=True, value=value)


def pretty_json(value: Any) -> str:
    """The editor's text of a JSON value (2-space indent, non-ASCII kept)."""
    return json.dumps(value, indent=2, ensure_ascii=False)


def anchor_for(pointer: str) -> str:
    """The HTML id of the highlight of ``pointer`` (ids cannot hold arbitrary pointers)."""
    digest = hashlib.sha256(pointer.encode("utf-8", "surrogatepass")).hexdigest()
    return "jp-" + digest[:12]


@dataclass(frozen=True, slots=True)
class Highlight:
    """Where a violation lands in the rendered value."""

    pointer: str
    #: ``exact``: the value exists; ``missing``: an absent object member; ``ancestor``: the
    #: pointer goes below a value that cannot hold it, the nearest existing value is marked.
    kind: Literal["exact", "missing", "ancestor"]
    target: str
    messages: tuple[str, ...] = ()


def _child(value: Any, part: str) -> Any:
    if isinstance(value, dict):
        return value.get(part, _MISSING)
    if isinstance(value, list) and part.isascii() and part.isdigit() and int(part) < len(value):
        return value[int(part)]
    return _MISSING


def locate(value: Any, pointer: str) -> Highlight:
    """Resolve ``pointer`` against ``value`` into a :class:`Highlight`."""
    parts = pointers.parse(pointer)
    node = value
    walked = ""
    for i, part in enumerate(parts):
        child = _child(node, part)
        if child is _MISSING:
            if i == len(parts) - 1 and isinstance(node, dict):
                return Highlight(pointer, "missing", walked)
            return Highlight(pointer, "ancestor", walked)
        node = child
        walked += "/" + pointers.escape(part)
    return Highlight(pointer, "exact", walked)


@dataclass
class _Marks:
    exact: dict[str, list[str]] = field(default_factory=dict)
    missing: dict[str, list[tuple[str, str, list[str]]]] = field(default_factory=dict)


def _marks(value: Any, errors: Iterable[tuple[str, str]]) -> _Marks:
    marks = _Marks()
    for pointer, message in errors:
        spot = locate(value, pointer)
        if spot.kind == "missing":
            key = pointers.parse(pointer)[-1]
            entries = marks.missing.setdefault(spot.target, [])
            for k, p, messages in entries:
                if k == key and p == pointer:
                    messages.append(message)
                    break
            else:
                entries.append((key, pointer, [message]))
        else:
            marks.exact.setdefault(spot.target, []).append(message)
    return marks


def _scalar(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        cls = "s"
    elif value is None or isinstance(value, bool):
        cls = "b"
    else:
        cls = "n"
    return f'<span class="{cls}">{escape(text)}</span>'


def _open_mark(pointer: str, messages: Sequence[str], extra: str = "") -> str:
    title = "\n".join(messages)
    return (
        f'<mark class="bad{extra}" id="{anchor_for(pointer)}" '
        f'data-pointer="{escape(pointer)}" title="{escape(title)}">'
    )


def _note(messages: Sequence[str] | None) -> str:
    """The message shown at the end of a marked line (not part of the JSON text)."""
    if not messages:
        return ""
    text = "; ".join(messages)
    if len(text) > _NOTE_MAX:
        text = text[: _NOTE_MAX - 1] + "…"
    return f'<span class="note" aria-hidden="true">  ← {escape(text)}</span>'


def _render(value: Any, pointer: str, depth: int, marks: _Marks, out: list[str]) -> None:
    messages = marks.exact.get(pointer)
    if messages is not None:
        out.append(_open_mark(pointer, messages))
    pad = "  " * (depth + 1)
    if isinstance(value, dict):
        missing = marks.missing.get(pointer, [])
        if not value and not missing:
            out.append('<span class="p">{}</span>')
        else:
            out.append('<span class="p">{</span>\n')
            items = list(value.items())
            total = len(items) + len(missing)
            for i, (key, child) in enumerate(items):
                out.append(
                    f'{pad}<span class="k">{escape(json.dumps(key, ensure_ascii=False))}'
                    '</span><span class="p">: </span>'
                )
                child_pointer = f"{pointer}/{pointers.escape(key)}"
                _render(child, child_pointer, depth + 1, marks, out)
                out.append('<span class="p">,</span>' if i < total - 1 else "")
                out.append(_note(marks.exact.get(child_pointer)) + "\n")
            for j, (key, child_pointer, msgs) in enumerate(missing):
                comma = '<span class="p">,</span>' if len(items) + j < total - 1 else ""
                out.append(
                    f"{pad}{_open_mark(child_pointer, msgs, ' missing')}"
                    f'<span class="k">{escape(json.dumps(key, ensure_ascii=False))}</span>'
                    f'<span class="p">: </span><span class="placeholder">missing</span>'
                    f"</mark>{comma}{_note(msgs)}\n"
                )
            out.append("  " * depth + '<span class="p">}</span>')
    elif isinstance(value, list):
        if not value:
            out.append('<span class="p">[]</span>')
        else:
            out.append('<span class="p">[</span>\n')
            for i, child in enumerate(value):
                out.append(pad)
                _render(child, f"{pointer}/{i}", depth + 1, marks, out)
                out.append('<span class="p">,</span>' if i < len(value) - 1 else "")
                out.append(_note(marks.exact.get(f"{pointer}/{i}")) + "\n")
            out.append("  " * depth + '<span class="p">]</span>')
    else:
        out.append(_scalar(value))
    if messages is not None:
        out.append("</mark>")


def render_json(value: Any, errors: Iterable[tuple[str, str]] = ()) -> Markup:
    """``value`` pretty-printed as HTML, the values at the ``(pointer, message)`` errors marked.

    Outside the ``note`` spans (each marked line ends with its messages), the text content
    equals :func:`pretty_json` of ``value`` plus one placeholder line per missing member.
    """
    out: list[str] = []
    marks = _marks(value, errors)
    _render(value, "", 0, marks, out)
    out.append(_note(marks.exact.get("")))
    return Markup("".join(out))  # noqa: S704 - every text piece went through escape()


@dataclass(frozen=True, slots=True)
class DiffLine:
    """One line of a diff: unchanged, added, removed, or a hunk header."""

    kind: Literal["same", "add", "del", "hunk"]
    text: str


def diff_lines(old: str, new: str, *, context: int = 3) -> list[DiffLine]:
    """A unified line diff of two texts (empty when they are equal)."""
    lines: list[DiffLine] = []
    diff = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=context)
    in_hunk = False
    for line in diff:
        if line.startswith("@@"):
            in_hunk = True
            lines.append(DiffLine("hunk", line))
        elif not in_hunk:  # the ---/+++ file headers
            continue
        elif line.startswith("+"):
            lines.append(DiffLine("add", line[1:]))
        elif line.startswith("-"):
            lines.append(DiffLine("del", line[1:]))
        else:
            lines.append(DiffLine("same", line[1:]))
    return lines
