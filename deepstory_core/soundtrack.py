"""story.wav: the chunk audio concatenated, written incrementally — one chunk in memory at a time."""

from __future__ import annotations

import os
from pathlib import Path

from .progress import Cancelled, CancelToken, ProgressCallback, ProgressEvent, no_progress
from .stages.voice import StoryPlan, load_chunk_audio
from .wavio import WavWriter


def write_soundtrack(project, plan: StoryPlan, out_wav: str | os.PathLike[str],
                     progress: ProgressCallback = no_progress, cancel: CancelToken | None = None) -> Path:
    """Write the story's soundtrack (16-bit PCM at the project rate) atomically; returns its path."""
    out_wav = Path(out_wav)
    with WavWriter(out_wav, plan.sample_rate) as writer:
        for chunk in plan.chunks:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            writer.write(load_chunk_audio(project, chunk, mmap=False))  # one chunk (≤ ~40 s) at a time
            progress(ProgressEvent("wav", chunk.index + 1, len(plan.chunks), f"chunk {chunk.index + 1}"))
    return out_wav
