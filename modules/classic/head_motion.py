"""Seeded slight head motion: a smooth per-frame similarity transform of the aligned face.

Why: a perfectly still head looks pasted on, and a retry with another seed should not look identical. The
motion is a sum of slow sinusoids (0.08–0.45 Hz) with seeded frequencies and phases, plus a small nod that
follows speech loudness; it starts at zero (the first frame is the identity pose) and stays well under a pixel
at the eyes, so the face keeps its identity and the motion transfer sees gentle, plausible movement.
"""

from __future__ import annotations

import numpy as np

SHIFT_PX = 0.35          # amplitude of each translation axis (pixels of the 128×96 frame)
ROTATION_DEG = 0.3       # amplitude of the roll, about PIVOT
NOD_PX = 0.25            # extra downward shift at full speech loudness


def head_motion(n_frames: int, fps: int, rng: np.random.Generator, loudness: np.ndarray) -> np.ndarray:
    """(n_frames, 3) float32: (dx, dy, roll degrees) per frame, zero at frame 0."""
    t = np.arange(n_frames, dtype=np.float64) / fps
    motion = np.zeros((n_frames, 3), dtype=np.float64)
    for axis, amplitude in enumerate((SHIFT_PX, SHIFT_PX, ROTATION_DEG)):
        freqs = rng.uniform(0.08, 0.45, size=3)
        phases = rng.uniform(0.0, 2.0 * np.pi, size=3)
        weights = rng.uniform(0.5, 1.0, size=3)
        wave = (weights[:, None] * np.sin(2.0 * np.pi * freqs[:, None] * t[None, :] + phases[:, None])).sum(0)
        wave /= weights.sum()
        motion[:, axis] = amplitude * (wave - (wave[0] if n_frames else 0.0))
    if n_frames and loudness.size == n_frames:
        nod = np.convolve(np.clip(loudness, 0.0, 1.0), np.hanning(9) / np.hanning(9).sum(), mode="same")
        motion[:, 1] += NOD_PX * (nod - nod[0])
    return motion.astype(np.float32)


def motion_matrix(dx: float, dy: float, roll_deg: float, pivot: tuple[float, float]) -> np.ndarray:
    """2×3 forward affine (face → frame) for cv2.warpAffine."""
    angle = np.deg2rad(roll_deg)
    c, s = np.cos(angle), np.sin(angle)
    px, py = pivot
    return np.array(
        [[c, -s, px - c * px + s * py + dx], [s, c, py - s * px - c * py + dy]], dtype=np.float64
    )
