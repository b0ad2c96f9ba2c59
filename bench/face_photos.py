"""The portrait test set: real photographs that ship inside installed packages, and real edits of them.

No synthetic faces: every face here is a photograph (scikit-image's astronaut — Eileen Collins — and cameraman,
matplotlib's Grace Hopper). Edits are what users upload: rotated, downscaled, greyscale, several people side by
side. Used by tests/test_face_*.py and bench/bench_face_detection.py, bench/bench_lipsync_quality.py.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import cv2
import numpy as np


@cache
def astronaut() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


@cache
def hopper() -> np.ndarray:
    """Grace Hopper in uniform, with glasses (600×512)."""
    from matplotlib import cbook

    path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert bgr is not None, path
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


@cache
def cameraman() -> np.ndarray:
    """scikit-image's cameraman: greyscale, small face, eyes down to the viewfinder, head turned (512×512)."""
    from skimage import data

    return np.ascontiguousarray(np.repeat(data.camera()[:, :, None], 3, axis=2))


def rotated(image: np.ndarray, degrees: float) -> np.ndarray:
    """The photo turned by `degrees` (counter-clockwise) inside an enlarged canvas, edges replicated."""
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    c, s = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(h * s + w * c), int(h * c + w * s)
    m[:, 2] += (nw - w) / 2, (nh - h) / 2
    return cv2.warpAffine(image, m, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def greyscale(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))


def face_width_scaled(image: np.ndarray, face_width: float, target: float) -> np.ndarray:
    """The photo scaled so its face (`face_width` px now) becomes `target` px wide."""
    f = target / face_width
    return cv2.resize(image, None, fx=f, fy=f, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC)


def group() -> np.ndarray:
    """Three real photos side by side on one canvas (1536×600): three people, the largest face is Grace Hopper's."""
    a = cv2.resize(astronaut(), (512, 512), interpolation=cv2.INTER_AREA)
    h = hopper()
    c = cameraman()
    canvas = np.full((600, 1536, 3), 200, dtype=np.uint8)
    canvas[44:556, 0:512] = a
    canvas[0:600, 512:1024] = h
    canvas[44:556, 1024:1536] = c
    return canvas


# Face widths (px, landmark extent) in the original photos, used to make the 112 px variants.
ASTRONAUT_FACE_PX = 89.0
HOPPER_FACE_PX = 185.0

# name → (maker, what it tests). Every one shows exactly one visible face except "group" (three) and the no-face set.
ONE_FACE: dict[str, tuple[Callable[[], np.ndarray], str]] = {
    "astronaut": (astronaut, "colour studio photo"),
    "hopper-glasses": (hopper, "glasses, uniform"),
    "hopper-grey": (lambda: greyscale(hopper()), "greyscale"),
    "astronaut-grey": (lambda: greyscale(astronaut()), "greyscale"),
    "cameraman-eyes-down": (cameraman, "eyes down, head turned, small face, greyscale"),
    "astronaut-tilt+30": (lambda: rotated(astronaut(), 30), "tilted +30°"),
    "astronaut-tilt-30": (lambda: rotated(astronaut(), -30), "tilted −30°"),
    "hopper-tilt+30": (lambda: rotated(hopper(), 30), "tilted +30°, glasses"),
    "hopper-tilt-30": (lambda: rotated(hopper(), -30), "tilted −30°, glasses"),
    "hopper-112px": (lambda: face_width_scaled(hopper(), HOPPER_FACE_PX, 112), "112 px face"),
    "astronaut-112px-in-1280": (lambda: np.pad(face_width_scaled(astronaut(), ASTRONAUT_FACE_PX, 112),
                                               ((100, 80), (700, 0), (0, 0)), mode="edge"),
                                "112 px face off-centre in a wide picture"),
}


def no_face_photos() -> dict[str, np.ndarray]:
    from skimage import data

    return {"coffee": np.ascontiguousarray(data.coffee()), "rocket": np.ascontiguousarray(data.rocket())}
