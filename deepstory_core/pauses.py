"""Silence around a sentence, in samples, exactly as the original computed it.

Before: `int(sr * line_start_pause)` when the sentence starts a story line (0.5 s → 11025 samples), else 0.
After: `int(sr * sum(table[c] for c in trailing if c in table))` — float sum then truncation, so "?!" is 15434 and
"..." is 19844 samples at 22050 Hz. The table is a user setting (`Settings.punctuation_pauses`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from .settings import Settings


class _Paused(Protocol):
    line_start: bool
    trailing: str


def pause_after_samples(trailing: str, pauses: Mapping[str, float], sample_rate: int) -> int:
    """Samples of silence after a sentence ending with `trailing`."""
    return int(sample_rate * sum(pauses[c] for c in trailing if c in pauses))


def pause_before_samples(line_start: bool, line_start_pause: float, sample_rate: int) -> int:
    """Samples of silence before a sentence (only the first sentence of a line gets any)."""
    return int(sample_rate * line_start_pause) if line_start else 0


def pause_samples(sentence: _Paused, settings: Settings = Settings()) -> tuple[int, int]:
    """(samples before, samples after) the sentence's own audio."""
    sr = settings.sample_rate
    return (
        pause_before_samples(sentence.line_start, settings.line_start_pause, sr),
        pause_after_samples(sentence.trailing, settings.punctuation_pauses, sr),
    )
