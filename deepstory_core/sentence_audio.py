"""What the voice stage has already made, read without synthesising anything — for the studio's Voices page.

Why separate from `stages/voice.py`: a page must show which sentences have audio, play them and draw the chunk
plan on every rerun, cheaply; synthesising stays the job of the voice stage (run in the background).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepstory_kernel.errors import DeepstoryError

from .cast import project_cast
from .chunks import PlannedSentence
from .pauses import pause_samples
from .stages.voice import (
    CHUNK_AUDIO_STAGE,
    VOICE_STAGE,
    StoryPlan,
    build_plan,
    sentence_audio_key,
    spoken_text,
    stored_sentence_length,
)


@dataclass(frozen=True)
class SentenceAudio:
    """One row of the Voices page: a sentence, its voice, and whether its audio exists yet."""

    index: int
    speaker: str
    text: str
    voice_id: str
    key: str | None         # None when the voice cannot be loaded (see `problem`)
    ready: bool
    num_samples: int = 0
    problem: str = ""       # a readable sentence when the voice is unknown / unavailable


def sentence_audio(project, voice_factory=None) -> list[SentenceAudio]:
    """Every sentence with its audio key and state; voices that fail to load are reported per row, not raised."""
    from .voices import get_voice, tune

    voice_factory = voice_factory or get_voice
    settings = project.settings
    cast = project_cast(project)
    voices: dict[str, object] = {}
    problems: dict[str, str] = {}
    rows = []
    store = project.store
    for index, sentence in enumerate(project.sentences):
        voice_id = cast[sentence.speaker].voice_id
        if voice_id not in voices and voice_id not in problems:
            try:
                voices[voice_id] = voice_factory(voice_id)
            except DeepstoryError as err:
                problems[voice_id] = str(err)
        if voice_id in problems:
            rows.append(SentenceAudio(index, sentence.speaker, sentence.text, voice_id, None, False,
                                      problem=problems[voice_id]))
            continue
        key = sentence_audio_key(tune(voices[voice_id], cast[sentence.speaker].tuning),  # type: ignore[arg-type]
                                 spoken_text(sentence), settings.sample_rate)
        try:
            length = stored_sentence_length(store, key, repair=False)   # a query: never moves files
        except (DeepstoryError, KeyError, TypeError, ValueError):
            length = None                  # a damaged artifact: synthesised again by the next voice run
        rows.append(SentenceAudio(index, sentence.speaker, sentence.text, voice_id, key, length is not None,
                                  length or 0))
    return rows


def load_sentence_audio(project, row: SentenceAudio) -> np.ndarray:
    """The sentence's float32 audio at the project rate (StorageError when it is missing)."""
    if row.key is None:
        raise ValueError("sentence has no audio key")
    return np.asarray(project.store.read_npy(VOICE_STAGE, row.key, mmap=False))


def plan_from_ready(project, rows: list[SentenceAudio]) -> StoryPlan | None:
    """The chunk plan when every sentence has its audio (pure arithmetic on stored lengths), else None."""
    if not rows or not all(row.ready for row in rows):
        return None
    sentences = project.sentences
    planned = []
    for row in rows:
        before, after = pause_samples(sentences[row.index], project.settings)
        planned.append(PlannedSentence(row.index, row.speaker, row.key or "", row.num_samples, before, after))
    return build_plan(planned, project.settings)


def forget_sentence(project, row: SentenceAudio, plan: StoryPlan | None = None,
                    downstream: Iterable[Path] = ()) -> int:
    """Delete a sentence's audio and what was made from it (its chunk's audio, plus `downstream`: that chunk's
    base and clip, whose keys only the render engine knows), so the next voice run synthesises it again.
    Returns the number of files removed."""
    store = project.store
    removed = 0
    if row.key is not None:
        for ext in ("json", "npy"):   # json first: its presence marks the artifact complete
            path = store.path(VOICE_STAGE, row.key, ext)
            if path.is_file():
                path.unlink()
                removed += 1
    if plan is not None:
        for chunk in plan.chunks:
            if row.index in chunk.sentence_ids:
                for ext in ("json", "npy"):
                    path = store.path(CHUNK_AUDIO_STAGE, chunk.content_key, ext)
                    if path.is_file():
                        path.unlink()
                        removed += 1
    for path in downstream:
        if Path(path).is_file():
            Path(path).unlink()
            removed += 1
    return removed
