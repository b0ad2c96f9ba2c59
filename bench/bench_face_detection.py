"""Found-rate of the portrait test set (real photos, bench/face_photos.py): the MediaPipe face model (the product's
first choice) vs the OpenCV Haar fallback, with the time per portrait, and the group photo's candidates.

Usage: python bench/bench_face_detection.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from face_photos import ONE_FACE, group, no_face_photos  # noqa: E402

from deepstory_kernel.errors import InputError  # noqa: E402
from modules.face.align import analyze_portrait  # noqa: E402
from modules.face.mesh import FaceLandmarker  # noqa: E402


def _try(image, landmarker, detectors) -> tuple[str, float]:
    start = time.perf_counter()
    try:
        g = analyze_portrait(image, landmarker, detectors=detectors)
        found = f"yes ({len(g.candidates)} face{'s' if len(g.candidates) != 1 else ''})" \
            if g.method == "mediapipe" else "yes"
    except InputError:
        found = "no"
    return found, (time.perf_counter() - start) * 1000


def main() -> int:
    with FaceLandmarker() as landmarker:
        _try(ONE_FACE["astronaut"][0](), landmarker, ("mediapipe",))      # warm-up
        print(f"{'portrait':28s} {'what':44s} {'MediaPipe':>14s} {'ms':>6s} {'Haar':>6s} {'ms':>6s}")
        found = {"mediapipe": 0, "haar": 0}
        for name, (make, what) in ONE_FACE.items():
            image = make()
            mp, mp_ms = _try(image, landmarker, ("mediapipe",))
            haar, haar_ms = _try(image, landmarker, ("haar",))
            found["mediapipe"] += mp.startswith("yes")
            found["haar"] += haar.startswith("yes")
            print(f"{name:28s} {what:44s} {mp:>14s} {mp_ms:6.0f} {haar:>6s} {haar_ms:6.0f}")
        n = len(ONE_FACE)
        print(f"\none visible face found: MediaPipe {found['mediapipe']}/{n}, Haar {found['haar']}/{n}")
        g = analyze_portrait(group(), landmarker)
        print(f"group photo (3 people): {len(g.candidates)} candidates, largest box "
              f"{tuple(round(v) for v in g.box)}")
        for name, image in no_face_photos().items():
            result, ms = _try(image, landmarker, ("mediapipe", "face-alignment", "haar"))
            print(f"no-face photo {name}: face found = {result} ({ms:.0f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
