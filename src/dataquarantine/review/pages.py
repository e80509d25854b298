"""Pages of a bulk job: records cut into lists, and a page prepared while the last is used."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["pages", "read_ahead"]

T = TypeVar("T")


def pages(items: Iterator[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last one shorter)."""
    page: list[T] = []
    for item in items:
        page.append(item)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page


def read_ahead(items: Iterator[T]) -> Iterator[T]:
    """``items``, each one produced on a worker thread while the caller uses the previous one.

    One item at most is produced ahead (memory stays that of two). ``items`` is only ever
    advanced by one thread at a time; its exception is raised to the caller in order.
    """
    end = object()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dq-read-ahead") as pool:
        following = pool.submit(next, items, end)
        while True:
            item = following.result()
            if item is end:
                return
            following = pool.submit(next, items, end)
            yield item  # type: ignore[misc]
