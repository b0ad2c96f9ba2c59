"""Seeded slight head motion: a smooth per-frame similarity transform of the aligned face.

Why: a perfectly still head looks pasted on, and a retry with another seed should not look identical. The
motion is a sum of slow sinusoids (0.08–0.45 Hz) with seeded frequencies and phases, larger while talking
and settling in pauses, plus a small nod that follows speech loudness. It starts at zero (the first frame is
the identity pose) and stays under a pixel, so the face keeps its identity, the mouth region is quiet in
silence, and the motion transfer sees gentle, plausible movement.
"""

from __future__ import annotations

import numpy as np

SHIFT_PX = 0.3           # amplitude of each translation axis while talking (pixels of the 128×96 frame)
ROTATION_DEG = 0.35      # amplitude of the roll while talking, about the mouth
NOD_PX = 0.2             # extra downward shift at full speech loudness
IDLE_SHARE = 0.3         # share of the sway kept while silent: the head settles in pauses but never freezes


def head_motion(n_frames: int, fps: int, rng: np.random.Generator, loudness: np.ndarray) -> np.ndarray:
    """(n_frames, 3) float32: (dx, dy, roll degrees) per frame, zero at frame 0; `loudness` is (n_frames,)."""
    t = np.arange(n_frames, dtype=np.float64) / fps
    motion = np.zeros((n_frames, 3), dtype=np.float64)
    for axis, amplitude in enumerate((SHIFT_PX, SHIFT_PX, ROTATION_DEG)):
        freqs = rng.uniform(0.08, 0.45, size=3)
        phases = rng.uniform(0.0, 2.0 * np.pi, size=3)
        weights = rng.uniform(0.5, 1.0, size=3)
        wave = (weights[:, None] * np.sin(2.0 * np.pi * freqs[:, None] * t[None, :] + phases[:, None])).sum(0)
        motion[:, axis] = amplitude * wave / weights.sum()
    if n_frames == 0:
        return motion.astype(np.float32)
    loudness = np.clip(np.asarray(loudness, np.float64).reshape(n_frames), 0.0, 1.0)
    talking = _activity(loudness > 0.05, fps)
    motion *= (IDLE_SHARE + (1.0 - IDLE_SHARE) * talking)[:, None]
    kernel = np.hanning(9) / np.hanning(9).sum()
    motion[:, 1] += NOD_PX * np.convolve(np.pad(loudness, 4, mode="edge"), kernel, mode="valid")
    motion -= motion[0]
    return motion.astype(np.float32)


def _activity(speaking: np.ndarray, fps: int) -> np.ndarray:
    """Smoothed 0..1 'is talking': rises over ~0.3 s, settles over ~0.25 s after the voice stops."""
    rise, fall = 1.0 - np.exp(-1.0 / (0.3 * fps)), 1.0 - np.exp(-1.0 / (0.25 * fps))
    out = np.empty(speaking.size)
    level = 0.0
    for i, s in enumerate(speaking.tolist()):
        level += (rise if s > level else fall) * (float(s) - level)
        out[i] = level
    return out


def motion_matrix(dx: float, dy: float, roll_deg: float, pivot: tuple[float, float]) -> np.ndarray:
    """2×3 forward affine (face → frame) for cv2.warpAffine."""
    angle = np.deg2rad(roll_deg)
    c, s = np.cos(angle), np.sin(angle)
    px, py = pivot
    return np.array(
        [[c, -s, px - c * px + s * py + dx], [s, c, py - s * px - c * py + dy]], dtype=np.float64
    )
