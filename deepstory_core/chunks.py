"""The chunk planner: which consecutive sentences are animated together as one clip.

The original deepstory's rule (`combine_wavs`): walk the padded sentences in order; before adding a sentence, close
the current chunk if the speaker changes or if the audio already in it is *strictly more than* `cut_size` samples.
So a chunk may end up longer than `cut_size` (by at most one sentence) and is never cut inside a sentence. Each
chunk's audio is padded at the end with silence to a whole number of video frames, so audio and video never drift.

Pure function of sentence lengths: planning needs no audio in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .artifacts import artifact_key
from .settings import Settings


@dataclass(frozen=True)
class PlannedSentence:
    """What the planner needs to know about one sentence (its audio lives in the artifact store)."""

    sentence_id: int        # index in the project's sentence table
    speaker: str
    audio_key: str          # artifact key of the sentence's speech (voice stage)
    speech_samples: int     # length of the speech itself
    pause_before: int       # silence before the speech (line start), samples
    pause_after: int        # silence after the speech (trailing punctuation), samples

    @property
    def padded_samples(self) -> int:
        return self.pause_before + self.speech_samples + self.pause_after


@dataclass(frozen=True)
class Chunk:
    """One speaker's run of sentences: the unit of base and animate work, and of memory."""

    index: int
    speaker: str
    sentence_ids: tuple[int, ...]
    sentence_spans: tuple[tuple[int, int], ...]  # (start, end) of each sentence's SPEECH inside the chunk, samples
    num_samples: int                             # padded: a multiple of samples_per_frame
    content_key: str                             # identity of the chunk's audio (sentence audio, pauses, padding)
    start_sample: int = 0                        # where the chunk starts in the story soundtrack
    samples_per_frame: int = 882

    @property
    def num_frames(self) -> int:
        return self.num_samples // self.samples_per_frame

    @property
    def end_sample(self) -> int:
        return self.start_sample + self.num_samples

    def duration(self, sample_rate: int) -> float:
        return self.num_samples / sample_rate


def plan_chunks(items: Sequence[PlannedSentence], settings: Settings) -> list[Chunk]:
    """Group sentences into chunks by the original's rule (speaker change, or more than `cut_size` already)."""
    groups: list[list[PlannedSentence]] = []
    current_samples = 0
    for item in items:
        if groups and (item.speaker != groups[-1][-1].speaker or current_samples > settings.cut_size):
            groups.append([])
            current_samples = 0
        if not groups:
            groups.append([])
        groups[-1].append(item)
        current_samples += item.padded_samples

    chunks: list[Chunk] = []
    story_position = 0
    for index, group in enumerate(groups):
        chunk = _layout_chunk(index, group, story_position, settings)
        chunks.append(chunk)
        story_position += chunk.num_samples
    return chunks


def _layout_chunk(index: int, group: list[PlannedSentence], start_sample: int, settings: Settings) -> Chunk:
    spans = []
    position = 0
    for item in group:
        speech_start = position + item.pause_before
        spans.append((speech_start, speech_start + item.speech_samples))
        position += item.padded_samples
    frame = settings.samples_per_frame
    num_samples = max(frame, -(-position // frame) * frame)  # round up to whole frames, at least one frame
    content_key = artifact_key(
        "chunk",
        speaker=group[0].speaker,
        sentences=[(item.audio_key, item.pause_before, item.speech_samples, item.pause_after) for item in group],
        num_samples=num_samples,
        sample_rate=settings.sample_rate,
    )
    return Chunk(
        index=index,
        speaker=group[0].speaker,
        sentence_ids=tuple(item.sentence_id for item in group),
        sentence_spans=tuple(spans),
        num_samples=num_samples,
        content_key=content_key,
        start_sample=start_sample,
        samples_per_frame=frame,
    )
