"""Subtitles from the sentences' real positions in the soundtrack (their speech span, not the pauses around it).

Times are exact sample positions converted to milliseconds once, at the end, so cues never drift however long
the story is.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .atomic import atomic_path


@dataclass(frozen=True)
class Cue:
    index: int          # 1-based, as in SRT
    start_sample: int
    end_sample: int
    text: str
    speaker: str


def subtitle_cues(plan, sentences: Sequence) -> list[Cue]:
    """One cue per sentence with speech, in soundtrack order (`plan`: a StoryPlan; `sentences`: the table)."""
    cues: list[Cue] = []
    for timing in plan.sentence_times:
        if timing.end_sample <= timing.start_sample:
            continue
        sentence = sentences[timing.sentence_id]
        cues.append(Cue(len(cues) + 1, timing.start_sample, timing.end_sample, " ".join(sentence.text.split()),
                        sentence.speaker))
    return cues


def samples_to_ms(sample: int, sample_rate: int) -> int:
    """Nearest millisecond (integer arithmetic: exact for any story length)."""
    return (sample * 1000 * 2 + sample_rate) // (2 * sample_rate)


def srt_timestamp(ms: int) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d},{millis:03d}"


def srt_blocks(cues: Iterable[Cue], sample_rate: int, speaker_prefix: bool = False) -> Iterator[str]:
    for cue in cues:
        text = f"{cue.speaker}: {cue.text}" if speaker_prefix else cue.text
        start, end = samples_to_ms(cue.start_sample, sample_rate), samples_to_ms(cue.end_sample, sample_rate)
        yield f"{cue.index}\n{srt_timestamp(start)} --> {srt_timestamp(end)}\n{text}\n\n"


def vtt_timestamp(ms: int) -> str:
    return srt_timestamp(ms).replace(",", ".")


def vtt_text(cues: Iterable[Cue], sample_rate: int, speaker_prefix: bool = False) -> str:
    """The cues as WebVTT (the format browsers' video players read), same times as the SRT."""
    blocks = ["WEBVTT\n\n"]
    for cue in cues:
        text = f"{cue.speaker}: {cue.text}" if speaker_prefix else cue.text
        start, end = samples_to_ms(cue.start_sample, sample_rate), samples_to_ms(cue.end_sample, sample_rate)
        blocks.append(f"{cue.index}\n{vtt_timestamp(start)} --> {vtt_timestamp(end)}\n{text}\n\n")
    return "".join(blocks)


def write_srt(path: str | os.PathLike[str], cues: Iterable[Cue], sample_rate: int,
              speaker_prefix: bool = False) -> Path:
    """Write an SRT file atomically, cue by cue."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            for block in srt_blocks(cues, sample_rate, speaker_prefix):
                f.write(block)
    return path
