"""Speed of the built-in lip-sync base on one core: frames/s at 128×96 and the real-time factor (25 fps).

Usage: python3 bench/bench_lipsync.py [SECONDS]   (default 20 s of the GRID utterance, repeated)
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2
import numpy as np
import scipy.io.wavfile
from scipy.signal import resample_poly

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from deepstory_kernel.media import FPS, SAMPLE_RATE, SAMPLES_PER_FRAME  # noqa: E402
from modules.classic.lipsync import BuiltinLipSync  # noqa: E402


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
    grid = Path(os.environ.get("DEEPSTORY_SHARED", REPO.parent / "shared")) / "samples" / "grid"
    rate, data = scipy.io.wavfile.read(grid / "utterance_50khz.wav")
    speech = resample_poly(data.astype(np.float32) / 32768.0, SAMPLE_RATE, rate).astype(np.float32)
    n_frames = int(seconds * FPS)
    audio = np.resize(speech, n_frames * SAMPLES_PER_FRAME)
    bgr = cv2.imread(str(grid / "face_aligned_128x96.bmp"))
    assert bgr is not None, "GRID sample face missing"
    face = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    cv2.setNumThreads(1)
    animator = BuiltinLipSync(batch_size=64)
    start = time.perf_counter()
    count = sum(len(batch) for batch in animator.animate(audio, face, seed=0))
    elapsed = time.perf_counter() - start
    fps = count / elapsed
    print(f"builtin lip-sync: {count} frames in {elapsed:.2f} s on 1 thread = {fps:.0f} frames/s "
          f"= {fps / FPS:.1f}x real time (target >= 300 frames/s)")


if __name__ == "__main__":
    main()
