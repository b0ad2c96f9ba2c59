"""Background work that outlives a browser tab: one worker thread per project, polled by the pages.

Why: a Streamlit script run is tied to one browser session and is stopped when the user navigates away or closes
the tab. Long renders therefore run in a daemon thread owned by this process-wide `JobManager`; pages only start,
poll and cancel them. A project can have one job at a time — enforced inside the process by the manager and
across processes (a second studio, a CLI render) by an exclusive `flock` on `<project>/.job.lock` — so two tabs
can never start two conflicting renders.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from deepstory_kernel.errors import DeepstoryError

from .progress import Cancelled, ProgressCallback, ProgressEvent

JobState = Literal["running", "done", "failed", "cancelled"]
JobFunction = Callable[[ProgressCallback, threading.Event], object]


class JobConflictError(DeepstoryError):
    """Another render of the same project is already running (here or in another process)."""


@dataclass
class JobStatus:
    """A snapshot the UI can show: what runs, how far it got, how it ended."""

    project: str
    kind: str                    # "voices", "base", "animate", "export", "render", ...
    state: JobState
    started: float
    finished: float | None = None
    progress: ProgressEvent | None = None
    error: str | None = None     # a user-facing sentence when state == "failed"
    result: object = None
    notes: tuple[str, ...] = ()  # warnings the job logged on its way (e.g. a damaged artifact moved aside)

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def elapsed(self) -> float:
        return (self.finished or time.time()) - self.started


@dataclass
class _Job:
    status: JobStatus
    cancel: threading.Event
    thread: threading.Thread
    lock: threading.Lock = field(default_factory=threading.Lock)


class ProjectLock:
    """Exclusive, non-blocking `flock` on `<project>/.job.lock`; released when the holder exits or dies."""

    def __init__(self, project_root: Path) -> None:
        self._path = Path(project_root) / ".job.lock"
        self._fd: int | None = None

    def acquire(self) -> bool:
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def _open(self) -> int:
        """The lock file; in a read-only project (nothing can be written anyway) an existing lock file read-only,
        else the project folder itself (flock works on any open file, folders included)."""
        try:
            return os.open(self._path, os.O_CREAT | os.O_RDWR, 0o644)
        except OSError as err:
            if err.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise
        try:
            return os.open(self._path, os.O_RDONLY)
        except OSError:
            return os.open(self._path.parent, os.O_RDONLY)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> ProjectLock:
        if not self.acquire():
            raise JobConflictError(
                f"Another render of this project is already running (lock {self._path.name}). "
                "Wait for it to finish or cancel it first."
            )
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class JobManager:
    """Process-wide registry of background jobs, keyed by project folder."""

    def __init__(self) -> None:
        self._jobs: dict[str, _Job] = {}
        self._guard = threading.Lock()

    def start(self, project_root: Path, kind: str, work: JobFunction) -> JobStatus:
        """Run `work(progress, cancel_event)` in a daemon thread; refuse if the project is busy."""
        key = str(Path(project_root).resolve())
        with self._guard:
            current = self._jobs.get(key)
            if current is not None and current.status.running:
                raise JobConflictError(
                    f"A '{current.status.kind}' job is already running for this project. "
                    "Wait for it or cancel it before starting another."
                )
            lock = ProjectLock(Path(project_root))
            if not lock.acquire():
                raise JobConflictError(
                    "Another process (a second studio or a CLI render) is rendering this project right now. "
                    "Wait for it to finish."
                )
            status = JobStatus(project=key, kind=kind, state="running", started=time.time())
            cancel = threading.Event()
            thread = threading.Thread(target=self._run, args=(key, work, lock), name=f"deepstory-{kind}", daemon=True)
            self._jobs[key] = _Job(status=status, cancel=cancel, thread=thread)
            thread.start()
            return self._snapshot(self._jobs[key])

    def any_running(self) -> bool:
        """Whether any project has a job running in this process (the render queue waits for it)."""
        with self._guard:
            return any(job.status.running for job in self._jobs.values())

    def status(self, project_root: Path) -> JobStatus | None:
        job = self._jobs.get(str(Path(project_root).resolve()))
        return None if job is None else self._snapshot(job)

    def cancel(self, project_root: Path) -> bool:
        """Ask the job to stop at its next batch boundary; finished artifacts stay on disk."""
        job = self._jobs.get(str(Path(project_root).resolve()))
        if job is None or not job.status.running:
            return False
        job.cancel.set()
        return True

    def wait(self, project_root: Path, timeout: float | None = None) -> JobStatus | None:
        job = self._jobs.get(str(Path(project_root).resolve()))
        if job is None:
            return None
        job.thread.join(timeout)
        return self._snapshot(job)

    def forget(self, project_root: Path) -> None:
        """Drop a finished job's status (e.g. after the UI has shown its outcome)."""
        key = str(Path(project_root).resolve())
        with self._guard:
            job = self._jobs.get(key)
            if job is not None and not job.status.running:
                del self._jobs[key]

    def _run(self, key: str, work: JobFunction, lock: ProjectLock) -> None:
        job = self._jobs[key]
        notes = _JobNotes(job)
        logging.getLogger("deepstory").addHandler(notes)

        def report(event: ProgressEvent) -> None:
            with job.lock:
                job.status.progress = event
            if job.cancel.is_set():
                raise Cancelled()

        try:
            result = work(report, job.cancel)
            state: JobState = "cancelled" if job.cancel.is_set() else "done"
            error = None
        except Cancelled:
            state, error, result = "cancelled", None, None
        except DeepstoryError as err:
            state, error, result = "failed", str(err), None
        except Exception as err:  # a bug: keep the studio alive and say what happened
            state, result = "failed", None
            error = f"Unexpected error: {type(err).__name__}: {err}. Details were written to the server log."
            traceback.print_exc()
        finally:
            logging.getLogger("deepstory").removeHandler(notes)
            lock.release()
        with job.lock:
            job.status.state = state
            job.status.error = error
            job.status.result = result
            job.status.finished = time.time()

    @staticmethod
    def _snapshot(job: _Job) -> JobStatus:
        with job.lock:
            s = job.status
            return JobStatus(s.project, s.kind, s.state, s.started, s.finished, s.progress, s.error, s.result,
                             s.notes)


class _JobNotes(logging.Handler):
    """Keeps the warnings a job's thread logs (`deepstory` logger) on its status, so the studio can show them:
    the server log is not where a user looks."""

    def __init__(self, job: _Job) -> None:
        super().__init__(logging.WARNING)
        self._job = job
        self._thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self._thread:
            return                      # another project's job, or the page's own thread
        with self._job.lock:
            if len(self._job.status.notes) < 20:
                self._job.status.notes = (*self._job.status.notes, record.getMessage())


_MANAGER: JobManager | None = None
_MANAGER_GUARD = threading.Lock()


def job_manager() -> JobManager:
    """The one manager of this process (the studio's pages and the tests share it)."""
    global _MANAGER
    with _MANAGER_GUARD:
        if _MANAGER is None:
            _MANAGER = JobManager()
        return _MANAGER
