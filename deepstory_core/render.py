"""The render engine's public API: story → voices → chunk bases → animated clips → one exported video.

Why stage-major: all voices, then all bases, then all animations, so each model is loaded once per render and the
previous stage's models are evicted before the next stage loads its own (a GPU holds one stage's models at a time).
Each stage owns its loop (`stages/voice.py`, `stages/base.py`, `stages/animate.py`, `stages/export.py`); what a
chunk needs and produces is planned, without side effects, by `chunk_jobs`; memory is one chunk (one batch of
frames), whatever the story's length.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepstory_kernel.errors import DeepstoryError, InputError

from . import sentence_audio as sentences
from .atomic import remove_orphan_temp_files
from .backends import ANIMATE_BACKENDS, BASE_BACKENDS, STAGES  # noqa: F401  (the engine's backend tables)
from .chunk_jobs import ChunkJob, chunk_jobs, project_backends, select
from .distributed import RayExecutor, StageRun, stage_runner
from .models import evict_models
from .progress import CancelToken, ProgressCallback, no_progress
from .sentence_audio import SentenceAudio, plan_from_ready, sentence_audio
from .stages import animate as animate_stage
from .stages import base as base_stage
from .stages import export as export_stage
from .stages.export import export_path
from .stages.voice import StoryPlan, prepare_soundtrack

UNTIL = ("voice", "base", "animate")
STALE_TEMP_AGE_S = 120.0

__all__ = ["ANIMATE_BACKENDS", "BASE_BACKENDS", "ChunkJob", "ChunkStatus", "RenderResult", "chunk_status",
           "export_path", "forget_sentence", "render_chunk", "render_story", "retry_chunk"]


@dataclass
class RenderResult:
    video: Path | None
    subtitles: Path | None
    chunks: int
    frames: int
    samples: int
    sample_rate: int
    rendered: dict[str, int] = field(default_factory=lambda: {"base": 0, "animate": 0})
    reused: dict[str, int] = field(default_factory=lambda: {"base": 0, "animate": 0})
    elapsed_s: float = 0.0

    @property
    def duration_s(self) -> float:
        return self.samples / self.sample_rate if self.sample_rate else 0.0


def _result(project, plan: StoryPlan, jobs: list[ChunkJob] | None = None) -> RenderResult:
    frames = sum(chunk.num_frames for chunk in plan.chunks)
    return RenderResult(video=None, subtitles=None, chunks=len(plan.chunks), frames=frames,
                        samples=plan.num_samples, sample_rate=project.settings.sample_rate)


def _count(result: RenderResult, stage: str, count: base_stage.StageCount | StageRun) -> None:
    result.rendered[stage] += count.rendered
    result.reused[stage] += count.reused


def remove_stale_temp_files(project, min_age_s: float = STALE_TEMP_AGE_S) -> int:
    """Delete temp files that killed renders left beside the base and clip artifacts (never finished ones:
    those have no leading dot). Only files older than `min_age_s`, so a write in progress is never touched."""
    removed = 0
    now = time.time()
    for stage in ("voice", "chunk_audio"):      # a killed process's temp files, whatever their age
        removed += remove_orphan_temp_files(project.store.root / stage)
    for stage in (base_stage.STAGE, animate_stage.STAGE):
        folder = project.store.root / stage
        if not folder.is_dir():
            continue
        removed += remove_orphan_temp_files(folder)
        for entry in folder.iterdir():
            try:
                if entry.name.startswith(".") and entry.is_file() and now - entry.stat().st_mtime > min_age_s:
                    entry.unlink()
                    removed += 1
            except OSError:
                continue
    return removed


def render_story(project, progress: ProgressCallback = no_progress, cancel: CancelToken | None = None,
                 base_backend: str | None = None, animate_backend: str | None = None,
                 only_chunks: Iterable[int] | None = None, out: str | Path | None = None,
                 full_frame: bool | None = None, voice_factory=None, until: str | None = None,
                 ray: str | RayExecutor | None = None) -> RenderResult:
    """Render what is missing, stage by stage, up to and including `until` ("voice", "base", "animate"; None:
    everything, export included). A render limited to `only_chunks` never exports. `ray`: run the bases and clips
    on a Ray cluster ("local[:N]", "auto", "ray://host:10001"; "" = here; None = the project's setting)."""
    if until is not None and until not in UNTIL:
        raise InputError(f"Unknown stage {until!r}; choose voice, base or animate (or nothing: the whole story).")
    started = time.monotonic()
    # 1. check the backends before any work: missing weights stop the render at once
    backends = project_backends(project, base_backend, animate_backend, full_frame) if until != "voice" else None
    remove_stale_temp_files(project)
    evict_models()                 # the voice stage loads the voice models it needs
    # 2. voices: sentence audio, the chunk plan, chunk audio
    plan = prepare_soundtrack(project, progress, cancel, voice_factory)
    result = _result(project, plan)
    if backends is None:
        result.elapsed_s = time.monotonic() - started
        return result
    # 3. what each chunk needs and makes (keys), nothing rendered yet
    jobs = chunk_jobs(project, plan, backends)
    selected = set(only_chunks) if only_chunks is not None else None
    todo = select(jobs, selected)
    with stage_runner(project.settings.ray if ray is None else ray) as stages:   # here, or on a Ray cluster
        # 4. bases (base model loaded once, in this process or once per Ray worker)
        _count(result, "base", stages.run_base(project, todo, backends, progress, cancel))
        # 5. clips (animate model loaded once, base model evicted)
        if until != "base":
            _count(result, "animate", stages.run_animate(project, todo, backends, progress, cancel))
    evict_models()
    # 6. export: clips joined by stream copy, soundtrack as AAC, subtitles beside the video
    if selected is None and until is None:
        from .exported import record_export, story_fingerprint

        fingerprint = story_fingerprint(project)   # what this export shows (the story may change while it runs)
        exported = export_stage.run(project, plan, jobs, Path(out) if out is not None else export_path(project),
                                    progress, cancel)
        result.video, result.subtitles = exported.video, exported.subtitles
        record_export(exported.video, fingerprint)
    result.elapsed_s = time.monotonic() - started
    return result


def render_chunk(project, chunk_index: int, stage: str = "animate", progress: ProgressCallback = no_progress,
                 cancel: CancelToken | None = None, base_backend: str | None = None,
                 animate_backend: str | None = None, full_frame: bool | None = None,
                 voice_factory=None) -> RenderResult:
    """Render one chunk up to `stage` ("base" or "animate"), reusing what exists — the studio's per-chunk buttons."""
    if stage not in ("base", "animate"):
        raise InputError(f"Unknown stage {stage!r}; choose base or animate.")
    backends = project_backends(project, base_backend, animate_backend, full_frame)
    plan = prepare_soundtrack(project, no_progress, None, voice_factory)
    job, = select(chunk_jobs(project, plan, backends), {chunk_index})
    result = RenderResult(None, None, len(plan.chunks), job.num_frames,
                          job.num_frames * project.settings.samples_per_frame, project.settings.sample_rate)
    _count(result, "base", base_stage.run(project, [job], backends.base, progress, cancel))
    if stage == "animate":
        _count(result, "animate", animate_stage.run(project, [job], backends.animate, progress, cancel))
    return result


def retry_chunk(project, chunk_index: int, stage: str = "animate", progress: ProgressCallback = no_progress,
                cancel: CancelToken | None = None, **backends: Any) -> RenderResult:
    """Draw a new seed for one chunk (saved in the project) and re-render that chunk only."""
    plan = prepare_soundtrack(project, no_progress, cancel, backends.get("voice_factory"))
    if not 0 <= chunk_index < len(plan.chunks):
        raise InputError(f"Chunk {chunk_index + 1} does not exist; the story has {len(plan.chunks)} chunks.")
    project.retry_chunk(plan.chunks[chunk_index])
    project.save()
    return render_chunk(project, chunk_index, stage, progress, cancel, **backends)


@dataclass(frozen=True)
class ChunkStatus:
    index: int
    speaker: str
    num_frames: int
    seed: int
    audio: bool
    base: bool
    clip: bool
    base_path: Path
    clip_path: Path
    content_key: str = ""    # the chunk audio's key (previews mux it with the frames)


def chunk_status(project, base_backend: str | None = None, animate_backend: str | None = None,
                 full_frame: bool | None = None, voice_factory=None) -> list[ChunkStatus]:
    """Which artifacts of each chunk exist (for the studio's tables); empty until every sentence has audio.

    A query: it never synthesises, renders or writes anything (the plan comes from the stored sentence lengths)."""
    plan = plan_from_ready(project, sentence_audio(project, voice_factory))
    if plan is None:
        return []
    backends = project_backends(project, base_backend, animate_backend, full_frame)
    store = project.store
    return [ChunkStatus(
        job.index, job.speaker, job.num_frames, job.seed,
        audio=store.exists("chunk_audio", job.content_key, "npy"),
        base=store.exists(base_stage.STAGE, job.base_key, base_stage.EXT),
        clip=store.exists(animate_stage.STAGE, job.clip_key, animate_stage.EXT),
        base_path=store.path(base_stage.STAGE, job.base_key, base_stage.EXT),
        clip_path=store.path(animate_stage.STAGE, job.clip_key, animate_stage.EXT),
        content_key=job.content_key,
    ) for job in chunk_jobs(project, plan, backends)]


def forget_sentence(project, row: SentenceAudio) -> int:
    """Delete a sentence's audio and everything made from it — its chunk's audio, base and clip — so the next
    render makes them again; returns the number of files removed. Other chunks' work is kept."""
    plan = plan_from_ready(project, sentence_audio(project))
    downstream: list[Path] = []
    if plan is not None:
        try:
            statuses = chunk_status(project)
        except DeepstoryError:      # e.g. the chosen base weights went missing: no base/clip keys to name
            statuses = []
        for status in statuses:
            if row.index in plan.chunks[status.index].sentence_ids:
                downstream += [status.base_path, status.clip_path]
    return sentences.forget_sentence(project, row, plan, downstream)
