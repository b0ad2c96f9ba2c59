"""Speed of the built-in animation path on one ~20 s chunk (one run, ratios printed).

Targets (2-core CPU): built-in base + transfer together ≥ 2× real time (≥ 50 frames/s at 256×256), and the
full-frame paste-back onto a 1024 px portrait ≥ real time (25 frames/s).

    python3 bench/bench_builtin_animation.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deepstory_core.portraits import load_portrait
from deepstory_core.settings import FPS, SAMPLE_RATE, SAMPLES_PER_FRAME
from modules.classic.lipsync import BuiltinLipSync
from modules.classic.transfer import BuiltinMotionTransfer
from modules.face.align import align_face, analyze_portrait

GRID_WAV = Path(__file__).resolve().parents[2] / "shared" / "samples" / "grid" / "utterance_50khz.wav"


def chunk_audio(seconds: float) -> np.ndarray:
    """Real GRID speech looped to the chunk length when available, otherwise syllable-like noise bursts."""
    n = int(seconds * SAMPLE_RATE) // SAMPLES_PER_FRAME * SAMPLES_PER_FRAME
    if GRID_WAV.is_file():
        from scipy.io import wavfile
        from scipy.signal import resample_poly

        rate, pcm = wavfile.read(GRID_WAV)
        speech = resample_poly(pcm.astype(np.float32) / 32768.0, SAMPLE_RATE // 50, rate // 50).astype(np.float32)
        return np.resize(speech, n).astype(np.float32)
    t = np.arange(n) / SAMPLE_RATE
    rng = np.random.default_rng(0)
    return (rng.standard_normal(n) * np.clip(np.sin(2 * np.pi * 3 * t), 0, 1) * 0.2).astype(np.float32)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    audio = chunk_audio(args.seconds)
    frames = len(audio) // SAMPLES_PER_FRAME
    duration = frames / FPS
    portrait = load_portrait("builtin:eileen")

    t0 = time.perf_counter()
    geometry = analyze_portrait(portrait)
    identity = align_face(portrait, geometry).image
    t_face = time.perf_counter() - t0

    lipsync, transfer = BuiltinLipSync(), BuiltinMotionTransfer()
    t0 = time.perf_counter()
    count = 0
    base_time = 0.0
    base_iter = lipsync.animate(audio, identity, seed=1)

    def timed_base():
        nonlocal base_time
        while True:
            s = time.perf_counter()
            try:
                batch = next(base_iter)
            except StopIteration:
                return
            base_time += time.perf_counter() - s
            yield batch

    for batch in transfer.transfer(portrait, timed_base(), geometry=geometry):
        count += len(batch)
    total = time.perf_counter() - t0
    assert count == frames, (count, frames)
    fps = frames / total
    print(f"chunk: {duration:.1f} s, {frames} frames; face analysis {t_face * 1000:.0f} ms (once per portrait)")
    print(f"base (built-in lip-sync): {frames / base_time:8.1f} frames/s")
    print(f"transfer 256x256:         {frames / (total - base_time):8.1f} frames/s")
    print(f"base + transfer 256x256:  {fps:8.1f} frames/s = {fps / FPS:.2f}x real time "
          f"(target >= 50 frames/s, 2x) {'OK' if fps >= 50 else 'BELOW TARGET'}")

    scale = 1024 / max(portrait.shape[:2])
    big = cv2.resize(portrait, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    big_geometry = analyze_portrait(big)
    base = np.concatenate(list(lipsync.animate(audio, identity, seed=1)))
    t0 = time.perf_counter()
    count = 0
    for batch in transfer.transfer(big, [base[i:i + 64] for i in range(0, len(base), 64)], full_frame=True,
                                   geometry=big_geometry):
        count += len(batch)
    full = time.perf_counter() - t0
    assert count == frames
    ffps = frames / full
    print(f"full-frame {big.shape[1]}x{big.shape[0]} transfer: {ffps:8.1f} frames/s = {ffps / FPS:.2f}x real time "
          f"(target >= 25 frames/s, 1x) {'OK' if ffps >= 25 else 'BELOW TARGET'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
