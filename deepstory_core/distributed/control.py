"""The control channel of one stage run: workers report frames done, and learn from the reply whether to stop.

Why an actor and not Ray's task cancellation alone: a running task of a synchronous actor cannot be interrupted
by `ray.cancel`; a worker that asks "cancelled?" at each batch (it reports its progress anyway) stops within one
batch, and its half-written chunk never leaves the worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ControlSnapshot:
    """What the driver polls: frames done per artifact key, how often each was started, which worker runs it."""

    frames: dict[str, int] = field(default_factory=dict)
    starts: dict[str, int] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)

    @property
    def retried(self) -> int:
        """Chunks started more than once (a worker died under them and Ray ran them again)."""
        return sum(count - 1 for count in self.starts.values() if count > 1)


class RenderControl:
    """A tiny actor (no CPU reserved): progress in, the cancel flag out."""

    def __init__(self) -> None:
        self._state = ControlSnapshot()
        self._cancelled = False

    def reset(self) -> None:
        """A new stage: no progress, no cancel."""
        self._state = ControlSnapshot()
        self._cancelled = False

    def start(self, key: str, pid: int) -> bool:
        state = self._state
        state.starts[key] = state.starts.get(key, 0) + 1
        state.frames[key] = 0
        state.pids[key] = pid
        return self._cancelled

    def report(self, key: str, frames: int) -> bool:
        self._state.frames[key] = frames
        return self._cancelled

    def cancel(self) -> None:
        self._cancelled = True

    def snapshot(self) -> ControlSnapshot:
        return self._state
