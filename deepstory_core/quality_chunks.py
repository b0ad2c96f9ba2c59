"""Per-chunk lip-sync scores stored beside the clips, for the studio's Base/Animate tables.

A score is computed on demand (`score_chunk`, or `score_missing` after a render), never on a page rerun: it
decodes the chunk's video and runs the face model on every frame (~0.5–1× real time on 2 cores). It is stored as a
small JSON artifact keyed by the scored video's own artifact key and the scorer version, so a re-rendered chunk
(new key) simply has no score yet, and reading scores (`chunk_scores`) costs a few file reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deepstory_kernel.contracts import PhonemeEvent
from deepstory_kernel.errors import InputError

from .artifacts import artifact_key
from .quality import SCORER_VERSION, LipSyncScore, score_video

STAGE = "quality"
SCORED_STAGES = ("base", "animate")


def _key(video: Path) -> str:
    return artifact_key(STAGE, video=video.stem, scorer=SCORER_VERSION)


def stored_score(project: Any, video: Path) -> LipSyncScore | None:
    key = _key(video)
    if not project.store.exists(STAGE, key, "json"):
        return None
    try:
        return LipSyncScore.from_dict(project.store.read_json(STAGE, key))
    except (OSError, ValueError, TypeError, KeyError):
        return None     # a damaged score is simply re-measured on demand


def chunk_scores(project: Any, statuses: list[Any] | None = None) -> dict[int, dict[str, LipSyncScore]]:
    """chunk index → {"base"|"animate": stored score}; only what was already measured (cheap: no face model).

    `statuses`: the table's `render.chunk_status(project)` rows when the caller has them (avoids re-planning)."""
    if statuses is None:
        from .render import chunk_status
        statuses = chunk_status(project)
    out: dict[int, dict[str, LipSyncScore]] = {}
    for status in statuses:
        found = {}
        for stage, exists, path in (("base", status.base, status.base_path), ("animate", status.clip, status.clip_path)):
            score = stored_score(project, Path(path)) if exists else None
            if score is not None:
                found[stage] = score
        if found:
            out[status.index] = found
    return out


def score_chunk(project: Any, chunk_index: int, stage: str = "animate", landmarker: Any = None) -> LipSyncScore:
    """Measure one chunk's rendered base (128×96) or clip against its audio and the speaker's portrait; stored."""
    from .render import chunk_status

    if stage not in SCORED_STAGES:
        raise InputError(f"Unknown stage {stage!r}; choose base or animate.")
    statuses = chunk_status(project)
    if not 0 <= chunk_index < len(statuses):
        raise InputError(f"Chunk {chunk_index + 1} does not exist; the story has {len(statuses)} chunks.")
    return _score(project, statuses[chunk_index], stage, landmarker, _plan(project))


def score_missing(project: Any, stage: str = "animate", landmarker: Any = None) -> dict[int, LipSyncScore]:
    """Measure every rendered chunk of `stage` that has no stored score yet (e.g. right after a render)."""
    from .render import chunk_status

    statuses = chunk_status(project)
    have = chunk_scores(project, statuses)
    todo = [s for s in statuses if (s.base if stage == "base" else s.clip) and stage not in have.get(s.index, {})]
    plan = _plan(project) if todo else None          # planned once for all chunks, not once per chunk
    return {s.index: _score(project, s, stage, landmarker, plan) for s in todo}


def _score(project: Any, status: Any, stage: str, landmarker: Any, plan: Any) -> LipSyncScore:
    from .identities import load_portrait_image, portrait_ref
    from .stages.voice import load_chunk_audio, load_chunk_phonemes

    exists, video = (status.base, status.base_path) if stage == "base" else (status.clip, status.clip_path)
    if not exists:
        raise InputError(f"Chunk {status.index + 1} has no {stage} video yet; render it first.")
    stored = stored_score(project, Path(video))
    if stored is not None:
        return stored
    chunk = plan.chunks[status.index]
    # a base shows the aligned 128×96 identity, not the portrait: identity and seam are judged on clips only
    portrait = load_portrait_image(project, portrait_ref(project, status.speaker)) if stage == "animate" else None
    score = score_video(video, load_chunk_audio(project, chunk), project.settings.sample_rate,
                        load_chunk_phonemes(project, chunk), portrait, landmarker)
    project.store.write_json(STAGE, _key(Path(video)), score.to_dict())
    return score


def score_export(project: Any, video: str | Path, landmarker: Any = None) -> LipSyncScore:
    """Measure an exported story video: each chunk's frames against its speaker's portrait, the whole soundtrack
    and every chunk's phoneme events (placed at the chunk's start). Frames stream; nothing is stored."""
    from .identities import load_portrait_image, portrait_ref
    from .quality import IdentityReference, frame_rms, measure_segments, score_series
    from .stages.voice import load_chunk_audio, load_chunk_phonemes
    from .video import iter_video_frames

    if landmarker is None:
        from .face_model import face_landmarker
        landmarker = face_landmarker()
    plan = _plan(project)
    references: dict[str, IdentityReference | None] = {}
    segments: list[tuple[int, IdentityReference | None]] = []
    phonemes: list[PhonemeEvent] = []
    rms = []
    for chunk in plan.chunks:
        if chunk.speaker not in references:
            portrait = load_portrait_image(project, portrait_ref(project, chunk.speaker))
            references[chunk.speaker] = IdentityReference.of(portrait, landmarker)
        segments.append((chunk.num_frames, references[chunk.speaker]))
        phonemes.extend(PhonemeEvent(e.sample + chunk.start_sample, e.phoneme) for e in load_chunk_phonemes(project, chunk))
        rms.append(frame_rms(load_chunk_audio(project, chunk), project.settings.sample_rate, chunk.num_frames))
    series = measure_segments(iter_video_frames(video), segments, landmarker)
    return score_series(series, np.concatenate(rms) if rms else np.zeros(0), phonemes,
                        project.settings.samples_per_frame, clips=[count for count, _ in segments])


def _plan(project: Any) -> Any:
    """The story's chunk plan from the stored sentence audio (a query: nothing is synthesised or written)."""
    from .sentence_audio import plan_from_ready, sentence_audio

    plan = plan_from_ready(project, sentence_audio(project))
    if plan is None:
        raise InputError("The story has sentences without audio; render the voices first.")
    return plan
