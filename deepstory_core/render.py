"""The render engine: story → voices → chunk bases → animated clips → one exported video.

Why stage-major: all voices, then all bases, then all animations, so each model is loaded once per render, and the
previous stage's models are evicted before the next stage loads its own (a GPU holds one stage's models at a time).
Why keys: every base and clip is an artifact whose key hashes everything that determines it (backend, weights,
input artifact keys, portrait pixels, parameters, seed) — so a second render of an unchanged story renders
nothing, a retry re-renders one chunk, a new portrait re-animates only that speaker's chunks, and a render killed
at any moment resumes, redoing at most the chunks that were unfinished. Memory is one chunk (one batch of frames),
whatever the story's length.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from deepstory_kernel.checkpoints import weights_fingerprint
from deepstory_kernel.contracts import BaseAnimator, MotionTransfer
from deepstory_kernel.errors import InputError, ModelUnavailableError
from deepstory_kernel.media import BASE_SHAPE

from .progress import Cancelled, CancelToken, ProgressCallback, ProgressEvent, no_progress
from .stages import animate as animate_stage
from .stages import base as base_stage
from .stages.export import ExportResult, export_video
from .stages.voice import StoryPlan, load_chunk_audio, load_chunk_phonemes, prepare_soundtrack

STAGES = ("base", "animate")


# -- backends ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BackendSpec:
    """How to load a backend, and what identifies its output (id + weights checksum) without loading it."""

    kind: str                           # "base" | "motion"
    name: str                           # "builtin", "sda", "fom", ...
    load: Callable[[], Any]
    fingerprint: Callable[[], str]      # weights checksum or code version: part of every artifact key
    supports_full_frame: bool = False

    @property
    def backend_id(self) -> str:
        return f"{self.kind}:{self.name}"


def _builtin_base() -> BaseAnimator:
    from modules.classic.lipsync import BuiltinLipSync

    return BuiltinLipSync()


def _builtin_motion() -> MotionTransfer:
    from modules.classic.transfer import BuiltinMotionTransfer

    return BuiltinMotionTransfer()


def _source_fingerprint(*packages: str) -> Callable[[], str]:
    """A built-in backend's fingerprint: a hash of its packages' source files, so any change to the code that
    makes its frames (lip-sync, transfer, face alignment) gives new artifact keys — no version to forget."""

    def fingerprint() -> str:
        import importlib

        digest = hashlib.sha256()
        for package in packages:
            folder = Path(importlib.import_module(package).__file__).parent
            for source in sorted(folder.glob("*.py")):
                digest.update(source.name.encode())
                digest.update(source.read_bytes())
        return digest.hexdigest()[:24]

    return fingerprint


def _registry_entry(backend: str):
    from . import registry

    return registry.entry(backend)


NEURAL_BACKENDS = ("sda", "fom")   # backends whose weights the user brings (registry entries of the same name)


def require_weights(backend: str) -> None:
    """ModelUnavailableError with the registry's fix message when a neural backend's weights are missing."""
    from . import registry

    result = registry.check(_registry_entry(backend))
    if not result.ready:
        raise ModelUnavailableError("; ".join(part.rstrip(".") for part in (result.message, result.fix) if part) + ".")


def _registry_fingerprint(backend: str) -> Callable[[], str]:
    """Weights fingerprint without loading them: per file its size and a hash of its first and last MiB."""

    def fingerprint() -> str:
        require_weights(backend)
        return weights_fingerprint(model_file.path for model_file in _registry_entry(backend).files)

    return fingerprint


def _sda_base() -> BaseAnimator:
    from .models import load_sda  # checks the file with the registry first

    return load_sda(_registry_entry("sda").files[0].path)


class _FaceCropped:
    """FOM animates a 256×256 face crop (vox-256 framing), not a whole portrait: crop it first."""

    def __init__(self, animator: MotionTransfer) -> None:
        self.animator = animator

    def transfer(self, portrait: np.ndarray, driving: Iterable[np.ndarray], *,
                 full_frame: bool = False, geometry: Any = None) -> Iterable[np.ndarray]:
        from modules.face.align import crop_square_256

        if full_frame:
            raise InputError("Full-frame export needs the built-in motion transfer; FOM makes 256×256 clips only.")
        if portrait.shape[:2] != (256, 256) or geometry is not None:
            portrait = crop_square_256(portrait, geometry).image
        return self.animator.transfer(portrait, driving)


def _fom_motion() -> MotionTransfer:
    require_weights("fom")
    from modules.fom.animator import FomAnimator

    from .models import load_fom

    files = _registry_entry("fom").files
    return _FaceCropped(FomAnimator(*load_fom(files[0].path, files[1].path)))


BASE_BACKENDS: dict[str, BackendSpec] = {
    "builtin": BackendSpec("base", "builtin", _builtin_base, _source_fingerprint("modules.classic", "modules.face")),
    "sda": BackendSpec("base", "sda", _sda_base, _registry_fingerprint("sda")),
}
MOTION_BACKENDS: dict[str, BackendSpec] = {
    "builtin": BackendSpec("motion", "builtin", _builtin_motion,
                           _source_fingerprint("modules.classic", "modules.face"), supports_full_frame=True),
    "fom": BackendSpec("motion", "fom", _fom_motion, _registry_fingerprint("fom")),
}


def register_backend(spec: BackendSpec) -> None:
    """Add a backend (e.g. a cheap one for tests) under `spec.name`."""
    (BASE_BACKENDS if spec.kind == "base" else MOTION_BACKENDS)[spec.name] = spec


def _spec(table: dict[str, BackendSpec], name: str, kind: str) -> BackendSpec:
    if name not in table:
        raise InputError(f"Unknown {kind} backend {name!r}; choose one of {', '.join(sorted(table))}.")
    return table[name]


def make_base_animator(name: str = "builtin") -> BaseAnimator:
    return _spec(BASE_BACKENDS, name, "base").load()


def make_motion_transfer(name: str = "builtin") -> MotionTransfer:
    return _spec(MOTION_BACKENDS, name, "motion").load()


# -- model lifetime ------------------------------------------------------------------------------------------------
_MODEL_CACHE: Any = None


def set_model_cache(cache: Any) -> None:
    """Route model loading through another cache with `get(key, loader)`, `evict(except_stage=None)`, `loaded()`
    (the studio installs its `st.cache_resource` loaders here); None restores the process-wide default."""
    global _MODEL_CACHE
    _MODEL_CACHE = cache


def model_cache() -> Any:
    """The installed model cache, else the process-wide one (`deepstory_core.models.MODELS`)."""
    if _MODEL_CACHE is not None:
        return _MODEL_CACHE
    from .models import MODELS

    return MODELS


def _cache_key(spec: BackendSpec) -> str:
    """Neural backends under their registry id (what the studio's memory panel lists), built-ins by kind."""
    return spec.name if spec.name in ("sda", "fom") else spec.backend_id


def _load_for_stage(spec: BackendSpec) -> Any:
    """Evict the models of every other stage (and of this stage's other backends), then load this one."""
    cache = model_cache()
    evict_models(except_stage="base" if spec.kind == "base" else "motion")
    return cache.get(_cache_key(spec), spec.load)


def evict_models(except_stage: str | None = None) -> None:
    """Drop every loaded model not serving `except_stage`, DC-TTS voices (which keep their own cache) included."""
    from .voice_dctts import evict_dctts_models

    model_cache().evict(except_stage=except_stage)
    if except_stage != "voice":
        evict_dctts_models()


# -- portraits and identities --------------------------------------------------------------------------------------
def portrait_ref(project, speaker: str) -> str:
    """The speaker's portrait: the cast's choice, else a built-in one (speakers take them in turn)."""
    entry = project.cast.get(speaker)
    if entry is not None and entry.portrait:
        return entry.portrait
    from .portraits import builtin_portraits

    builtins = [info.ref for info in builtin_portraits()]
    if not builtins:
        raise InputError(f"Speaker {speaker[:40]!r} has no portrait; choose one in the cast.")
    speakers = project.speakers()
    position = speakers.index(speaker) if speaker in speakers else 0
    return builtins[position % len(builtins)]


def load_portrait_image(project, ref: str) -> np.ndarray:
    from .portraits import load_portrait

    return np.ascontiguousarray(load_portrait(ref, project.uploads_dir), dtype=np.uint8)


def find_face(portrait: np.ndarray, speaker: str) -> Any:
    """The portrait's face geometry (modules.face); an InputError naming the speaker when there is none."""
    from modules.face.align import analyze_portrait

    try:
        return analyze_portrait(portrait)
    except InputError as err:
        raise InputError(f"Portrait of {speaker[:40]!r}: {err}") from err


def aligned_identity(portrait: np.ndarray, speaker: str, geometry: Any = None, animator: Any = None) -> np.ndarray:
    """The portrait's face aligned to the 128×96 base framing (an image already 128×96 is used as it is);
    `geometry`: the face as found (`find_face`) or placed by hand (`manual_geometry`); None = find it here.

    With 68 landmarks (face-alignment's weights cached) and an animator that aligns to its own model (SDA: its
    mean face, 5 stable points, as the original), the animator's alignment is used; otherwise the canonical one."""
    from modules.face.align import align_face

    geometry = geometry if geometry is not None else find_face(portrait, speaker)
    if geometry.method == "aligned":
        return portrait
    model_align = getattr(animator, "align", None)
    if geometry.landmarks is not None and callable(model_align):
        return np.ascontiguousarray(model_align(portrait, geometry.landmarks), dtype=np.uint8)
    return np.ascontiguousarray(align_face(portrait, geometry).image, dtype=np.uint8)


def _landmarks_available() -> bool:
    from modules.face.landmarks import weights_cached

    return weights_cached()


def manual_geometry(project, speaker: str, portrait: np.ndarray) -> Any:
    """The face geometry the user placed by hand in the cast (`CastEntry.face_box`), else None (detect)."""
    entry = project.cast.get(speaker)
    box = getattr(entry, "face_box", None)
    if box is None:
        return None
    from modules.face.align import geometry_from_box

    return geometry_from_box(portrait, box)


SDA_TEMPLATE_NAMES = ("template.png", "template.bmp", "template.jpg")


def sda_template() -> np.ndarray:
    """SDA's template face (`data/sda/template.png|bmp|jpg`, 128×96): the identity when `sda_identity` is "template"."""
    from .registry import data_dir

    folder = data_dir() / "sda"
    for name in SDA_TEMPLATE_NAMES:
        path = folder / name
        if path.is_file():
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None or image.shape[:2] != BASE_SHAPE:
                raise InputError(f"The SDA template {path} must be a {BASE_SHAPE[0]}×{BASE_SHAPE[1]} (H×W) image.")
            return np.ascontiguousarray(image[..., ::-1])
    raise ModelUnavailableError(f"No SDA template face: put a {BASE_SHAPE[0]}×{BASE_SHAPE[1]} (H×W) aligned face "
                                f"image at {folder / SDA_TEMPLATE_NAMES[0]}, or set the SDA identity to \"portrait\".")


@dataclass
class _Speaker:
    """One speaker of a render: the portrait, its face found once (or placed by hand), and the base identity."""

    name: str
    portrait: np.ndarray
    portrait_hash: str
    identity_hash: str
    _face: Any = None                       # FaceGeometry: placed by hand, else found on first use
    _identity: np.ndarray | None = None     # SDA's template face, or the aligned portrait once made

    def face(self) -> Any:
        if self._face is None:
            self._face = find_face(self.portrait, self.name)
        return self._face

    def identity(self, animator: Any = None) -> np.ndarray:
        """The base stage's identity image (`animator`: the loaded base model, which may align faces its own way)."""
        if self._identity is None:
            self._identity = aligned_identity(self.portrait, self.name, self.face(), animator)
        return self._identity


# -- the plan of one render ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChunkJob:
    """What one chunk needs and produces: its keys decide whether anything must be rendered."""

    index: int
    speaker: str
    content_key: str
    num_frames: int
    seed: int
    base_key: str
    clip_key: str


@dataclass
class RenderResult:
    video: Path | None
    subtitles: Path | None
    chunks: int
    frames: int
    samples: int
    rendered: dict[str, int] = field(default_factory=lambda: {"base": 0, "animate": 0})
    reused: dict[str, int] = field(default_factory=lambda: {"base": 0, "animate": 0})
    elapsed_s: float = 0.0

    @property
    def duration_s(self) -> float:
        return self.frames / 25


@dataclass
class _RenderContext:
    project: Any
    plan: StoryPlan
    base: BackendSpec
    motion: BackendSpec
    full_frame: bool
    size: tuple[int, int]
    speakers: dict[str, _Speaker]
    jobs: list[ChunkJob]


def _backends(base_name: str, motion_name: str, full_frame: bool) -> tuple[BackendSpec, BackendSpec, str, str]:
    """Resolve and check both backends before any work: missing weights stop the render at once."""
    base = _spec(BASE_BACKENDS, base_name, "base")
    motion = _spec(MOTION_BACKENDS, motion_name, "motion")
    if full_frame and not motion.supports_full_frame:
        raise InputError(f"Full-frame export needs the built-in motion transfer; the {motion_name} backend makes "
                         f"256×256 clips only.")
    return base, motion, base.fingerprint(), motion.fingerprint()


def _prepare(project, plan: StoryPlan, base_name: str, motion_name: str, full_frame: bool) -> _RenderContext:
    settings = project.settings
    base, motion, base_fingerprint, motion_fingerprint = _backends(base_name, motion_name, full_frame)
    use_template = base_name == "sda" and settings.sda_identity == "template"
    # SDA aligns a face with landmarks to its own mean face: which alignment ran is part of the identity's key.
    alignment = "sda-landmarks" if base_name == "sda" and _landmarks_available() else "canonical"

    speakers: dict[str, _Speaker] = {}
    for speaker in dict.fromkeys(chunk.speaker for chunk in plan.chunks):
        portrait = load_portrait_image(project, portrait_ref(project, speaker))
        geometry = manual_geometry(project, speaker, portrait)
        portrait_hash = base_stage.image_hash(portrait)
        if geometry is not None:   # a hand-placed face is part of what the identity and the clip depend on
            portrait_hash += ":box" + ",".join(f"{v:.1f}" for v in project.cast[speaker].face_box)
        if use_template:
            template = sda_template()
            speakers[speaker] = _Speaker(speaker, portrait, portrait_hash,
                                         "template:" + base_stage.image_hash(template), geometry, template)
        else:
            speakers[speaker] = _Speaker(speaker, portrait, portrait_hash, f"aligned:{alignment}:{portrait_hash}",
                                         geometry)
    size = animate_stage.export_size(((s.portrait.shape[1], s.portrait.shape[0]) for s in speakers.values()),
                                     full_frame)
    jobs = []
    for chunk in plan.chunks:
        speaker = speakers[chunk.speaker]
        seed = project.seed_for(chunk.content_key)
        base_key = base_stage.base_key(backend_id=base.backend_id, weights_checksum=base_fingerprint,
                                       audio_key=chunk.content_key, identity_hash=speaker.identity_hash, seed=seed,
                                       params={"fps": settings.fps, "sample_rate": settings.sample_rate})
        clip_key = animate_stage.clip_key(backend_id=motion.backend_id, weights_checksum=motion_fingerprint,
                                          base_key=base_key, portrait_hash=speaker.portrait_hash, size=size,
                                          full_frame=full_frame)
        jobs.append(ChunkJob(chunk.index, chunk.speaker, chunk.content_key, chunk.num_frames, seed, base_key, clip_key))
    return _RenderContext(project, plan, base, motion, full_frame, size, speakers, jobs)


STALE_TEMP_AGE_S = 120.0


def remove_stale_temp_files(project, min_age_s: float = STALE_TEMP_AGE_S) -> int:
    """Delete temp files that killed renders left beside the base and clip artifacts (never finished ones:
    those have no leading dot). Only files older than `min_age_s`, so a write in progress is never touched."""
    removed = 0
    now = time.time()
    for stage in (base_stage.STAGE, animate_stage.STAGE):
        folder = project.store.root / stage
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            try:
                if entry.name.startswith(".") and entry.is_file() and now - entry.stat().st_mtime > min_age_s:
                    entry.unlink()
                    removed += 1
            except OSError:
                continue
    return removed


def _check_cancel(cancel: CancelToken | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled()


def _run_stage(stage: str, spec: BackendSpec, todo: Sequence[ChunkJob], result: RenderResult,
               progress: ProgressCallback, cancel: CancelToken | None,
               render_one: Callable[[Any, ChunkJob], None]) -> None:
    """Load the stage's model once (evicting the others), then render each missing chunk, checking for cancel."""
    if not todo:
        return
    model = _load_for_stage(spec)
    for done, job in enumerate(todo):
        _check_cancel(cancel)
        progress(ProgressEvent(stage, done, len(todo), f"chunk {job.index + 1} ({job.speaker[:20]})"))
        render_one(model, job)
        result.rendered[stage] += 1
    progress(ProgressEvent(stage, len(todo), len(todo), "done"))


def _run_bases(ctx: _RenderContext, jobs: Sequence[ChunkJob], result: RenderResult, progress: ProgressCallback,
               cancel: CancelToken | None) -> None:
    store = ctx.project.store
    todo = [job for job in jobs if not store.exists(base_stage.STAGE, job.base_key, base_stage.EXT)]
    result.reused["base"] += len(jobs) - len(todo)
    chunks = {chunk.index: chunk for chunk in ctx.plan.chunks}

    def render_one(animator: Any, job: ChunkJob) -> None:
        chunk = chunks[job.index]
        base_stage.render_base(store, job.base_key, animator, load_chunk_audio(ctx.project, chunk),
                               ctx.speakers[job.speaker].identity(animator), job.seed,
                               load_chunk_phonemes(ctx.project, chunk), cancel)

    _run_stage("base", ctx.base, todo, result, progress, cancel, render_one)


def _run_animations(ctx: _RenderContext, jobs: Sequence[ChunkJob], result: RenderResult,
                    progress: ProgressCallback, cancel: CancelToken | None) -> None:
    store = ctx.project.store
    todo = [job for job in jobs if not store.exists(animate_stage.STAGE, job.clip_key, animate_stage.EXT)]
    result.reused["animate"] += len(jobs) - len(todo)

    def render_one(motion: Any, job: ChunkJob) -> None:
        if not store.exists(base_stage.STAGE, job.base_key, base_stage.EXT):
            raise InputError(f"The base of chunk {job.index + 1} is missing; render the base stage first.")
        speaker = ctx.speakers[job.speaker]
        animate_stage.render_clip(store, job.clip_key, base_stage.read_base(store, job.base_key), motion,
                                  speaker.portrait, ctx.size, ctx.full_frame, cancel, geometry=speaker.face())

    _run_stage("animate", ctx.motion, todo, result, progress, cancel, render_one)


def export_path(project) -> Path:
    return project.root / "exports" / "story.mp4"


def _export(ctx: _RenderContext, out: Path, progress: ProgressCallback, cancel: CancelToken | None) -> ExportResult:
    from .soundtrack import write_soundtrack
    from .subtitles import srt_blocks, subtitle_cues

    project = ctx.project
    store = project.store
    _check_cancel(cancel)
    progress(ProgressEvent("export", 0, 3, "soundtrack"))
    wav = project.root / "exports" / "story.wav"
    write_soundtrack(project, ctx.plan, wav, cancel=cancel)
    cues = subtitle_cues(ctx.plan, project.sentences)
    srt_text = "".join(srt_blocks(cues, ctx.plan.sample_rate))
    progress(ProgressEvent("export", 1, 3, "joining clips"))
    clips = [store.path(animate_stage.STAGE, job.clip_key, animate_stage.EXT) for job in ctx.jobs]
    exported = export_video(clips, wav, out, srt_text, soft_subtitles=project.settings.soft_subtitles)
    progress(ProgressEvent("export", 3, 3, str(out.name)))
    return exported


# -- public API ----------------------------------------------------------------------------------------------------
def render_story(project, progress: ProgressCallback = no_progress, cancel: CancelToken | None = None,
                 base_backend: str | None = None, motion_backend: str | None = None,
                 only_chunks: Iterable[int] | None = None, out: str | Path | None = None,
                 full_frame: bool | None = None, voice_factory=None, until: str = "export") -> RenderResult:
    """Render what is missing, stage by stage, up to `until` ("base", "animate" or "export"; a render limited to
    `only_chunks` never exports).

    1. voices + chunk audio  2. bases (base model loaded once)  3. clips (motion model loaded once, base evicted)
    4. export: clips joined by stream copy, soundtrack as AAC, subtitles beside the video.
    """
    if until not in (*STAGES, "export"):
        raise InputError(f"Unknown stage {until!r}; choose base, animate or export.")
    started = time.monotonic()
    settings = project.settings
    base_name = base_backend or settings.base_backend
    motion_name = motion_backend or settings.motion_backend
    full_frame = settings.full_frame if full_frame is None else full_frame

    _backends(base_name, motion_name, full_frame)  # fail fast on missing weights, before the voices
    remove_stale_temp_files(project)
    evict_models()  # voice models (if any) are loaded by the voice stage itself
    plan = prepare_soundtrack(project, progress, cancel, voice_factory)
    ctx = _prepare(project, plan, base_name, motion_name, full_frame)
    selected = set(only_chunks) if only_chunks is not None else None
    if selected is not None:
        unknown = sorted(i for i in selected if not 0 <= i < len(ctx.jobs))
        if unknown:
            raise InputError(f"Chunk {unknown[0] + 1} does not exist; the story has {len(ctx.jobs)} chunks.")
    jobs = [job for job in ctx.jobs if selected is None or job.index in selected]
    result = RenderResult(video=None, subtitles=None, chunks=len(ctx.jobs),
                          frames=sum(job.num_frames for job in ctx.jobs), samples=plan.num_samples)

    _run_bases(ctx, jobs, result, progress, cancel)
    if until != "base":
        _run_animations(ctx, jobs, result, progress, cancel)
    evict_models()
    if selected is None and until == "export":
        exported = _export(ctx, Path(out) if out is not None else export_path(project), progress, cancel)
        result.video, result.subtitles = exported.video, exported.subtitles
    result.elapsed_s = time.monotonic() - started
    return result


def _context(project, base_backend: str | None = None, motion_backend: str | None = None,
             full_frame: bool | None = None, voice_factory=None) -> _RenderContext:
    settings = project.settings
    plan = prepare_soundtrack(project, no_progress, None, voice_factory)
    return _prepare(project, plan, base_backend or settings.base_backend, motion_backend or settings.motion_backend,
                    settings.full_frame if full_frame is None else full_frame)


def render_chunk(project, chunk_index: int, stage: str = "animate", progress: ProgressCallback = no_progress,
                 cancel: CancelToken | None = None, **backends: Any) -> RenderResult:
    """Render one chunk up to `stage` ("base" or "animate"), reusing what exists — for the studio's per-chunk buttons."""
    if stage not in STAGES:
        raise InputError(f"Unknown stage {stage!r}; choose base or animate.")
    ctx = _context(project, **backends)
    if not 0 <= chunk_index < len(ctx.jobs):
        raise InputError(f"Chunk {chunk_index + 1} does not exist; the story has {len(ctx.jobs)} chunks.")
    job = ctx.jobs[chunk_index]
    result = RenderResult(None, None, len(ctx.jobs), job.num_frames, job.num_frames * project.settings.samples_per_frame)
    _run_bases(ctx, [job], result, progress, cancel)
    if stage == "animate":
        _run_animations(ctx, [job], result, progress, cancel)
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


def chunk_status(project, **backends: Any) -> list[ChunkStatus]:
    """Which artifacts of each chunk exist (for the studio's tables). Synthesises missing voices if needed."""
    ctx = _context(project, **backends)
    store = project.store
    statuses = []
    for job in ctx.jobs:
        statuses.append(ChunkStatus(
            job.index, job.speaker, job.num_frames, job.seed,
            audio=store.exists("chunk_audio", job.content_key, "npy"),
            base=store.exists(base_stage.STAGE, job.base_key, base_stage.EXT),
            clip=store.exists(animate_stage.STAGE, job.clip_key, animate_stage.EXT),
            base_path=store.path(base_stage.STAGE, job.base_key, base_stage.EXT),
            clip_path=store.path(animate_stage.STAGE, job.clip_key, animate_stage.EXT),
            content_key=job.content_key,
        ))
    return statuses
