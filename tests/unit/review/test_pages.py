"""Pages of a bulk job and the read-ahead that prepares the next page on a worker thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from dataquarantine.review.pages import pages, read_ahead


def test_pages_cut_a_stream_in_lists() -> None:
    assert list(pages(iter(range(7)), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(pages(iter([]), 3)) == []


def test_read_ahead_keeps_the_order_and_works_one_item_ahead() -> None:
    produced: list[int] = []
    threads: set[str] = set()

    def items() -> Iterator[int]:
        for i in range(5):
            threads.add(threading.current_thread().name)
            produced.append(i)
            yield i

    seen = []
    for item in read_ahead(items()):
        seen.append(item)
        assert len(produced) <= item + 2  # never more than one ahead
    assert seen == [0, 1, 2, 3, 4]
    assert threading.current_thread().name not in threads


def test_read_ahead_raises_the_producers_error_in_order() -> None:
    def items() -> Iterator[int]:
        yield 1
        raise ValueError("page 2 failed")

    got = []
    with pytest.raises(ValueError, match="page 2"):
        for item in read_ahead(items()):
            got.append(item)
    assert got == [1]
