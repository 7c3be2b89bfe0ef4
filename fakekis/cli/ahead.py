"""Run an iterator in a thread a few items ahead of its consumer: `fakekis validate` decodes the next zstd
chunk while numpy checks this one (both let go of the GIL while they work), so on two cores the pass
takes about as long as the slower of the two instead of their sum (bench/analysis.md, "validate").

An exception in the iterator reaches the consumer in order, after the items before it; a consumer that
stops early (an error, a break) stops the thread and waits for it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")
_END = object()


def ahead(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """`items`, produced in a thread at most `depth` (>= 2) ahead."""
    depth = max(depth, 2)
    q: queue.Queue[tuple[object, BaseException | None]] = queue.Queue(depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                q.put((item, None))
        except BaseException as e:  # noqa: BLE001 (handed to the consumer, raised there)
            q.put((_END, e))
        else:
            q.put((_END, None))

    worker = threading.Thread(target=produce, name="fakekis-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item, err = q.get()
            if item is _END:
                if err is not None:
                    raise err
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        # Empty the queue: the worker then has room for the put it may be in and its last one (depth
        # >= 2), checks `stop` before any other, and ends.
        while True:
            try:
                q.get_nowait()
            except queue.Empty:
                break
        worker.join()
