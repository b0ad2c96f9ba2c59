"""Rendering on Ray: speed-up of 2 local workers over 1 (built-in backends), per-chunk scheduling overhead, and
a simulation of 8 GPUs on a 30-minute story.

1. builtin   A two-speaker story (built-in voices, portraits, base and animate) rendered in this process and on a
             local cluster with 1 and with 2 workers (the same cluster, 2 CPUs); the clips must be byte-identical.
2. overhead  Many short chunks through near-zero-cost backends (sleep 0): the cluster's time per chunk minus this
             process's = what scheduling, shipping inputs (audio, base frames) and returning artifact bytes cost.
3. simulate  A 30-minute story's chunk plan (speaker turns of 1–36 s, seeded) rendered by sleep-based backends of
             a stated per-frame cost on 1 and on 8 workers ("GPUs": the cluster declares 8 logical GPUs, one actor
             each). Time is compressed (fewer frames per chunk, shorter sleeps) so it runs in seconds; a model of the
             executor's scheduling (list scheduling + measured overhead + model load) is checked against the
             compressed run and then evaluated at full scale.

    python bench/bench_ray.py                          # all three
    python bench/bench_ray.py --part builtin --seconds 30
    python bench/bench_ray.py --part simulate --gpus 8 --fom-gpu-s 0.025
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deepstory_core import render
from deepstory_core.backends import BackendSpec, register_backend
from deepstory_core.distributed import RayExecutor, RayTarget, ray_session
from deepstory_core.progress import ProgressEvent
from deepstory_core.project import Project
from deepstory_kernel.contracts import Speech
from deepstory_kernel.media import BASE_SHAPE, CLIP_SIZE, SAMPLE_RATE, SAMPLES_PER_FRAME

WORDS = ("the morning train left the old station while the clock above the platform struck nine and the "
         "people waiting on the benches looked up from their papers to watch it go").split()
FOM_CPU_S = 1.5        # s per 256² frame, measured here (ENVIRONMENT.md: 1.33–1.65 s/frame on 2 loaded cores)


# -- backends of known cost ------------------------------------------------------------------------------------------
# Defined here, in the script: Ray ships classes of `__main__` to the workers by value. A sleeping worker uses no
# CPU, so a 2-core machine can host 8 of them and measure the scheduling itself.
BATCH = 8


class SleepBase:
    """Base frames (the identity, unchanged) after sleeping `seconds_per_frame` per frame, batch by batch."""

    def __init__(self, seconds_per_frame: float) -> None:
        self.seconds_per_frame = seconds_per_frame

    def animate(self, audio: np.ndarray, identity: np.ndarray, seed: int, phonemes: Sequence = (),
                style: object = None) -> Iterator[np.ndarray]:
        frames = len(audio) // SAMPLES_PER_FRAME
        for start in range(0, frames, BATCH):
            count = min(BATCH, frames - start)
            time.sleep(count * self.seconds_per_frame)
            yield np.broadcast_to(identity, (count, *BASE_SHAPE, 3)).copy()


class SleepMotion:
    """256×256 frames (a grey square) after sleeping `seconds_per_frame` per frame, batch by batch."""

    def __init__(self, seconds_per_frame: float) -> None:
        self.seconds_per_frame = seconds_per_frame

    def transfer(self, portrait: np.ndarray, driving: Iterable[np.ndarray], *, full_frame: bool = False,
                 geometry: object = None) -> Iterator[np.ndarray]:
        for batch in driving:
            time.sleep(len(batch) * self.seconds_per_frame)
            yield np.full((len(batch), CLIP_SIZE, CLIP_SIZE, 3), 128, np.uint8)


def sleep_specs(base_s: float, animate_s: float, name: str = "sleep") -> tuple[BackendSpec, BackendSpec]:
    """Base and animate specs of the given per-frame costs (closures and classes travel to the workers by value)."""

    def load_base() -> SleepBase:
        return SleepBase(base_s)

    def load_motion() -> SleepMotion:
        return SleepMotion(animate_s)

    return (BackendSpec("base", name, load_base, lambda: f"{name}-base-{base_s}"),
            BackendSpec("animate", name, load_motion, lambda: f"{name}-animate-{animate_s}"))


class FramesVoice:
    """Silent sentences whose length in frames is the number in the text ("[37]" → 37 frames)."""

    def __init__(self, voice_id: str) -> None:
        self.voice_id = voice_id

    def synthesize(self, text: str) -> Speech:
        match = re.search(r"\[(\d+)\]", text)
        frames = int(match.group(1)) if match else 1
        t = np.arange(frames * SAMPLES_PER_FRAME) / SAMPLE_RATE
        return Speech((0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), SAMPLE_RATE)   # nothing to trim


# -- helpers -------------------------------------------------------------------------------------------------------
class StageClock:
    """Wall time from the first event of the base stage to the last of the animate stage."""

    def __init__(self) -> None:
        self.start: float | None = None
        self.end = 0.0

    def __call__(self, event: ProgressEvent) -> None:
        if event.stage in ("base", "animate"):
            now = time.perf_counter()
            self.start = self.start if self.start is not None else now
            self.end = now

    @property
    def seconds(self) -> float:
        return self.end - (self.start or self.end)


def copy_without_frames(project: Project, root: Path) -> Project:
    shutil.copytree(project.root, root)
    for folder in ("artifacts/base", "artifacts/clip", "exports"):
        shutil.rmtree(root / folder, ignore_errors=True)
    return Project.open(root)


def clips(project: Project) -> dict[str, bytes]:
    folder = project.store.root / "clip"
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.mp4"))}


def stages_on_cluster(project: Project, workers: int, **render_args) -> tuple[float, RayExecutor]:
    executor = RayExecutor("local", workers=workers)
    clock = StageClock()
    render.render_story(project, clock, until="animate", ray=executor, **render_args)
    return clock.seconds, executor


# -- 1. built-in path ------------------------------------------------------------------------------------------------
def builtin_story(seconds: float) -> str:
    lines, total, i = [], 0.0, 0
    while total < seconds:
        words = " ".join(WORDS[(i * 5 + k) % len(WORDS)] for k in range(8 + i % 5))
        lines.append(f"{'Alice' if i % 2 == 0 else 'Grace'}: {words.capitalize()}.")
        total += 0.45 * (8 + i % 5) * 0.75 + 0.5      # espeak speaks ~2.5 words/s here (rough, for the line count)
        i += 1
    return "\n".join(lines) + "\n"


def bench_builtin(work: Path, seconds: float) -> None:
    template = Project.create(work / "template")
    template.set_story(builtin_story(seconds))
    template.save()
    render.render_story(template, until="voice")
    render.render_story(copy_without_frames(template, work / "warm"), until="animate")   # face model, caches
    local = copy_without_frames(template, work / "local")
    started = time.perf_counter()
    frames = render.render_story(local, until="animate").frames
    t_local = time.perf_counter() - started
    chunks = len(local.store.keys("clip"))
    t_cluster, stages = {}, {}
    for workers in (1, 2):
        project = copy_without_frames(template, work / f"ray{workers}")
        executor = RayExecutor("local", workers=workers)
        started = time.perf_counter()
        render.render_story(project, until="animate", ray=executor)
        t_cluster[workers], stages[workers] = time.perf_counter() - started, executor.runs
        assert clips(project) == clips(local), "cluster clips differ from the single-process ones"
    print(f"\n1. built-in backends, {frames / 25:.1f} s of story ({frames} frames, {chunks} chunks), 2 cores "
          f"(load average {os.getloadavg()[0]:.1f} while measuring: other processes share them)")
    print(f"   this process:        {t_local:6.2f} s  (render of base + animate)")
    for workers in (1, 2):
        runs = stages[workers]
        ready = sum(run.ready_s for run in runs)
        loop = sum(run.loop_s for run in runs)
        print(f"   Ray, {workers} worker{'s' if workers > 1 else ' '}:       {t_cluster[workers]:6.2f} s  "
              f"(workers started + models loaded {ready:.2f} s, chunks {loop:.2f} s)")
    loops = {w: sum(run.loop_s for run in stages[w]) for w in (1, 2)}
    print(f"   speed-up 2 workers / 1: {t_cluster[1] / t_cluster[2]:.2f}x end to end, "
          f"{loops[1] / loops[2]:.2f}x on the chunks alone; clips byte-identical to this process's")


# -- 2. per-chunk overhead -------------------------------------------------------------------------------------------
def frames_story(frames: list[int]) -> str:
    return "\n".join(f"{'Alice' if i % 2 == 0 else 'Grace'}: Line {i} [{n}]." for i, n in enumerate(frames)) + "\n"


def aligned_face_png(seed: int) -> bytes:
    """A 128×96 image: taken as an already aligned face, so no face detection runs (it would blur the timing)."""
    import cv2

    rng = np.random.default_rng(seed)
    image = np.full((128, 96, 3), rng.integers(40, 120, 3), np.uint8)
    image[40:90, 20:76] = rng.integers(120, 200, 3)
    return cv2.imencode(".png", image)[1].tobytes()


def frames_project(root: Path, frames: list[int]) -> Project:
    from deepstory_core.cast import CastEntry

    project = Project.create(root)
    project.settings = project.settings.with_changes(line_start_pause=0.0, punctuation_pauses={})
    project.set_story(frames_story(frames))
    for seed, speaker in enumerate(("Alice", "Grace")):
        project.cast[speaker] = CastEntry("sim", project.add_upload(aligned_face_png(seed), "face.png"))
    project.save()
    render.render_story(project, until="voice", voice_factory=FramesVoice)
    return project


def register_sleep(base_s: float, animate_s: float, name: str) -> None:
    base, animate = sleep_specs(base_s, animate_s, name)
    register_backend(base)
    register_backend(animate)


def bench_overhead(work: Path, chunks: int) -> tuple[float, float]:
    register_sleep(0.0, 0.0, "null")
    template = frames_project(work / "null", [25] * chunks)
    render.render_story(copy_without_frames(template, work / "null-warm"), until="animate", base_backend="null",
                        animate_backend="null", voice_factory=FramesVoice)
    clock = StageClock()
    local = copy_without_frames(template, work / "null-local")
    render.render_story(local, clock, until="animate", base_backend="null", animate_backend="null",
                        voice_factory=FramesVoice)
    t_local = clock.seconds
    project = copy_without_frames(template, work / "null-ray")
    _, executor = stages_on_cluster(project, 1, base_backend="null", animate_backend="null", voice_factory=FramesVoice)
    loop = sum(run.loop_s for run in executor.runs)
    n = len(project.store.keys("clip"))
    per_chunk = (loop - t_local) / (2 * n)
    driver = sum(run.driver_s for run in executor.runs) / (2 * n)
    print(f"\n2. scheduling overhead: {n} chunks of 1 s through zero-cost backends, 1 worker")
    print(f"   this process {t_local:.2f} s, Ray {loop:.2f} s (chunks only) → {per_chunk * 1000:.0f} ms per chunk "
          f"and stage (hand-out, 1 s of audio or 25 base frames in, the artifact's bytes back, written by the driver);"
          f" the driver itself is busy {driver * 1000:.0f} ms per chunk and stage")
    return max(per_chunk, 0.0), driver


# -- 3. simulation ---------------------------------------------------------------------------------------------------
def story_plan(minutes: float, seed: int = 0) -> list[int]:
    """Chunk lengths in frames of a story of `minutes`: speaker turns, log-normal around 7 s, 1–36 s."""
    rng = np.random.default_rng(seed)
    frames, total = [], 0
    while total < minutes * 60 * 25:
        seconds = float(np.clip(rng.lognormal(np.log(7.0), 0.7), 1.0, 36.0))
        frames.append(int(seconds * 25))
        total += frames[-1]
    return frames


def makespan(frames: list[int], workers: int, per_frame: float, overhead: float, load: float,
             driver: float = 0.0) -> float:
    """The executor's policy: every worker loads the model, then takes the next chunk in order when it is free;
    and the one driver handles every chunk in turn (`driver` s each), which bounds the stage from below."""
    free = [load] * workers
    for n in frames:
        index = int(np.argmin(free))
        free[index] += n * per_frame + overhead
    return max(max(free), load + len(frames) * driver)


def render_time(frames: list[int], workers: int, base_s: float, animate_s: float, overhead: float,
                loads: tuple[float, float], driver: float = 0.0) -> float:
    return (makespan(frames, workers, base_s, overhead, loads[0], driver)
            + makespan(frames, workers, animate_s, overhead, loads[1], driver))


def bench_simulate(work: Path, gpus: int, minutes: float, fom_gpu_s: float, sda_gpu_s: float, base_cpu_s: float,
                   overhead: float, driver: float, compress: int, run_seconds: float) -> None:
    plan = story_plan(minutes)
    total = sum(plan)
    print(f"\n3. simulation: a {minutes:.0f}-minute story = {total} frames in {len(plan)} chunks "
          f"(speaker turns 1–36 s, median 7 s); per chunk: overhead {overhead * 1000:.0f} ms, driver "
          f"{driver * 1000:.0f} ms (part 2); model load 1/5 s (CPU) and 5/10 s (GPU: SDA/FOM), assumed")
    scenarios = {
        "CPU workers, FOM 1.5 s/frame (measured)": (base_cpu_s, FOM_CPU_S, (1.0, 5.0)),
        f"GPUs, FOM {fom_gpu_s * 1000:.0f} ms/frame + SDA {sda_gpu_s * 1000:.0f} ms/frame (assumed)":
            (sda_gpu_s, fom_gpu_s, (5.0, 10.0)),
    }
    for name, (base_s, animate_s, loads) in scenarios.items():
        one = render_time(plan, 1, base_s, animate_s, overhead, loads, driver)
        many = render_time(plan, gpus, base_s, animate_s, overhead, loads, driver)
        print(f"   {name}: 1 worker {one / 3600:.2f} h, {gpus} workers {many / 3600:.2f} h "
              f"→ speed-up {one / many:.2f}x (ideal {gpus}x)")

    # The model checked against the real executor: the same plan, compressed, on sleeping actors.
    small = [max(1, round(n / compress)) for n in plan]
    _, animate_s, _ = next(iter(scenarios.values()))
    scale = run_seconds / (sum(small) * animate_s)        # sleep per frame so that 1 worker needs ~run_seconds
    sim_base, sim_animate = 0.0, animate_s * scale
    register_sleep(sim_base, sim_animate, "simfom")
    template = frames_project(work / "sim", small)
    measured = {}
    for workers in (1, gpus):
        project = copy_without_frames(template, work / f"sim{workers}")
        executor = RayExecutor("local", workers=workers, gpu_share={"simfom": 1.0})
        clock = StageClock()
        render.render_story(project, clock, until="animate", base_backend="simfom", animate_backend="simfom",
                            voice_factory=FramesVoice, ray=executor)
        measured[workers] = sum(run.loop_s for run in executor.runs)
    predicted = {w: render_time(small, w, sim_base, sim_animate, overhead, (0.0, 0.0), driver) for w in (1, gpus)}
    print(f"   check on Ray ({len(small)} chunks of 1/{compress} the frames, sleeping actors on {gpus} logical GPUs): "
          f"measured {measured[1]:.1f} s → {measured[gpus]:.1f} s = {measured[1] / measured[gpus]:.2f}x, "
          f"model {predicted[1]:.1f} s → {predicted[gpus]:.1f} s = {predicted[1] / predicted[gpus]:.2f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("builtin", "overhead", "simulate", "all"), default="all")
    parser.add_argument("--seconds", type=float, default=30.0, help="story length for part 1")
    parser.add_argument("--chunks", type=int, default=40, help="chunks for part 2")
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--fom-gpu-s", type=float, default=0.025, help="assumed FOM s/frame on one GPU")
    parser.add_argument("--sda-gpu-s", type=float, default=0.002, help="assumed SDA s/frame on one GPU")
    parser.add_argument("--base-cpu-s", type=float, default=0.01, help="built-in base s/frame on one CPU worker")
    parser.add_argument("--overhead-ms", type=float, help="per-chunk overhead for part 3 (default: part 2's, or 30)")
    parser.add_argument("--driver-ms", type=float, help="driver time per chunk for part 3 (default: part 2's, or 20)")
    parser.add_argument("--compress", type=int, default=25, help="part 3: frames of the real run = plan / this")
    parser.add_argument("--run-seconds", type=float, default=20.0, help="part 3: the 1-worker run's length")
    args = parser.parse_args()

    os.environ.setdefault("RAY_memory_monitor_refresh_ms", "0")   # other work on this box must not get our actors killed
    started = time.perf_counter()
    gpus = args.gpus if args.part in ("simulate", "all") else None   # logical GPUs: one sleeping actor each
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as folder, \
            ray_session(RayTarget(cpus=2, gpus=gpus)) as ray:
        print(f"local Ray cluster up in {time.perf_counter() - started:.1f} s: {ray.cluster_resources()}")
        work = Path(folder)
        overhead, driver = (args.overhead_ms or 30) / 1000, (args.driver_ms or 20) / 1000
        if args.part in ("builtin", "all"):
            bench_builtin(work, args.seconds)
        if args.part in ("overhead", "all"):
            measured, measured_driver = bench_overhead(work, args.chunks)
            overhead = args.overhead_ms / 1000 if args.overhead_ms else measured
            driver = args.driver_ms / 1000 if args.driver_ms else measured_driver
        if args.part in ("simulate", "all"):
            bench_simulate(work, args.gpus, args.minutes, args.fom_gpu_s, args.sda_gpu_s, args.base_cpu_s,
                           overhead, driver, args.compress, args.run_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
