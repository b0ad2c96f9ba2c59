"""Rendering on a Ray cluster: a local cluster of 2 CPU workers renders a two-speaker story with the built-in
backends — byte-identical to the single-process render, also when a worker process is killed mid-render —
and a second render reuses everything. One cluster for the whole module (it starts in a few seconds).

The voice stage runs in the driver, so both renders share the same sentence audio: the reference project is
rendered in this process first, then copied without its bases and clips, and rendered again on the cluster.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
from pathlib import Path

import pytest

from deepstory_core import render
from deepstory_core.distributed import RayExecutor, RayTarget, parse_ray_target, ray_session
from deepstory_core.progress import Cancelled, ProgressEvent
from deepstory_core.project import Project
from deepstory_kernel.errors import InputError

pytestmark = pytest.mark.ray

STORY = "Alice: Hello there, Grace. How are you?\nGrace: Fine, thanks.\nAlice: Good.\nGrace: Yes, very.\n"


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster of 2 CPUs for the module; the renders below find it connected and keep it open."""
    os.environ.setdefault("RAY_memory_monitor_refresh_ms", "0")   # a busy CI box must not OOM-kill our workers
    with ray_session(RayTarget(cpus=2)) as ray:
        yield ray


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Project:
    """The story rendered in this process (built-in voices, portraits, base and animate backends)."""
    project = Project.create(tmp_path_factory.mktemp("ray") / "reference")
    project.set_story(STORY)
    project.save()
    render.render_story(project)
    return project


def _copy_without_frames(project: Project, root: Path) -> Project:
    """The same project and sentence audio, without bases, clips or export: what the cluster must render."""
    shutil.copytree(project.root, root)
    for folder in ("artifacts/base", "artifacts/clip", "exports"):
        shutil.rmtree(root / folder, ignore_errors=True)
    return Project.open(root)


def _artifacts(project: Project) -> dict[str, bytes]:
    store = project.store.root
    return {f"{p.parent.name}/{p.name}": p.read_bytes()
            for folder in ("base", "clip") for p in sorted((store / folder).iterdir())}


def test_cluster_render_cancel_resume_after_a_killed_worker_then_reuse(cluster, reference, tmp_path):
    project = _copy_without_frames(reference, tmp_path / "cluster")
    expected = (reference.root / "exports" / "story.mp4").read_bytes()

    # 1. Cancel in the animate stage: the workers stop, the bases stay, no clip is left half-written.
    cancel = threading.Event()

    def cancel_in_the_animate_stage(event: ProgressEvent) -> None:
        if event.stage == "animate":
            cancel.set()

    with pytest.raises(Cancelled):
        render.render_story(project, progress=cancel_in_the_animate_stage, cancel=cancel, ray="local:2")
    clips_before = len(project.store.keys("clip"))
    assert len(project.store.keys("base")) == 4 and clips_before < 4

    # 2. Resume on the cluster; a worker process is killed while it renders a chunk: the chunk runs again.
    executor = RayExecutor("local:2")
    killed: list[int] = []

    def kill_a_busy_worker(event: ProgressEvent) -> None:
        running = executor.running()
        if not killed and event.stage == "animate" and running:
            pid = running[min(running, key=lambda key: executor.frames_done(key))]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    result = render.render_story(project, progress=kill_a_busy_worker, ray=executor)
    assert killed, "no worker was rendering a chunk when progress arrived"
    animate_run = executor.runs[-1]
    assert animate_run.retried >= 1 and killed[0] in animate_run.worker_pids
    assert result.rendered == {"base": 0, "animate": 4 - clips_before}
    assert result.video is not None and result.video.read_bytes() == expected                             # byte-identical to one process
    assert _artifacts(project) == _artifacts(reference)
    assert not [p for p in project.store.root.rglob(".*") if p.is_file()]     # no half artifact anywhere

    # 3. Nothing missing: nothing rendered, no worker even started, the same bytes.
    again = RayExecutor("local:2")
    second = render.render_story(project, ray=again)
    assert second.rendered == {"base": 0, "animate": 0} and second.reused == {"base": 4, "animate": 4}
    assert all(run.workers == 0 for run in again.runs)
    assert second.video is not None and second.video.read_bytes() == expected


def test_ray_targets():
    assert parse_ray_target("") is None and parse_ray_target("off") is None
    assert parse_ray_target("local") == RayTarget()
    assert parse_ray_target("local:3") == RayTarget(cpus=3)
    assert parse_ray_target("auto") == RayTarget(address="auto")
    assert parse_ray_target("ray://head.example:10001") == RayTarget(address="ray://head.example:10001")
    assert parse_ray_target("10.0.0.5:6379") == RayTarget(address="10.0.0.5:6379")
    for bad in ("local:0", "local:x", "http://x", "somewhere"):
        with pytest.raises(InputError):
            parse_ray_target(bad)
