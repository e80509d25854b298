"""Structured logs: one setup for every command, JSON or text, credentials masked.

Built on the standard library's :mod:`logging` with a small JSON formatter (orjson, a core
dependency already): every module of the package and every library it uses (uvicorn,
confluent-kafka's callbacks, psycopg) already logs through :mod:`logging`, so one root handler
catches all of them, and nothing new is installed.

Every line carries ``ts``, ``level``, ``logger``, ``msg``, ``command`` and ``run_id``, plus
the :data:`CONTEXT_FIELDS` that apply: bound for the whole process with :func:`bind`, for a
block with :func:`log_context`, or for one line with ``extra={"topic": ..., "partition": ...}``.
Nothing logs per record on the hot path: quarantined records are counted (metrics, summaries),
never logged one by one.

>>> configure(LogFormat.JSON, LogLevel.INFO, command="validate", run_id="r1")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Final, TextIO

import orjson

from dataquarantine.masking import MaskingFilter, mask_secrets

__all__ = [
    "CONTEXT_FIELDS",
    "LogFormat",
    "LogLevel",
    "bind",
    "bound",
    "configure",
    "formatter",
    "log_context",
    "resolve_format",
    "set_level",
]

#: Fields added to a line when they apply (``command`` and ``run_id`` always do).
CONTEXT_FIELDS: Final = (
    "command",
    "run_id",
    "contract",
    "topic",
    "partition",
    "offset",
    "quarantine_id",
    "batch",
)
FORMAT_ENV: Final = "DQ_LOG_FORMAT"
LEVEL_ENV: Final = "DQ_LOG_LEVEL"


class LogFormat(StrEnum):
    JSON = "json"
    TEXT = "text"


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


_NONE: Final[Mapping[str, object]] = MappingProxyType({})
_context: ContextVar[Mapping[str, object]] = ContextVar("dataquarantine_log_context", default=_NONE)
_process: dict[str, object] = {}


def bind(**fields: object) -> None:
    """Add ``fields`` to every later line of the process (``None`` removes one)."""
    for key, value in fields.items():
        if value is None:
            _process.pop(key, None)
        else:
            _process[key] = value


def bound(key: str) -> object:
    """The value :func:`bind` gave ``key`` (``None`` if none)."""
    return _process.get(key)


@contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Add ``fields`` to the lines logged inside the block (this thread or task only)."""
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def _fields(record: logging.LogRecord) -> dict[str, object]:
    out: dict[str, object] = {}
    scoped = _context.get()
    for key in CONTEXT_FIELDS:
        value = record.__dict__.get(key, scoped.get(key, _process.get(key)))
        if value is not None:
            out[key] = mask_secrets(value) if isinstance(value, str) else value
    return out


def _timestamp(record: logging.LogRecord) -> str:
    at = datetime.fromtimestamp(record.created, UTC)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _exception(record: logging.LogRecord, formatter: logging.Formatter) -> str | None:
    if record.exc_info and not record.exc_text:
        record.exc_text = formatter.formatException(record.exc_info)
    return mask_secrets(record.exc_text) if record.exc_text else None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, the context fields, ``exc``."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": mask_secrets(record.getMessage()),
            **_fields(record),
        }
        exc = _exception(record, self)
        if exc:
            line["exc"] = exc
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """``ts level logger: msg key=value ...``, for people at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        text = (
            f"{_timestamp(record)} {record.levelname.lower():<7} {record.name}: "
            f"{mask_secrets(record.getMessage())}" + (f"  [{fields}]" if fields else "")
        )
        exc = _exception(record, self)
        return f"{text}\n{exc}" if exc else text


def formatter(fmt: LogFormat) -> logging.Formatter:
    """The formatter of ``fmt``."""
    return JsonFormatter() if fmt is LogFormat.JSON else TextFormatter()


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to the ``sys.stderr`` of the moment (a test runner swaps it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def resolve_format(fmt: LogFormat | str | None, stream: TextIO | None = None) -> LogFormat:
    """``fmt``, else ``DQ_LOG_FORMAT``, else text on a terminal and JSON otherwise."""
    chosen = fmt or os.environ.get(FORMAT_ENV) or None
    if chosen:
        return LogFormat(str(chosen).lower())
    out = stream if stream is not None else sys.stderr
    return LogFormat.TEXT if out.isatty() else LogFormat.JSON


_OWN_HANDLER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def configure(
    fmt: LogFormat | str | None = None,
    level: LogLevel | str | None = None,
    *,
    default_level: LogLevel = LogLevel.INFO,
    **fields: object,
) -> LogFormat:
    """Log every logger of the process to stderr in ``fmt`` at ``level`` (default: the
    environment's ``DQ_LOG_FORMAT`` / ``DQ_LOG_LEVEL``, else :func:`resolve_format` and
    ``default_level``); ``fields`` are :func:`bind`-ed. Calling it again replaces the
    setup."""
    chosen = resolve_format(fmt)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(old)
    handler = _StderrHandler()
    handler.setFormatter(formatter(chosen))
    handler.addFilter(MaskingFilter())
    root.addHandler(handler)
    # uvicorn's own default config gives its loggers unmasked handlers and stops propagation;
    # whoever applied it before us (an embedding app, a test), they go through ours instead.
    for name in _OWN_HANDLER_LOGGERS:
        own = logging.getLogger(name)
        own.handlers.clear()
        own.propagate = True
    set_level(level or os.environ.get(LEVEL_ENV) or default_level)
    bind(**fields)
    return chosen


def set_level(level: LogLevel | str) -> None:
    """Log at ``level`` and above (every logger that sets no level of its own)."""
    logging.getLogger().setLevel(LogLevel(str(level).lower()).value.upper())
