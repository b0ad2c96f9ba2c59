"""The driver side: a stage's missing chunks scheduled over Ray actors, results streamed back and stored.

Stage-major as in one process: all missing bases, then all missing clips. The executor starts one `StageWorker`
actor per worker (one per GPU, or a share of one for a small model; one per CPU otherwise) and keeps them for the
render; at each stage every actor loads that stage's model once (dropping the previous one). It keeps every actor
busy with one chunk (plus `prefetch` queued, so the next chunk's
inputs are already there when one ends); takes results as they finish (`ray.wait`), checks their sha256 and
writes them atomically into the project store under the chunk's key. The actors stop when the render ends.

Faults: actors restart after a crash (`max_restarts`) and Ray runs the lost chunk again (`max_task_retries`);
a chunk whose worker is gone for good is given to another one, `max_retries` times at most. The driver writes
only whole, checked artifacts, so a killed driver leaves the store as a killed single process would: rerun, and
what is finished is reused. Cancel reaches the workers through `RenderControl` within one batch.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from deepstory_kernel.errors import DeepstoryError, InputError, ModelUnavailableError, StorageError

from .. import integrity
from ..progress import Cancelled, CancelToken, ProgressCallback, StageProgress
from ..stages import animate as animate_stage
from ..stages import base as base_stage
from ..stages.runner import StageCount
from ..stages.voice import load_chunk_audio, load_chunk_phonemes
from .cluster import RayTarget, parse_ray_target, ray_session
from .control import ControlSnapshot, RenderControl
from .worker import ChunkArtifact, StageWorker

if TYPE_CHECKING:
    from ..chunk_jobs import Backends, ChunkJob

# Share of one GPU each actor of a backend takes (by backend name). FOM's generator wants a GPU of its own at
# batch size; SDA (GRID, ~55 M parameters, one 128-frame window ≈ 250 MB of activations) fits four to a GPU.
GPU_SHARE: dict[str, float] = {"fom": 1.0, "sda": 0.25}
POLL_S = 0.1


class WorkersLostError(DeepstoryError):
    """Every Ray worker of a stage died (or one chunk failed on too many of them)."""


@dataclass
class StageRun:
    """What one stage did on the cluster (also what `StageCount` says: rendered / reused)."""

    stage: str
    workers: int = 0
    rendered: int = 0
    reused: int = 0
    frames: int = 0
    retried: int = 0          # chunks run again after their worker died
    load_s: float = 0.0       # slowest worker's model load
    ready_s: float = 0.0      # from the stage's start until every worker held its model (processes started too)
    loop_s: float = 0.0       # from the first chunk handed out to the last one stored
    driver_s: float = 0.0     # of which the driver was busy (inputs out, results in, sha256, atomic writes)
    elapsed_s: float = 0.0
    worker_pids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class _Task:
    key: str
    index: int
    frames: int
    method: str               # the StageWorker method: "base" | "clip"
    args: tuple


@dataclass
class _Slot:
    actor: Any
    load: int = 0
    failures: int = 0
    alive: bool = True


def _cause(err: BaseException) -> BaseException:
    """A worker's own exception (one clear line for DeepstoryErrors) out of Ray's wrapper."""
    cause = getattr(err, "cause", None)
    return cause if isinstance(cause, BaseException) else err


class RayExecutor:
    """Runs the base and animate stages of renders on a Ray cluster. Use as a context manager: Ray is connected
    at the first stage that has work (a render with nothing missing starts no cluster) and disconnected at exit."""

    def __init__(self, target: RayTarget | str = "local", *, workers: int | None = None, prefetch: int = 1,
                 max_retries: int = 2, shared_store: bool = False, gpu_share: dict[str, float] | None = None) -> None:
        parsed = parse_ray_target(target) if isinstance(target, str) else target
        self.target = parsed if parsed is not None else RayTarget()
        self.workers = workers
        self.prefetch = max(0, prefetch)
        self.max_retries = max(0, max_retries)
        self.shared_store = shared_store
        self.gpu_share = dict(GPU_SHARE if gpu_share is None else gpu_share)
        self.runs: list[StageRun] = []
        self._stack: contextlib.ExitStack | None = None
        self._ray: Any = None
        self._control: Any = None
        self._snapshot = ControlSnapshot()
        self._finished: set[str] = set()
        self._slots: list[_Slot] = []
        self._pool_key = ""
        self._control_name = ""

    # -- session -------------------------------------------------------------------------------------------------
    def __enter__(self) -> RayExecutor:
        self._stack = contextlib.ExitStack()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._ray is not None:
            self._close_pool()
            if self._control is not None:
                self._ray.kill(self._control, no_restart=True)
        if self._stack is not None:
            self._stack.close()
        self._stack, self._ray, self._control = None, None, None

    def _connect(self) -> Any:
        if self._ray is None:
            if self._stack is None:
                self._stack = contextlib.ExitStack()
            self._ray = self._stack.enter_context(ray_session(self.target))
        return self._ray

    def frames_done(self, key: str) -> int:
        """Frames a worker has reported for the chunk of `key` in the current stage (as last polled)."""
        return self._snapshot.frames.get(key, 0)

    def running(self) -> dict[str, int]:
        """Artifact key → worker pid of the chunks being rendered now (as last polled)."""
        snap = self._snapshot
        return {key: snap.pids[key] for key in snap.frames if key in snap.pids and key not in self._finished}

    # -- stages --------------------------------------------------------------------------------------------------
    def run_base(self, project, jobs: Sequence[ChunkJob], backends: Backends, progress: ProgressCallback,
                 cancel: CancelToken | None = None) -> StageRun:
        """The base stage of `jobs`: every missing base rendered on the cluster."""
        spec, fingerprint = backends.base, backends.base_fingerprint
        store = project.store
        todo = [job for job in jobs if not base_stage.base_ready(store, job)]     # missing, or damaged: made again
        run = StageRun("base", reused=len(jobs) - len(todo))
        if todo:
            ray = self._connect()
            faces = self._put_faces(ray, todo)
            tasks = [_Task(job.base_key, job.index, job.num_frames, "base",
                           (faces[job.speaker], np.asarray(load_chunk_audio(project, job.chunk)),
                            load_chunk_phonemes(project, job.chunk), job.seed, job.style))
                     for job in todo]
            self._run(run, spec, fingerprint, store, base_stage.STAGE, base_stage.EXT, tasks, progress, cancel)
        self.runs.append(run)
        return run

    def run_animate(self, project, jobs: Sequence[ChunkJob], backends: Backends, progress: ProgressCallback,
                    cancel: CancelToken | None = None) -> StageRun:
        """The animate stage of `jobs`: every missing clip rendered on the cluster (their bases must exist)."""
        spec, fingerprint = backends.animate, backends.animate_fingerprint
        store = project.store
        todo = [job for job in jobs if not animate_stage.clip_ready(store, job)]
        run = StageRun("animate", reused=len(jobs) - len(todo))
        if todo:
            for job in todo:
                if not base_stage.base_ready(store, job):
                    raise InputError(f"The base of chunk {job.index + 1} is missing; render the base stage first.")
            ray = self._connect()
            faces = self._put_faces(ray, todo)
            # Base frames are read (memory-mapped) only when the chunk is submitted: the driver holds at most the
            # chunks in flight, whatever the story's length.
            tasks = [_Task(job.clip_key, job.index, job.num_frames, "clip",
                           (_BaseFrames(store, job.base_key, job.num_frames), faces[job.speaker], tuple(job.size),
                            job.full_frame))
                     for job in todo]
            self._run(run, spec, fingerprint, store, animate_stage.STAGE, animate_stage.EXT, tasks, progress, cancel)
        self.runs.append(run)
        return run

    def _put_faces(self, ray: Any, jobs: Sequence[Any]) -> dict[str, Any]:
        """Each speaker's face once in the object store, found here first (workers never run face detection)."""
        refs = {}
        for job in jobs:
            if job.speaker not in refs:
                if getattr(job.face, "_identity", None) is None:
                    job.face.face()
                refs[job.speaker] = ray.put(job.face)
        return refs

    # -- the scheduling loop ---------------------------------------------------------------------------------------
    def _actor_options(self, ray: Any, spec: Any, tasks: int) -> tuple[int, dict[str, Any]]:
        resources = ray.cluster_resources()
        gpus, cpus = float(resources.get("GPU", 0)), float(resources.get("CPU", 1))
        share = self.gpu_share.get(spec.name, 0.0)
        if share > 0 and gpus >= share:
            count = int(gpus / share + 1e-9)
            options = {"num_gpus": share, "num_cpus": min(1.0, cpus / count)}
        else:
            count = max(1, int(cpus))
            options = {"num_cpus": 1}
        if self.workers is not None:
            count = min(count, self.workers)
        return max(1, min(count, tasks)), options

    def _pool(self, ray: Any, spec: Any, tasks: int, store_root: str | None) -> list[_Slot]:
        """The render's actors, started at the first stage (more if this stage has more chunks than workers and
        the cluster more room; a new pool when this stage's model needs other resources, e.g. a GPU each)."""
        count, options = self._actor_options(ray, spec, tasks)
        key = repr(sorted(options.items()))
        if key != self._pool_key:
            self._close_pool()
            self._pool_key = key
        if self._control is None:   # named: workers look it up, so a restarted worker finds it again
            self._control_name = f"deepstory-control-{uuid.uuid4().hex[:12]}"
            self._control = ray.remote(RenderControl).options(num_cpus=0, name=self._control_name).remote()
        worker_class = ray.remote(StageWorker).options(max_restarts=self.max_retries,
                                                       max_task_retries=self.max_retries, **options)
        self._slots = [slot for slot in self._slots if slot.alive]
        while len(self._slots) < count:
            self._slots.append(_Slot(worker_class.remote(self._control_name, store_root)))
        return self._slots

    def _close_pool(self) -> None:
        for slot in self._slots:
            self._ray.kill(slot.actor, no_restart=True)   # frees its model; stops a chunk still running
        self._slots = []

    def _run(self, run: StageRun, spec: Any, fingerprint: str, store: Any, artifact_stage: str, ext: str,
             tasks: list[_Task], progress: ProgressCallback, cancel: CancelToken | None) -> None:
        ray = self._ray
        started = time.monotonic()
        tasks = list({task.key: task for task in tasks}.values())    # a chunk repeated word for word: once
        slots = self._pool(ray, spec, len(tasks), str(store.root) if self.shared_store else None)
        ray.get(self._control.reset.remote())
        self._finished = set()
        self._snapshot = ControlSnapshot()
        run.workers = len(slots)
        try:
            for pid, error, load_s in ray.get([slot.actor.load.remote(spec, fingerprint) for slot in slots]):
                if error:
                    raise ModelUnavailableError(error)
                run.worker_pids.append(pid)
                run.load_s = max(run.load_s, load_s)
            run.ready_s = time.monotonic() - started
            self._loop(ray, run, ray.put(spec), fingerprint, slots, tasks, store, artifact_stage, ext, progress,
                       cancel)
            run.loop_s = time.monotonic() - started - run.ready_s
        except BaseException:
            self._close_pool()       # cancelled or failed: stop the chunks still running on the workers
            raise
        finally:
            run.elapsed_s = time.monotonic() - started

    def _loop(self, ray: Any, run: StageRun, spec_ref: Any, fingerprint: str, slots: list[_Slot],
              tasks: list[_Task], store: Any, artifact_stage: str, ext: str, progress: ProgressCallback,
              cancel: CancelToken | None) -> None:
        control = self._control
        queue = deque((task, 0) for task in tasks)
        inflight: dict[Any, tuple[int, _Task, int]] = {}
        tracker = StageProgress(progress, run.stage, sum(task.frames for task in tasks), "frames")
        tracker.start_item(f"{len(tasks)} chunks on {len(slots)} Ray workers")
        finished_frames = 0
        last_event = 0.0

        def submit() -> None:
            for depth in range(1, 2 + self.prefetch):            # idle workers first, then the prefetch queue
                for index, slot in enumerate(slots):
                    if queue and slot.alive and slot.load < depth:
                        task, attempt = queue.popleft()
                        args = tuple(x for a in task.args for x in (a.read() if isinstance(a, _BaseFrames) else (a,)))
                        ref = getattr(slot.actor, task.method).remote(spec_ref, fingerprint, task.key, task.frames, *args)
                        inflight[ref] = (index, task, attempt)
                        slot.load += 1

        while queue or inflight:
            if cancel is not None and cancel.is_set():
                control.cancel.remote()
                for ref in inflight:
                    ray.cancel(ref)
                raise Cancelled()
            busy = time.monotonic()
            submit()
            run.driver_s += time.monotonic() - busy
            if not inflight:
                raise WorkersLostError(f"All Ray workers of the {run.stage} stage died; "
                                       f"{len(queue)} chunks were not rendered. Run the render again to resume.")
            done, _ = ray.wait(list(inflight), num_returns=1, timeout=POLL_S)
            if done:                                             # and every other result that is ready too
                done, _ = ray.wait(list(inflight), num_returns=len(inflight), timeout=0)
            busy = time.monotonic()
            for ref in done:
                index, task, attempt = inflight.pop(ref)
                slot = slots[index]
                slot.load -= 1
                try:
                    artifact: ChunkArtifact = ray.get(ref)
                except ray.exceptions.RayTaskError as err:        # the chunk itself failed: say why, in one line
                    raise _cause(err) from None
                except ray.exceptions.RayError as err:            # the worker died (killed, out of memory, lost)
                    slot.failures += 1
                    slot.alive = not isinstance(err, ray.exceptions.RayActorError)   # else: gone for good
                    if attempt >= self.max_retries:
                        raise WorkersLostError(f"Chunk {task.index + 1} failed on {attempt + 1} Ray workers "
                                               f"({str(err).splitlines()[0][:160]}).") from err
                    queue.appendleft((task, attempt + 1))
                    run.retried += 1
                    continue
                del ref
                self._store(store, artifact_stage, ext, task, artifact)
                self._finished.add(task.key)
                finished_frames += task.frames
                run.rendered += 1
                run.frames += task.frames
            now = time.monotonic()
            run.driver_s += now - busy if done else 0.0
            if now - last_event >= POLL_S or not (queue or inflight):
                last_event = now
                self._snapshot = ray.get(control.snapshot.remote())
                partial = sum(frames for key, frames in self._snapshot.frames.items() if key not in self._finished)
                unstored = 1 if queue or inflight else 0      # full only once every chunk is in the store
                done_frames = min(tracker.total - unstored, finished_frames + partial)
                tracker.message = f"{run.rendered} of {len(tasks)} chunks done on {len(slots)} Ray workers"
                if done_frames > tracker.done:
                    tracker.advance(done_frames - tracker.done)
        tracker.finish()
        run.retried += self._snapshot.retried
        run.worker_pids = sorted(set(run.worker_pids) | set(self._snapshot.pids.values()))   # restarted ones too

    @staticmethod
    def _store(store: Any, artifact_stage: str, ext: str, task: _Task, artifact: ChunkArtifact) -> None:
        """Check the bytes and write them under the chunk's key (atomic: a killed driver leaves no half file)."""
        if artifact.frames != task.frames or artifact.key != task.key:
            raise StorageError(f"A Ray worker returned chunk {task.index + 1} with {artifact.frames} frames "
                               f"instead of {task.frames}.")
        if artifact.data is None:       # written in place on the shared project path
            if not store.exists(artifact_stage, task.key, ext):
                raise StorageError(f"Chunk {task.index + 1} is not in the shared project folder "
                                   f"{store.root}; is it really shared by every Ray node?")
            # the worker hashed the file it wrote: not read back over the shared filesystem to hash it again
            integrity.seal(store, artifact_stage, task.key, ext, task.frames, sha256=artifact.sha256)
            return
        if hashlib.sha256(artifact.data).hexdigest() != artifact.sha256:
            raise StorageError(f"Chunk {task.index + 1} arrived damaged from its Ray worker; run the render again.")
        if artifact.track is not None:           # the base's face track goes in first, as the stage writes it
            with store.writing(artifact_stage, task.key, base_stage.TRACK_EXT) as tmp:
                tmp.write_bytes(artifact.track)
        with store.writing(artifact_stage, task.key, ext) as tmp:
            tmp.write_bytes(artifact.data)
        # what a later run verifies before reuse (the bytes were hashed just above: not read back to hash again)
        integrity.seal(store, artifact_stage, task.key, ext, task.frames, sha256=artifact.sha256)


