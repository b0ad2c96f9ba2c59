"""One progress callback type for all long work: the CLI draws it on stderr, the studio as progress bars.

Every stage (voice, base, animate, export) reports through a `StageProgress`: it counts the stage's units (sentences,
frames), is advanced by the stage's loop after each batch — so a single long chunk moves the bar frame by frame —
and adds an estimate of the time left from the rate measured so far.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TextIO

STAGE_TITLES = {"voice": "Voices", "chunks": "Chunk audio", "base": "Base", "animate": "Animate",
                "export": "Export", "wav": "Soundtrack", "preview": "Preview"}


@dataclass(frozen=True)
class ProgressEvent:
    stage: str          # "voice", "base", "animate", "export", ...
    done: int           # units finished so far
    total: int          # units in all (0 when unknown)
    message: str = ""   # e.g. "chunk 3/17 (Alice)"
    unit: str = ""      # "frames", "sentences", "steps", … ("" = chunks/items)
    eta_s: float | None = None   # estimated seconds left in this stage (None until there is a rate)

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0

    @property
    def title(self) -> str:
        return STAGE_TITLES.get(self.stage, self.stage[:1].upper() + self.stage[1:])

    def label(self) -> str:
        """One line for a bar: "Base: chunk 2/3 (Alice) · 120/480 frames · about 1 min 20 s left"."""
        parts = [f"{self.title}: {self.message}" if self.message else self.title]
        if self.total:
            parts.append(f"{self.done}/{self.total}" + (f" {self.unit}" if self.unit else ""))
        if self.eta_s is not None and (not self.total or self.done < self.total):
            parts.append(f"about {format_duration(self.eta_s)} left")
        return " · ".join(parts)


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


ProgressCallback = Callable[[ProgressEvent], None]


class Cancelled(Exception):
    """Raised inside a stage when the user asked to stop; finished artifacts stay on disk."""


class CancelToken(Protocol):
    def is_set(self) -> bool: ...


def no_progress(event: ProgressEvent) -> None:
    """Default callback: report nothing."""


class StageProgress:
    """The progress of one stage in its own units; `advance(n)` after each batch, `message` names the current item.

    The time left is the units left at the rate measured since the first unit finished (model loading and other
    start-up costs are not counted as rate)."""

    def __init__(self, callback: ProgressCallback, stage: str, total: int, unit: str = "",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._callback = callback
        self.stage, self.total, self.unit = stage, max(0, int(total)), unit
        self.done = 0
        self.message = ""
        self._clock = clock
        self._rate_start: tuple[float, int] | None = None

    def eta(self) -> float | None:
        if self._rate_start is None or not self.total:
            return None
        started, done_then = self._rate_start
        elapsed, units = self._clock() - started, self.done - done_then
        if units <= 0 or elapsed <= 0:
            return None
        return (self.total - self.done) * elapsed / units

    def emit(self) -> None:
        self._callback(ProgressEvent(self.stage, self.done, self.total, self.message, self.unit, self.eta()))

    def start_item(self, message: str) -> None:
        """A new item (a chunk, a sentence) begins; reported at once so the label says what runs."""
        self.message = message
        self.emit()

    def advance(self, units: int = 1) -> None:
        self.done = min(self.total, self.done + int(units)) if self.total else self.done + int(units)
        if self._rate_start is None:
            self._rate_start = (self._clock(), self.done)  # the rate counts from the end of the first batch
        self.emit()

    def finish(self, message: str = "done") -> None:
        self.done, self.message = self.total, message
        self._callback(ProgressEvent(self.stage, self.done, self.total, message, self.unit, 0.0))


_LINE_OPEN = [False]


def line_open() -> bool:
    """Whether a progress bar has drawn an unfinished line on stderr (a message must then start a new line)."""
    return _LINE_OPEN[0]


def forget_open_line() -> None:
    """A new command starts on a fresh line (the CLI calls this first)."""
    _LINE_OPEN[0] = False


class StderrProgressBar:
    """A one-line text bar on stderr with the time left, redrawn at most ~10 times a second."""

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
        if event.unit:
            count += f" {event.unit}"
        left = f" ~{format_duration(event.eta_s)} left" if event.eta_s is not None and not finished else ""
        self._stream.write(f"\r{event.stage:>8} [{bar}] {count}{left} {event.message[:50]:<50}")
        _LINE_OPEN[0] = True
        if finished:
            self._stream.write("\n")
            self._last_stage = ""
            _LINE_OPEN[0] = False
        self._stream.flush()
