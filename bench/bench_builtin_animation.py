"""Speed of the built-in animation path on one ~20 s chunk (one run, ratios printed).

Targets (issue #10, 2-core CPU): built-in base + transfer ≥ 10× real time at 256×256 (≥ 250 frames/s), and
≥ 3× real time for full-frame on the 1080p canvas (≥ 75 frames/s, the canvas composition included).
Wall-clock and CPU time are both printed: on a shared machine the wall clock measures the neighbours too, and
CPU time (all threads) is what the work costs.

    python3 bench/bench_builtin_animation.py [--seconds 20] [--portrait builtin:hopper]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deepstory_core.portraits import load_portrait
from deepstory_core.stages.animate import canvas_size, fit_portrait
from deepstory_kernel.media import FPS, SAMPLE_RATE, SAMPLES_PER_FRAME
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


def timed(run: Callable[[], Iterable[np.ndarray]]) -> tuple[int, float, float]:
    """(frames, wall seconds, CPU seconds) of consuming `run()`."""
    wall, cpu = time.perf_counter(), time.process_time()
    count = sum(len(batch) for batch in run())
    return count, time.perf_counter() - wall, time.process_time() - cpu


def report(label: str, frames: int, wall: float, cpu: float, target: float | None = None) -> None:
    line = f"{label:38s} {frames / wall:7.0f} frames/s wall = {frames / wall / FPS:5.1f}x real time; " \
           f"{frames / cpu:7.0f} frames/s of CPU = {frames / cpu / FPS:5.1f}x"
    if target is not None:
        line += f"  (target >= {target:.0f} frames/s: {'OK' if frames / min(wall, cpu) >= target else 'BELOW'})"
    print(line)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--portrait", default="builtin:eileen")
    args = parser.parse_args()
    audio = chunk_audio(args.seconds)
    frames = len(audio) // SAMPLES_PER_FRAME
    portrait = load_portrait(args.portrait)

    t0 = time.perf_counter()
    geometry = analyze_portrait(portrait)
    identity = align_face(portrait, geometry).image
    lipsync, transfer = BuiltinLipSync(), BuiltinMotionTransfer()
    base = np.concatenate(list(lipsync.animate(audio[: 2 * SAMPLES_PER_FRAME], identity, seed=1)))   # face mesh, once
    list(transfer.transfer(portrait, [base], geometry=geometry))                                # portrait mesh, once
    print(f"chunk: {frames / FPS:.1f} s, {frames} frames; face analysis {time.perf_counter() - t0:.2f} s "
          f"(once per portrait)")

    n, wall, cpu = timed(lambda: lipsync.animate(audio, identity, seed=1))
    report("base (built-in lip-sync, 128x96)", n, wall, cpu)
    base_stack = np.concatenate(list(lipsync.animate(audio, identity, seed=1)))
    batches = [base_stack[i:i + 16] for i in range(0, len(base_stack), 16)]
    n, t_wall, t_cpu = timed(lambda: transfer.transfer(portrait, batches, geometry=geometry))
    report("transfer 256x256, motion measured", n, t_wall, t_cpu)

    def with_track(full_frame: bool = False, image: np.ndarray = portrait) -> Iterable[np.ndarray]:
        """What the product runs: the base and its face track, the transfer re-enacting the track."""
        track = lipsync.track(audio, identity, seed=1)
        return transfer.transfer(image, lipsync.animate(audio, identity, seed=1), full_frame=full_frame,
                                 geometry=None if full_frame else geometry, track=track)

    n, wall, cpu = timed(with_track)
    assert n == frames, (n, frames)
    report("base + transfer 256x256", n, wall, cpu, target=250)

    fitted, fit = fit_portrait(portrait, canvas_size("1080p"))
    list(transfer.transfer(fitted, [base], full_frame=True))

    def full_frame() -> Iterable[np.ndarray]:
        for batch in with_track(True, fitted):
            yield fit.compose(batch)

    n, wall, cpu = timed(full_frame)
    assert n == frames
    report(f"base + full frame 1080p ({fitted.shape[1]}x{fitted.shape[0]})", n, wall, cpu, target=75)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
