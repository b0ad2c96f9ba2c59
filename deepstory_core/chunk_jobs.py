"""The plan of one render: per chunk, what it needs and the keys of what it produces — computed, never rendered.

Why keys decide everything: every base and clip is an artifact whose key hashes all that determines it (backend,
weights, input artifact keys, portrait pixels, parameters, seed). So a second render of an unchanged story renders
nothing, a retry re-renders one chunk, a new portrait re-animates only that speaker's chunks, and a render killed
at any moment resumes where it stopped. `chunk_jobs` has no side effect (it reads portraits and weights' headers,
writes nothing, loads no model), so status queries can call it on every page run.
"""

from __future__ import annotations

from dataclasses import dataclass

from deepstory_kernel.contracts import MotionStyle
from deepstory_kernel.errors import InputError

from .backends import BackendSpec, backend, require_full_frame
from .chunks import Chunk
from .identities import SpeakerFace, speaker_faces
from .stages import animate as animate_stage
from .stages import base as base_stage
from .stages.voice import StoryPlan


@dataclass(frozen=True)
class Backends:
    """The two backends of a render, checked, with their fingerprints (computed once per render)."""

    base: BackendSpec
    animate: BackendSpec
    full_frame: bool
    base_fingerprint: str
    animate_fingerprint: str


def resolve_backends(base_name: str, animate_name: str, full_frame: bool) -> Backends:
    """Resolve and check both backends before any work: unknown names or missing weights stop the render at once."""
    base = backend("base", base_name)
    animate = backend("animate", animate_name)
    if full_frame:
        require_full_frame(animate_name)
    return Backends(base, animate, full_frame, base.fingerprint(), animate.fingerprint())


def project_backends(project, base_name: str | None = None, animate_name: str | None = None,
                     full_frame: bool | None = None) -> Backends:
    """The project's backends (its settings), each overridable."""
    settings = project.settings
    return resolve_backends(base_name or settings.base_backend, animate_name or settings.animate_backend,
                            settings.full_frame if full_frame is None else full_frame)


@dataclass(frozen=True)
class ChunkJob:
    """What one chunk needs and produces: its keys decide whether anything must be rendered."""

    chunk: Chunk
    face: SpeakerFace            # shared by every chunk of the speaker: its face is found once
    seed: int
    base_key: str
    clip_key: str
    size: tuple[int, int]        # the clip's (width, height): the same for every chunk of an export
    full_frame: bool
    style: MotionStyle | None = None   # the speaker's motion sliders, when the base backend follows them

    @property
    def index(self) -> int:
        return self.chunk.index

    @property
    def speaker(self) -> str:
        return self.chunk.speaker

    @property
    def content_key(self) -> str:
        return self.chunk.content_key

    @property
    def num_frames(self) -> int:
        return self.chunk.num_frames


def chunk_jobs(project, plan: StoryPlan, backends: Backends) -> list[ChunkJob]:
    """One job per chunk of `plan`, in order: the speaker's face and the base and clip keys."""
    settings = project.settings
    faces = speaker_faces(project, list(dict.fromkeys(chunk.speaker for chunk in plan.chunks)), backends.base.name)
    size = animate_stage.export_size(backends.full_frame, settings.canvas)
    styles = {speaker: speaker_style(project, speaker, backends.base) for speaker in faces}
    jobs = []
    for chunk in plan.chunks:
        face = faces[chunk.speaker]
        seed = project.seed_for(chunk.content_key)
        style = styles[chunk.speaker]
        base_key = base_stage.base_key(backend_id=backends.base.backend_id, weights_checksum=backends.base_fingerprint,
                                       audio_key=chunk.content_key, identity_hash=face.identity_hash, seed=seed,
                                       params=base_params(settings, style))
        clip_key = animate_stage.clip_key(backend_id=backends.animate.backend_id,
                                          weights_checksum=backends.animate_fingerprint, base_key=base_key,
                                          portrait_hash=face.portrait_hash, size=size, full_frame=backends.full_frame)
        jobs.append(ChunkJob(chunk, face, seed, base_key, clip_key, size, backends.full_frame, style))
    return jobs


def speaker_style(project, speaker: str, base: BackendSpec) -> MotionStyle | None:
    """The speaker's motion sliders when the base backend follows them and they differ from the default look
    (None otherwise: the default look keeps the keys — and the artifacts — it always had)."""
    style = getattr(project.cast.get(speaker), "motion", None)
    if not base.honours_style or style is None or style == MotionStyle():
        return None
    return style


def base_params(settings, style: MotionStyle | None) -> dict:
    """The base key's parameters: a moved slider changes only that speaker's base keys."""
    params: dict = {"fps": settings.fps, "sample_rate": settings.sample_rate}
    if style is not None:
        params["style"] = style.to_dict()
    return params


def select(jobs: list[ChunkJob], only_chunks: set[int] | None) -> list[ChunkJob]:
    """The jobs of `only_chunks` (all when None); InputError for a chunk the story does not have."""
    if only_chunks is None:
        return jobs
    unknown = sorted(i for i in only_chunks if not 0 <= i < len(jobs))
    if unknown:
        raise InputError(f"Chunk {unknown[0] + 1} does not exist; the story has {len(jobs)} chunks.")
    return [job for job in jobs if job.index in only_chunks]
