"""Background jobs: they outlive the caller, report progress, cancel cleanly, and never run twice per project."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from deepstory_core.jobs import JobConflictError, JobManager, ProjectLock
from deepstory_core.progress import ProgressEvent
from deepstory_kernel.errors import InputError


def _slow_work(steps: int, started: threading.Event, release: threading.Event):
    def work(progress, cancel):
        started.set()
        for i in range(steps):
            release.wait(5)
            progress(ProgressEvent("render", i + 1, steps, f"chunk {i + 1}"))
        return "finished"

    return work


def test_job_runs_in_background_and_reports_progress(tmp_path: Path) -> None:
    manager = JobManager()
    started, release = threading.Event(), threading.Event()
    manager.start(tmp_path, "render", _slow_work(3, started, release))
    assert started.wait(5)
    assert manager.status(tmp_path).running
    release.set()
    final = manager.wait(tmp_path, timeout=10)
    assert final.state == "done" and final.result == "finished"
    assert final.progress == ProgressEvent("render", 3, 3, "chunk 3")


def test_second_job_on_same_project_is_refused(tmp_path: Path) -> None:
    manager = JobManager()
    started, release = threading.Event(), threading.Event()
    manager.start(tmp_path, "base", _slow_work(2, started, release))
    started.wait(5)
    with pytest.raises(JobConflictError, match="already running"):
        manager.start(tmp_path, "animate", _slow_work(1, threading.Event(), release))
    release.set()
    manager.wait(tmp_path, 10)
    # once finished, a new job may start
    manager.start(tmp_path, "animate", _slow_work(1, threading.Event(), release))
    assert manager.wait(tmp_path, 10).state == "done"


def test_cancel_stops_at_next_progress_report(tmp_path: Path) -> None:
    manager = JobManager()
    done_steps: list[int] = []

    def work(progress, cancel):
        for i in range(1000):
            done_steps.append(i)
            progress(ProgressEvent("render", i, 1000))
            time.sleep(0.005)

    manager.start(tmp_path, "render", work)
    time.sleep(0.05)
    assert manager.cancel(tmp_path)
    status = manager.wait(tmp_path, 10)
    assert status.state == "cancelled"
    assert len(done_steps) < 1000


def test_user_error_becomes_message_not_traceback(tmp_path: Path) -> None:
    manager = JobManager()

    def work(progress, cancel):
        raise InputError("No face found in the portrait of Alice.")

    manager.start(tmp_path, "animate", work)
    status = manager.wait(tmp_path, 10)
    assert status.state == "failed"
    assert status.error == "No face found in the portrait of Alice."


def test_lock_is_exclusive_across_processes(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; sys.path.insert(0, sys.argv[2]);"
         "from deepstory_core.jobs import ProjectLock; from pathlib import Path;"
         "l = ProjectLock(Path(sys.argv[1])); assert l.acquire(); print('locked', flush=True); time.sleep(30)",
         str(tmp_path), str(Path(__file__).resolve().parents[1])],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(JobConflictError, match="already running"):
            with ProjectLock(tmp_path):
                pass
        with pytest.raises(JobConflictError, match="Another process"):
            JobManager().start(tmp_path, "render", lambda p, c: None)
    finally:
        holder.kill()
        holder.wait()
    # the dead holder's lock is gone with it
    with ProjectLock(tmp_path):
        pass