@dataclass(frozen=True)
class _BaseFrames:
    """A chunk's base frames and face track, read from the store only when the chunk is handed to a worker."""

    store: Any
    key: str
    frames: int

    def read(self) -> tuple[np.ndarray, Any]:
        return (np.asarray(base_stage.read_base(self.store, self.key)),
                base_stage.read_base_track(self.store, self.key, self.frames))


class LocalStages:
    """The chunk stages in this process (each stage's model loaded once): what a render without `--ray` runs."""

    def __enter__(self) -> LocalStages:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    @staticmethod
    def run_base(project, jobs: Sequence[ChunkJob], backends: Backends, progress: ProgressCallback,
                 cancel: CancelToken | None = None) -> StageCount:
        return base_stage.run(project, jobs, backends.base, progress, cancel)

    @staticmethod
    def run_animate(project, jobs: Sequence[ChunkJob], backends: Backends, progress: ProgressCallback,
                    cancel: CancelToken | None = None) -> StageCount:
        return animate_stage.run(project, jobs, backends.animate, progress, cancel)


def stage_runner(target: str | RayTarget | RayExecutor | None, **options: Any) -> LocalStages | RayExecutor:
    """Where a render's chunk stages run: a `--ray` / settings value ("" = this process) or a configured
    executor, as a context manager."""
    if isinstance(target, RayExecutor):
        return target
    parsed = parse_ray_target(target) if not isinstance(target, RayTarget) else target
    return RayExecutor(parsed, **options) if parsed is not None else LocalStages()

