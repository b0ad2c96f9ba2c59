"""Seeded head motion that follows the speech: a per-frame similarity (dx, dy, roll) of the aligned face.

Why: a perfectly still head looks pasted on, and a retry with another seed must look different. Three parts:
  - drift: slow sinusoids (0.05–0.35 Hz) with seeded frequencies and phases, larger while talking;
  - a seeded resting pose the head settles into over the first second (another seed → another tilt);
  - nods: a short downward dip on each stressed syllable (espeak's stress marks), or on loudness onsets when the
    voice gives no phonemes.
Motion starts at zero (frame 0 is the identity pose: motion transfer is relative to the first frame) and stays
within about a pixel of the 128×96 frame, so the face keeps its identity.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deepstory_kernel.contracts import PhonemeEvent

SHIFT_PX = 0.7           # drift amplitude of each translation axis while talking (pixels of the 128×96 frame)
ROTATION_DEG = 1.0       # drift amplitude of the roll while talking
POSE_SHIFT_PX = 0.6      # seeded resting pose: up to this offset …
POSE_ROLL_DEG = 1.2      # … and this tilt
NOD_PX = 0.9             # downward dip of a stressed syllable
NOD_S = 0.32             # duration of a nod
IDLE_SHARE = 0.35        # share of the drift kept while silent: the head settles in pauses but never freezes


def stress_times(phonemes: Sequence[PhonemeEvent], sample_rate: int) -> np.ndarray:
    """Seconds at which a primary-stressed phoneme starts (espeak marks them with a leading apostrophe)."""
    return np.array([e.sample / sample_rate for e in phonemes if e.phoneme.startswith("'")], dtype=np.float64)


def onset_times(loudness: np.ndarray, fps: int) -> np.ndarray:
    """Seconds of loudness onsets (rises after a dip): where a speaker's head tends to nod without phoneme marks."""
    if loudness.size < 3:
        return np.zeros(0)
    rise = np.diff(loudness, prepend=loudness[0])
    peaks = (rise > 0.25) & (np.roll(rise, 1) <= rise) & (np.roll(rise, -1) < rise)
    times, last = [], -1.0
    for i in np.flatnonzero(peaks):
        t = i / fps
        if t - last >= 0.45:
            times.append(t)
            last = t
    return np.array(times)


def head_motion(n_frames: int, fps: int, rng: np.random.Generator, loudness: np.ndarray,
                nods: np.ndarray | None = None, amount: float = 1.0) -> np.ndarray:
    """(n_frames, 3) float32: (dx, dy, roll degrees) per frame, zero at frame 0; `loudness` is (n_frames,)."""
    t = np.arange(n_frames, dtype=np.float64) / fps
    motion = np.zeros((n_frames, 3), dtype=np.float64)
    for axis, amplitude in enumerate((SHIFT_PX, SHIFT_PX, ROTATION_DEG)):
        freqs = rng.uniform(0.05, 0.35, size=3)
        phases = rng.uniform(0.0, 2.0 * np.pi, size=3)
        weights = rng.uniform(0.5, 1.0, size=3)
        wave = (weights[:, None] * np.sin(2.0 * np.pi * freqs[:, None] * t[None, :] + phases[:, None])).sum(0)
        motion[:, axis] = amplitude * wave / weights.sum()
    pose = rng.uniform(-1.0, 1.0, size=3) * np.array([POSE_SHIFT_PX, 0.6 * POSE_SHIFT_PX, POSE_ROLL_DEG])
    nod_scale = rng.uniform(0.7, 1.3)
    if n_frames == 0:
        return motion.astype(np.float32)
    loudness = np.clip(np.asarray(loudness, np.float64).reshape(n_frames), 0.0, 1.0)
    talking = _activity(loudness > 0.05, fps)
    motion *= (IDLE_SHARE + (1.0 - IDLE_SHARE) * talking)[:, None]
    settle = 1.0 - np.exp(-t / 0.8)
    motion += settle[:, None] * pose[None, :]
    times = onset_times(loudness, fps) if nods is None else nods
    for start in np.asarray(times, np.float64):
        phase = (t - start) / NOD_S
        dip = np.where((phase > 0) & (phase < 1), np.sin(np.pi * np.clip(phase, 0, 1)) ** 2, 0.0)
        motion[:, 1] += NOD_PX * nod_scale * dip
        motion[:, 2] += 0.25 * nod_scale * dip * np.sign(pose[2] or 1.0)
    motion -= motion[0]
    return (amount * motion).astype(np.float32)


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
