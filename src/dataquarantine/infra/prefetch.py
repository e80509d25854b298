"""Read ahead of a consumer: the items of an iterable, produced by a background thread.

:func:`prefetch` runs ``source`` in a daemon thread that stays at most ``depth`` items ahead
(a bounded queue), so producing item *n + 1* overlaps with the consumer's work on item *n*.
An exception raised by the source is raised to the consumer at the point it occurred, after
the items produced before it. When the consumer stops early (``close()``, ``break``, an
exception of its own), the thread stops after its current item and a generator source is
closed, so its ``finally`` blocks run in the thread.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from typing import Final, TypeVar

__all__ = ["prefetch"]

T = TypeVar("T")

#: How often a producer blocked on a full queue checks whether the consumer has stopped.
_POLL_SECONDS: Final = 0.2


@dataclass(frozen=True, slots=True)
class _Failed:
    error: BaseException


class _End:
    pass


_END: Final = _End()


def prefetch(
    source: Iterable[T],
    *,
    depth: int = 1,
    name: str = "dq-prefetch",
    join_timeout: float = 30.0,
) -> Generator[T, None, None]:
    """Yield ``source``'s items, produced by a background thread at most ``depth`` ahead.

    The thread starts on the first ``next()``. ``source`` is iterated in that thread only
    (a generator may open a connection of its own there). On exit the consumer waits up to
    ``join_timeout`` seconds for the thread to finish its current item."""
    if depth < 1:
        raise ValueError("depth must be positive")
    return _consume(source, depth, name, join_timeout)


def _consume(
    source: Iterable[T], depth: int, name: str, join_timeout: float
) -> Generator[T, None, None]:
    out: queue.Queue[T | _Failed | _End] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: T | _Failed | _End) -> None:
        while not stop.is_set():
            with contextlib.suppress(queue.Full):
                out.put(item, timeout=_POLL_SECONDS)
                return

    def produce() -> None:
        try:
            items = iter(source)
            try:
                for item in items:
                    if stop.is_set():
                        return
                    put(item)
                    if stop.is_set():
                        return
            finally:
                if isinstance(items, Generator):
                    items.close()
            put(_END)
        except BaseException as exc:  # handed to the consumer, which raises it
            put(_Failed(exc))

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = out.get()
            if isinstance(item, _End):
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join(timeout=join_timeout)
