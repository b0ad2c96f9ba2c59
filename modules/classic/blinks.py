"""Seeded procedural blinks: per-frame eyelid closure in [0, 1].

Why: a face that never blinks looks dead within seconds. People blink every ~2–6 s; a blink takes ~150–250 ms,
closing faster than it opens. The first blink comes early so even a short chunk shows life, and no gap exceeds
the natural maximum, so any 6 s window holds at least one blink.
"""

from __future__ import annotations

import numpy as np

FIRST_BLINK_S = (0.3, 2.2)
INTERVAL_S = (2.0, 5.2)          # start-to-start, clipped from a gamma around ~3.3 s
DURATION_S = (0.2, 0.3)
SHUT_FRAMES = 2.2                # the lid rests shut for at least this many frame periods


def blink_closure(n_frames: int, fps: int, rng: np.random.Generator, rate: float = 1.0) -> np.ndarray:
    """(n_frames,) float32 closure: 0 open, 1 fully shut. `rate` scales blinks per minute (0: none)."""
    closure = np.zeros(n_frames, dtype=np.float32)
    if rate <= 0:
        return closure
    t = rng.uniform(*FIRST_BLINK_S) / rate
    duration_total = n_frames / fps
    while t < duration_total:
        duration = rng.uniform(*DURATION_S)
        if t + duration > duration_total:
            break               # a blink the chunk's end would cut short: the next chunk blinks soon enough
        _add_blink(closure, t, duration, fps)
        t += float(np.clip(rng.gamma(6.0, 3.3 / 6.0), *INTERVAL_S)) / rate
    return closure


def _add_blink(closure: np.ndarray, start_s: float, duration_s: float, fps: int) -> None:
    """Closing takes ~30% of the blink, the lid rests shut for ~25% — but at least 2.2 frame periods, so two
    frames always show the eye fully shut (a one-frame closure reads as a flicker, to a viewer and to the face
    model) — and reopening takes the rest; sampled at frame centres."""
    first = int(np.floor(start_s * fps))
    last = int(np.ceil((start_s + duration_s) * fps))
    if first >= closure.size:
        return
    frames = np.arange(first, min(last + 1, closure.size))
    phase = ((frames + 0.5) / fps - start_s) / duration_s
    close_part, shut_part = 0.3, max(0.25, SHUT_FRAMES / fps / duration_s)
    value = np.where(
        phase < close_part,
        np.clip(phase / close_part, 0.0, 1.0),
        np.where(phase < close_part + shut_part, 1.0,
                 np.clip(1.0 - (phase - close_part - shut_part) / (1.0 - close_part - shut_part), 0.0, 1.0)),
    )
    closure[frames] = np.maximum(closure[frames], value.astype(np.float32))
