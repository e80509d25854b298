"""The contract registry of a process: which source ``DQ_CONTRACTS_URL`` names, and keeping
its contracts live.

:func:`open_source` turns a contracts URL into a
:class:`~dataquarantine.contracts.source.ContractSource`: ``file://DIR`` (the default, a
folder), ``postgresql://...[?schema=NAME]`` (:mod:`.postgres`, the ``postgres`` extra) or
``s3://bucket/prefix`` (:mod:`.s3`, the ``s3`` extra). :class:`~.live.LiveRegistry` loads it,
follows its changes, rides out its outages and keeps a local cache of remote contracts.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

from dataquarantine.contracts.folder import FolderSource
from dataquarantine.contracts.source import ContractSource, parse_contracts_url
from dataquarantine.errors import ConfigError
from dataquarantine.extras import require_extra
from dataquarantine.registry.live import LiveRegistry, RegistryObserver

__all__ = ["LiveRegistry", "RegistryObserver", "open_registry", "open_source"]


def open_source(url: str, *, endpoint_url: str | None = None) -> ContractSource:
    """The source named by ``url`` (nothing is contacted yet, except a folder's existence)."""
    parsed = parse_contracts_url(url)
    if parsed.kind == "file":
        assert parsed.directory is not None
        return FolderSource(parsed.directory)
    if parsed.kind == "postgresql":
        require_extra("postgres", "a postgresql:// contract registry")
        from dataquarantine.registry.postgres import PostgresSource

        return PostgresSource(url)
    require_extra("s3", "an s3:// contract registry")
    from dataquarantine.registry.s3 import S3Source

    parts = urlsplit(url)
    if not parts.hostname or parts.query or parts.fragment or "@" in parts.netloc:
        raise ConfigError(f"malformed contracts URL {url!r}: use s3://bucket/prefix")
    return S3Source(parts.netloc, unquote(parts.path), endpoint_url=endpoint_url)


def open_registry(
    url: str,
    *,
    poll_seconds: float,
    cache: str = "",
    observers: Sequence[RegistryObserver] = (),
    follow: bool = True,
) -> LiveRegistry:
    """Open the registry at ``url`` and load it (see :class:`LiveRegistry` for a source that
    is down at start). ``cache`` is the local cache folder of a remote registry ("": none);
    ``follow=False`` for a one-shot command (no change notifications)."""
    source = open_source(url)
    try:
        return LiveRegistry(
            source,
            poll_seconds=poll_seconds,
            cache_dir=Path(cache) if cache else None,
            observers=observers,
            follow=follow,
        )
    except BaseException:
        source.close()
        raise
