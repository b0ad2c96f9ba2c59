"""Per-video-frame mouth drive from chunk audio: how far the mouth opens and how wide vs round it is.

Why these features: loudness is what viewers read as "talking", so the opening follows the RMS envelope
(fast attack, slower release, like a real jaw), measured relative to the chunk's own speech level so quiet and
loud voices both articulate; a noise gate keeps the mouth shut in pauses. The spectrum separates spread vowels
(/i/, /e/: strong second formant, 1–2.5 kHz) from rounded ones (/o/, /u/: energy below 1 kHz), which gives
the wide/round shape when no phoneme events are known. Everything is a tiny per-frame array for the whole chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SILENCE_FLOOR = 0.003          # RMS (full scale 1.0) below which nothing counts as speech (≈ −50 dBFS)


@dataclass(frozen=True)
class MouthDrive:
    """Per-frame mouth targets: `opening` in [0, 1] (0 = closed), `width` in [-1, 1] (−1 round, +1 wide)."""

    opening: np.ndarray   # float32 (T,)
    width: np.ndarray     # float32 (T,)
    loudness: np.ndarray  # float32 (T,) gated envelope relative to the speech level, for head nods


def frame_rms(audio: np.ndarray, samples_per_frame: int) -> np.ndarray:
    """RMS of each whole video frame of `audio` (the tail shorter than a frame is ignored)."""
    n = len(audio) // samples_per_frame
    frames = np.asarray(audio[: n * samples_per_frame], dtype=np.float32).reshape(n, samples_per_frame)
    return np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1)).astype(np.float32)


def attack_release(values: np.ndarray, attack: float, release: float) -> np.ndarray:
    """One-pole follower: rises with weight `attack`, falls with weight `release` (both in (0, 1])."""
    out = np.empty_like(values)
    level = 0.0
    for i, v in enumerate(values.tolist()):
        k = attack if v > level else release
        level += k * (v - level)
        out[i] = level
    return out


def speech_level_and_gate(rms: np.ndarray) -> tuple[float, float]:
    """(typical loud-speech RMS, noise-gate threshold) of one chunk; level 0 when the chunk is silent."""
    if rms.size == 0:
        return 0.0, SILENCE_FLOOR
    level = float(np.percentile(rms, 95))
    if level < SILENCE_FLOOR:
        return 0.0, SILENCE_FLOOR
    noise = float(np.percentile(rms, 10))
    gate = max(SILENCE_FLOOR, 0.1 * level, min(2.5 * noise, 0.35 * level))
    return level, gate


def spectral_width(audio: np.ndarray, samples_per_frame: int, sample_rate: int, speaking: np.ndarray) -> np.ndarray:
    """Wide (+) vs round (−) per frame from the balance of the F2 band (0.9–2.5 kHz) against the F1 band.

    Standardised over the chunk's speaking frames, so it describes this voice's vowels, not its timbre.
    """
    n = len(audio) // samples_per_frame
    width = np.zeros(n, dtype=np.float32)
    if n == 0 or not speaking.any():
        return width
    frames = np.asarray(audio[: n * samples_per_frame], dtype=np.float32).reshape(n, samples_per_frame)
    window = np.hanning(samples_per_frame).astype(np.float32)
    spectrum = np.abs(np.fft.rfft(frames * window, n=1024, axis=1)) ** 2
    freqs = np.fft.rfftfreq(1024, 1.0 / sample_rate)
    low = spectrum[:, (freqs >= 200) & (freqs < 900)].sum(axis=1) + 1e-9
    mid = spectrum[:, (freqs >= 900) & (freqs < 2500)].sum(axis=1) + 1e-9
    balance = np.log(mid / low)
    ref = balance[speaking]
    spread = max(float(np.std(ref)), 0.25)
    z = (balance - float(np.median(ref))) / spread
    width = np.tanh(0.8 * z).astype(np.float32)
    width[~speaking] = 0.0
    return smooth3(width)


def smooth3(values: np.ndarray) -> np.ndarray:
    """[1, 2, 1]/4 smoothing with edge replication — removes single-frame jitter without lag."""
    if values.size < 3:
        return values.astype(np.float32)
    padded = np.pad(values, 1, mode="edge")
    return (0.25 * padded[:-2] + 0.5 * padded[1:-1] + 0.25 * padded[2:]).astype(np.float32)


def mouth_drive(audio: np.ndarray, samples_per_frame: int, sample_rate: int) -> MouthDrive:
    """Audio → per-frame opening (gated, attack/release envelope relative to speech level) and spectral width."""
    rms = frame_rms(audio, samples_per_frame)
    level, gate = speech_level_and_gate(rms)
    if level <= 0.0:
        zeros = np.zeros_like(rms)
        return MouthDrive(zeros, zeros.copy(), zeros.copy())
    # Anticipate onsets by half a frame: the jaw starts moving just before the sound.
    ahead = np.maximum(rms, 0.5 * np.append(rms[1:], 0.0).astype(np.float32))
    envelope = attack_release(ahead, attack=0.85, release=0.5)
    relative = np.clip((envelope - gate) / max(level - gate, 1e-6), 0.0, 1.25)
    opening = np.minimum(relative ** 0.8, 1.0).astype(np.float32)
    speaking = envelope > gate
    width = spectral_width(audio, samples_per_frame, sample_rate, speaking)
    return MouthDrive(opening, width, relative.astype(np.float32))
