"""One progress callback type for all long work: the CLI draws it on stderr, the studio as progress bars."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TextIO


@dataclass(frozen=True)
class ProgressEvent:
    stage: str          # "voice", "base", "animate", "export", ...
    done: int           # units finished so far
    total: int          # units in all (0 when unknown)
    message: str = ""   # e.g. "chunk 3/17 (Alice)"

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0


ProgressCallback = Callable[[ProgressEvent], None]


class Cancelled(Exception):
    """Raised inside a stage when the user asked to stop; finished artifacts stay on disk."""


class CancelToken(Protocol):
    def is_set(self) -> bool: ...


def no_progress(event: ProgressEvent) -> None:
    """Default callback: report nothing."""


class StderrProgressBar:
    """A one-line text bar on stderr, redrawn at most ~10 times a second."""

    def __init__(self, stream: TextIO = sys.stderr, width: int = 30) -> None:
        self._stream = stream
        self._width = width
        self._last_draw = 0.0
        self._last_stage = ""

    def __call__(self, event: ProgressEvent) -> None:
        now = time.monotonic()
        finished = event.total and event.done >= event.total
        if not finished and event.stage == self._last_stage and now - self._last_draw < 0.1:
            return
        if event.stage != self._last_stage and self._last_stage:
            self._stream.write("\n")
        self._last_stage, self._last_draw = event.stage, now
        filled = int(self._width * event.fraction)
        bar = "#" * filled + "-" * (self._width - filled)
        count = f"{event.done}/{event.total}" if event.total else f"{event.done}"
        self._stream.write(f"\r{event.stage:>8} [{bar}] {count} {event.message[:60]:<60}")
        if finished:
            self._stream.write("\n")
            self._last_stage = ""
        self._stream.flush()
