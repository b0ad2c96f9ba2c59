"""espeak phoneme events → per-frame viseme targets (how open, how wide/round, lips pressed together).

Why: loudness alone cannot tell "moon" from "mean" or close the lips on /p b m/. When the audio came from the
built-in espeak voice we know every phoneme's start sample, so the mouth shape can follow the actual sounds.
Keys are espeak-ng mnemonics (English phoneme table); stress marks and variant digits are ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from deepstory_kernel.contracts import PhonemeEvent

# mnemonic → (opening factor 0..1, width −1 round .. +1 wide, lip closure 0..1, lower lip to the upper teeth 0..1)
_VISEMES: dict[str, tuple[float, float, float, float]] = {
    # pauses
    "_": (0.0, 0.0, 0.6, 0.0), "_:": (0.0, 0.0, 0.6, 0.0), "_!": (0.0, 0.0, 0.6, 0.0), "||": (0.0, 0.0, 0.6, 0.0), "|": (0.0, 0.0, 0.3, 0.0),
    # bilabials: lips pressed together
    "p": (0.0, 0.0, 1.0, 0.0), "b": (0.0, 0.0, 1.0, 0.0), "m": (0.0, 0.0, 1.0, 0.0),
    # labiodentals, dentals, alveolars
    "f": (0.12, 0.15, 0.0, 1.0), "v": (0.12, 0.15, 0.0, 1.0),
    "T": (0.25, 0.15, 0.0, 0.0), "D": (0.25, 0.15, 0.0, 0.0),
    "s": (0.18, 0.45, 0.0, 0.0), "z": (0.18, 0.45, 0.0, 0.0),
    "S": (0.28, -0.5, 0.0, 0.0), "Z": (0.28, -0.5, 0.0, 0.0), "tS": (0.28, -0.5, 0.0, 0.0), "dZ": (0.28, -0.5, 0.0, 0.0),
    "t": (0.32, 0.15, 0.0, 0.0), "d": (0.32, 0.15, 0.0, 0.0), "n": (0.3, 0.1, 0.0, 0.0), "l": (0.35, 0.1, 0.0, 0.0),
    "r": (0.3, -0.5, 0.0, 0.0), "w": (0.15, -1.0, 0.0, 0.0), "j": (0.3, 0.6, 0.0, 0.0),
    "k": (0.4, 0.0, 0.0, 0.0), "g": (0.4, 0.0, 0.0, 0.0), "N": (0.35, 0.0, 0.0, 0.0), "h": (0.5, 0.0, 0.0, 0.0), "x": (0.4, 0.0, 0.0, 0.0),
    # open vowels
    "a": (1.0, 0.25, 0.0, 0.0), "a#": (0.95, 0.2, 0.0, 0.0), "A:": (1.0, 0.0, 0.0, 0.0), "A@": (0.9, 0.0, 0.0, 0.0),
    "aI": (0.95, 0.35, 0.0, 0.0), "aU": (0.9, -0.3, 0.0, 0.0), "V": (0.75, 0.0, 0.0, 0.0),
    # mid/central vowels
    "@": (0.5, 0.0, 0.0, 0.0), "@@": (0.55, 0.0, 0.0, 0.0), "3:": (0.55, -0.1, 0.0, 0.0), "3": (0.5, -0.1, 0.0, 0.0),
    "e": (0.7, 0.6, 0.0, 0.0), "E": (0.75, 0.55, 0.0, 0.0), "eI": (0.65, 0.65, 0.0, 0.0), "e@": (0.7, 0.4, 0.0, 0.0),
    # close front vowels: spread lips
    "i": (0.4, 1.0, 0.0, 0.0), "i:": (0.4, 1.0, 0.0, 0.0), "I": (0.45, 0.85, 0.0, 0.0), "i@": (0.45, 0.7, 0.0, 0.0),
    # rounded vowels
    "0": (0.75, -0.6, 0.0, 0.0), "O:": (0.75, -0.65, 0.0, 0.0), "O@": (0.7, -0.6, 0.0, 0.0), "OI": (0.7, -0.4, 0.0, 0.0),
    "o": (0.6, -0.85, 0.0, 0.0), "oU": (0.6, -0.8, 0.0, 0.0), "O": (0.7, -0.65, 0.0, 0.0),
    "u:": (0.45, -1.0, 0.0, 0.0), "u": (0.45, -1.0, 0.0, 0.0), "U": (0.45, -0.9, 0.0, 0.0), "U@": (0.5, -0.8, 0.0, 0.0),
}
_NEUTRAL = (0.45, 0.0, 0.0, 0.0)
_STRESS_MARKS = "',%=`"


def viseme_of(phoneme: str) -> tuple[float, float, float, float]:
    """(opening, width, closure, tuck) of one espeak mnemonic; unknown symbols fall back by their first letter."""
    name = phoneme.strip().lstrip(_STRESS_MARKS)
    if name in _VISEMES:
        return _VISEMES[name]
    trimmed = name.rstrip("0123456789;")
    if trimmed in _VISEMES:
        return _VISEMES[trimmed]
    for size in (2, 1):
        if name[:size] in _VISEMES:
            return _VISEMES[name[:size]]
    return _NEUTRAL


@dataclass(frozen=True)
class VisemeTracks:
    """Per-frame targets from phoneme events, each (T,) float32."""

    opening: np.ndarray    # 0..1 how far the sound opens the mouth
    width: np.ndarray      # −1 round … +1 spread
    closure: np.ndarray    # 0..1 lips pressed together (p, b, m)
    tuck: np.ndarray       # 0..1 lower lip against the upper teeth (f, v)


def viseme_tracks(phonemes: Sequence[PhonemeEvent], n_frames: int, samples_per_frame: int,
                  total_samples: int) -> VisemeTracks:
    """Per-frame viseme targets with co-articulation.

    Opening and width: each frame averages the phonemes overlapping it by overlap, then a short smoothing blends
    neighbours (lip rounding anticipates by a little more). Closure and tuck are *dominant*: a frame holding a
    good part of a /p b m/ (or its middle) is closed whatever surrounds it — a viewer notices lips that never meet.
    Before the first event the mouth is at rest (closed).
    """
    zeros = np.zeros(n_frames, dtype=np.float32)
    events = sorted(phonemes, key=lambda e: e.sample)
    if n_frames == 0 or not events:
        return VisemeTracks(zeros, zeros.copy(), zeros.copy(), zeros.copy())
    starts = np.array([max(0, int(e.sample)) for e in events], dtype=np.int64)
    ends = np.append(starts[1:], max(total_samples, int(starts[-1]) + 1))
    values = np.array([viseme_of(e.phoneme) for e in events], dtype=np.float32)
    frame_starts = np.arange(n_frames, dtype=np.int64) * samples_per_frame
    frame_ends = frame_starts + samples_per_frame
    weight_sum = np.zeros(n_frames, dtype=np.float64)
    accum = np.zeros((n_frames, 2), dtype=np.float64)
    dominant = np.zeros((n_frames, 2), dtype=np.float64)
    for start, end, value in zip(starts.tolist(), ends.tolist(), values):
        if end <= start:
            continue
        first = start // samples_per_frame
        last = min(n_frames - 1, (end - 1) // samples_per_frame)
        if first > last:
            continue
        idx = slice(first, last + 1)
        overlap = np.minimum(frame_ends[idx], end) - np.maximum(frame_starts[idx], start)
        overlap = np.maximum(overlap, 0).astype(np.float64)
        weight_sum[idx] += overlap
        accum[idx] += overlap[:, None] * value[None, :2]
        if value[2] > 0 or value[3] > 0:
            share = np.clip(overlap / (0.35 * samples_per_frame), 0.0, 1.0)
            middle = min(n_frames - 1, ((start + end) // 2) // samples_per_frame)
            share[middle - first] = 1.0
            dominant[idx] = np.maximum(dominant[idx], share[:, None] * value[None, 2:4])
    known = weight_sum > 0
    accum[known] /= weight_sum[known, None]
    opening = _smooth(accum[:, 0], 0.8)
    width = _smooth(accum[:, 1], 1.3)
    return VisemeTracks(opening, width, dominant[:, 0].astype(np.float32), dominant[:, 1].astype(np.float32))


def _smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing over frames (edges replicated): neighbouring sounds blend into each other."""
    radius = int(np.ceil(3 * sigma))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    return np.convolve(np.pad(values, radius, mode="edge"), kernel, mode="valid").astype(np.float32)
