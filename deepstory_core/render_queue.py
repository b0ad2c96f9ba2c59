"""A queue of renders: several projects exported one after another by the job manager, cancellable at any time.

Why on top of `jobs.py`: each queued render is an ordinary project job (same lock, same progress, same cancel), so
a page shows a queued render exactly like one started by hand; the queue only decides what starts next. One worker
thread runs the queue; it waits while any other job runs on the machine, so renders never compete for the CPU/GPU.
"""

from __future__ import annotations

import functools
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from deepstory_kernel.errors import DeepstoryError

from .jobs import JobFunction, JobManager, job_manager

EntryState = Literal["waiting", "running", "done", "failed", "cancelled"]
WorkFactory = Callable[[Path], JobFunction]


@dataclass(frozen=True)
class QueueEntry:
    id: str
    root: Path
    name: str
    state: EntryState = "waiting"
    error: str | None = None
    added: float = 0.0

    @property
    def active(self) -> bool:
        return self.state in ("waiting", "running")


def export_work(root: Path) -> JobFunction:
    """The default queued work: render everything missing and export the project's video."""

    def work(progress, cancel):
        from . import render
        from .project import Project

        return render.render_story(Project.open(root), progress, cancel)

    return work


class RenderQueue:
    def __init__(self, manager: JobManager | None = None, work: WorkFactory = export_work,
                 poll_s: float = 0.2) -> None:
        self._manager = manager or job_manager()
        self._work = work
        self._poll_s = poll_s
        self._entries: list[QueueEntry] = []
        self._guard = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # -- what the studio calls ---------------------------------------------------------------------------------
    def add(self, root: Path, name: str = "") -> QueueEntry:
        """Queue a project's render (a project already waiting or running is not queued twice)."""
        root = Path(root).resolve()
        with self._guard:
            for entry in self._entries:
                if entry.root == root and entry.active:
                    return entry
            entry = QueueEntry(uuid.uuid4().hex[:8], root, name or root.name, added=time.time())
            self._entries.append(entry)
            self._ensure_worker()
        self._wake.set()
        return entry

    def cancel(self, entry_id: str) -> bool:
        """A waiting entry leaves the queue; a running one is cancelled (its finished chunks are kept)."""
        with self._guard:
            for index, entry in enumerate(self._entries):
                if entry.id != entry_id or not entry.active:
                    continue
                if entry.state == "running":
                    self._manager.cancel(entry.root)
                else:
                    self._entries[index] = replace(entry, state="cancelled")
                return True
        return False

    def entries(self) -> list[QueueEntry]:
        with self._guard:
            return list(self._entries)

    def clear_finished(self) -> None:
        with self._guard:
            self._entries = [e for e in self._entries if e.active]

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """For tests and the CLI: until nothing waits or runs (False on timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not any(e.active for e in self.entries()):
                return True
            time.sleep(0.05)
        return False

    # -- the worker ----------------------------------------------------------------------------------------------
    def _ensure_worker(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="deepstory-queue", daemon=True)
            self._thread.start()

    def _next(self) -> tuple[int, QueueEntry] | None:
        for index, entry in enumerate(self._entries):
            if entry.state == "waiting":
                return index, entry
        return None

    def _set(self, entry_id: str, **changes) -> None:
        with self._guard:
            for index, entry in enumerate(self._entries):
                if entry.id == entry_id:
                    self._entries[index] = replace(entry, **changes)

    def _loop(self) -> None:
        while True:
            with self._guard:
                found = self._next()
                if found is None:
                    self._thread = None
                    return
                _, entry = found
            if self._manager.any_running():
                self._wake.wait(self._poll_s)   # another render runs: wait for it
                self._wake.clear()
                continue
            try:
                self._manager.start(entry.root, "queued render", self._work(entry.root))
            except DeepstoryError as err:
                self._set(entry.id, state="failed", error=str(err))
                continue
            self._set(entry.id, state="running")
            status = self._manager.wait(entry.root)
            state = status.state if status is not None else "failed"
            self._set(entry.id, state=state if state != "running" else "failed",
                      error=status.error if status is not None else "the job vanished")


_QUEUE_GUARD = threading.Lock()


@functools.cache
def _the_queue() -> RenderQueue:
    return RenderQueue()


def render_queue() -> RenderQueue:
    """The one queue of this process (the studio's sidebar shows it); made once, under a lock."""
    with _QUEUE_GUARD:
        return _the_queue()
