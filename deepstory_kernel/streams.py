"""Overlap the steps of a frame pipeline: a producer runs in its own thread, a bounded queue between the two.

Why: on a GPU, decoding the next batch (base frames → device tensors) and encoding the previous one (device →
uint8 → ffmpeg) would otherwise leave the device idle; with a queue of `depth` items, they run while the device
computes, and memory stays bounded by `depth` batches (never by the chunk). Torch and ffmpeg release the GIL.
Exceptions (a cancel included) travel through the queue to the consumer; a consumer that stops early stops the
producer after its current item.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterable
from typing import TypeVar

T = TypeVar("T")
_END = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def background(items: Iterable[T], depth: int = 2, name: str = "deepstory-pipeline") -> Generator[T, None, None]:
    """Yield `items` in order, produced ahead by a thread, at most `depth` waiting."""
    buffer: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        iterator = iter(items)
        try:
            for item in iterator:
                if not put(item):
                    return
            put(_END)
        except BaseException as error:   # handed to the consumer, raised there
            put(_Failure(error))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()
