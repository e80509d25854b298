"""Form and query-string handling of the web UI: the records filter and urlencoded bodies.

Bodies are parsed here (``application/x-www-form-urlencoded`` only, size-capped) rather than
through ``python-multipart``: the UI has no file uploads, so one stdlib parser suffices.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request

from dataquarantine.kernel.lifecycle import Status
from dataquarantine.kernel.results import ErrorCode
from dataquarantine.quarantine.envelope import QuarantineFilter

__all__ = [
    "MAX_FORM_BYTES",
    "PAGE_SIZES",
    "FormTooLargeError",
    "RecordsQuery",
    "parse_day",
    "read_form",
]

#: Large enough for an edited payload of a few MiB, small enough to refuse abuse.
MAX_FORM_BYTES = 8 << 20
PAGE_SIZES = (25, 50, 100, 250)
_TEXT_MAX = 200
SourceKind = Literal["file", "kafka", "table", "dlq"]


class FormTooLargeError(ValueError):
    """The request body is larger than :data:`MAX_FORM_BYTES`."""


async def read_form(request: Request, *, limit: int = MAX_FORM_BYTES) -> dict[str, str]:
    """The urlencoded body of ``request`` (last value wins for repeated names)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise FormTooLargeError(f"form body over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise FormTooLargeError(f"form body over {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks).decode("utf-8", "replace")
    return dict(parse_qsl(body, keep_blank_values=True, max_num_fields=1000))


def parse_day(text: str) -> date | None:
    """``YYYY-MM-DD`` (also the date part of ``YYYY-MM-DDTHH:MM``), else ``None``."""
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        return None


def _clip(text: str | None) -> str:
    return (text or "").strip()[:_TEXT_MAX]


@dataclass(frozen=True, slots=True)
class RecordsQuery:
    """The records table's filter and page, as typed by the user (strings, possibly empty).

    :meth:`to_filter` turns it into a :class:`QuarantineFilter`; values that do not parse
    (an unknown status, a bad date) are ignored and reported in :meth:`problems`.
    """

    contract: str = ""
    code: str = ""
    status: str = ""
    kind: str = ""
    source: str = ""
    since: str = ""
    until: str = ""
    q: str = ""
    #: A violation's path (``path`` of the API; named so here as ``url`` takes a ``path``).
    field: str = ""
    page: int = 1
    size: int = 50

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> RecordsQuery:
        def number(name: str, default: int) -> int:
            text = params.get(name, "")
            return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else default

        size = number("size", 50)
        return cls(
            contract=_clip(params.get("contract")),
            code=_clip(params.get("code")),
            status=_clip(params.get("status")),
            kind=_clip(params.get("kind")),
            source=_clip(params.get("source")),
            since=_clip(params.get("since")),
            until=_clip(params.get("until")),
            q=_clip(params.get("q")),
            field=_clip(params.get("field")),
            page=max(number("page", 1), 1),
            size=size if size in PAGE_SIZES else 50,
        )

    def problems(self) -> list[str]:
        out: list[str] = []
        if self.code and self.code not in ErrorCode.__members__.values():
            out.append(f"unknown error code {self.code!r}")
        if self.status and self.status not in Status.__members__.values():
            out.append(f"unknown status {self.status!r}")
        if self.kind and self.kind not in ("file", "kafka", "table", "dlq"):
            out.append(f"unknown source kind {self.kind!r}")
        for name in ("since", "until"):
            text = getattr(self, name)
            if text and parse_day(text) is None:
                out.append(f"{name}: expected a date YYYY-MM-DD, not {text!r}")
        return out

    def to_filter(self) -> QuarantineFilter:
        """The filter; ``until`` includes the whole day it names."""
        since_day = parse_day(self.since) if self.since else None
        until_day = parse_day(self.until) if self.until else None
        kind: SourceKind | None = None
        if self.kind == "file":
            kind = "file"
        elif self.kind == "kafka":
            kind = "kafka"
        elif self.kind == "table":
            kind = "table"
        elif self.kind == "dlq":
            kind = "dlq"
        return QuarantineFilter(
            contract=self.contract or None,
            code=ErrorCode(self.code) if self.code in ErrorCode.__members__.values() else None,
            status=Status(self.status) if self.status in Status.__members__.values() else None,
            source_kind=kind,
            source_name=self.source or None,
            since=datetime.combine(since_day, datetime.min.time(), UTC) if since_day else None,
            until=(
                datetime.combine(until_day + timedelta(days=1), datetime.min.time(), UTC)
                if until_day
                else None
            ),
            text=self.q or None,
            path=self.field or None,
        )

    @property
    def active(self) -> bool:
        """Some filter is set (the page and page size aside)."""
        return any(getattr(self, f.name) for f in fields(self) if f.name not in ("page", "size"))

    def params(self, **changes: str | int) -> dict[str, str]:
        """The non-empty parameters (page 1 and size 50 left out), with ``changes`` applied."""
        query = replace(self, **changes) if changes else self  # type: ignore[arg-type]
        out: dict[str, str] = {}
        for f in fields(query):
            value = getattr(query, f.name)
            if (f.name, value) in (("page", 1), ("size", 50)) or value in ("", None):
                continue
            out[f.name] = str(value)
        return out

    def url(self, path: str = "/records", **changes: str | int) -> str:
        """``path`` with this query (and ``changes``) as its query string."""
        params = self.params(**changes)
        return f"{path}?{urlencode(params)}" if params else path
