"""Face and eye detection with OpenCV's bundled Haar cascades — works offline with no model download.

Big images are searched at ≤ 800 px and small ones at ≥ 320 px (Haar needs ~24 px faces); tilted faces are found
by searching rotated copies; the eyes are then searched inside the face and refined to the dark pupil.
All returned coordinates are in the ORIGINAL image's pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

Point = tuple[float, float]

SEARCH_ANGLES = (0.0, 14.0, -14.0, 26.0, -26.0)   # rotated copies cover faces tilted up to ~±35°
MAX_SEARCH_SIDE = 720
MIN_SEARCH_SIDE = 320
MIN_FACE_PX = 24                                   # Haar's own window, in the search image
MIN_FACE_FRACTION = 0.045                          # of the search image's short side: portraits, not crowds
# Where the eyes sit inside a Haar frontal-face box (fractions of its size), measured on real faces:
# used when the eye cascades find no pair (closed eyes, glasses, low resolution).
EYE_FRACTIONS = ((0.295, 0.375), (0.715, 0.38))


@dataclass(frozen=True)
class Detection:
    """A face found in an image: its box (upright in the search frame, mapped back), both eye centres, how found."""

    box: tuple[float, float, float, float]   # x, y, w, h in original pixels (axis-aligned, tilt not included)
    left_eye: Point                          # the eye on the image's left
    right_eye: Point
    eyes_found: bool                         # False: eyes estimated from the box
    angle: float                             # degrees of the rotated copy that found the face
    cascade: str


@cache
def _cascade(name: str) -> cv2.CascadeClassifier:
    classifier = cv2.CascadeClassifier(cv2.data.haarcascades + name)  # type: ignore[attr-defined]
    if classifier.empty():  # pragma: no cover - broken OpenCV install
        raise RuntimeError(f"OpenCV's Haar cascade {name} is missing; reinstall opencv-python==4.14.0.94.")
    return classifier


def search_scale(shape: tuple[int, ...]) -> float:
    """Scale that brings the image into the size range where Haar search is both fast and able to see the face."""
    long_side = max(shape[0], shape[1])
    if long_side > MAX_SEARCH_SIDE:
        return MAX_SEARCH_SIDE / long_side
    if long_side < MIN_SEARCH_SIDE:
        return MIN_SEARCH_SIDE / long_side
    return 1.0


def min_face_px(shape: tuple[int, ...]) -> int:
    """Smallest face width (original pixels) the frontal search can find in an image of this shape."""
    scale = search_scale(shape)
    short = min(shape[0], shape[1]) * scale
    return int(np.ceil(max(MIN_FACE_PX, MIN_FACE_FRACTION * short) / scale))


def detect_face(rgb: np.ndarray) -> Detection | None:
    """Find the most prominent face (and its eyes) in an RGB uint8 image, or None."""
    from .image import to_rgb_uint8

    gray_full = cv2.cvtColor(to_rgb_uint8(rgb), cv2.COLOR_RGB2GRAY)
    scale = search_scale(gray_full.shape)
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    gray = cv2.resize(gray_full, None, fx=scale, fy=scale, interpolation=interp) if scale != 1 else gray_full
    fallback: Detection | None = None
    for angle in SEARCH_ANGLES:
        found = _detect_at_angle(gray, angle)
        if found is not None and found.eyes_found:
            return _to_original(found, scale)
        fallback = fallback or found   # a face without an eye pair: a more rotated copy may show the eyes
    if fallback is not None:
        return _eyes_at_full_resolution(gray_full, _to_original(fallback, scale), scale)
    found = _detect_profile(gray)
    return _to_original(found, scale) if found is not None else None


def _eyes_at_full_resolution(gray_full: np.ndarray, det: Detection, scale: float) -> Detection:
    """A big photo was searched shrunk, where the eyes may be too small to find: look again at full size."""
    if scale >= 1.0 or det.eyes_found or det.angle:
        return det
    eyes = _find_eyes(gray_full, det.box)
    if eyes is None:
        return det
    return Detection(det.box, eyes[0], eyes[1], True, det.angle, det.cascade)


def _rotation(shape: tuple[int, int], angle: float) -> tuple[np.ndarray, tuple[int, int]]:
    """Affine rotating an image about its centre onto a canvas big enough to hold all of it."""
    h, w = shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    new_w, new_h = int(h * sin + w * cos + 0.5), int(h * cos + w * sin + 0.5)
    m[0, 2] += new_w / 2 - w / 2
    m[1, 2] += new_h / 2 - h / 2
    return m, (new_w, new_h)


def _detect_at_angle(gray: np.ndarray, angle: float) -> Detection | None:
    """Faces both frontal cascades agree on (false positives rarely fool both); on rotated copies an eye pair too."""
    if angle:
        m, size = _rotation(gray.shape, angle)
        work = cv2.warpAffine(gray, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    else:
        m, work = np.array([[1.0, 0, 0], [0, 1.0, 0]]), gray
    min_face = max(MIN_FACE_PX, int(MIN_FACE_FRACTION * min(gray.shape)))
    primary = _cascade("haarcascade_frontalface_default.xml").detectMultiScale(
        work, scaleFactor=1.1 if not angle else 1.15, minNeighbors=5 if not angle else 7, minSize=(min_face, min_face))
    if not len(primary):
        return None
    confirm = _cascade("haarcascade_frontalface_alt2.xml").detectMultiScale(
        work, scaleFactor=1.1, minNeighbors=3, minSize=(min_face, min_face))
    agreed = [f for f in primary if any(_overlap(f, c) > 0.4 for c in confirm)]
    if not agreed:
        return None
    x, y, w, h = (float(v) for v in max(agreed, key=lambda f: f[2] * f[3]))
    eyes = _find_eyes(work, (x, y, w, h))
    if eyes is None and angle:
        return None
    return _unrotate(m, (x, y, w, h), eyes, angle, "haarcascade_frontalface_default.xml")


def _overlap(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return float(inter / (a[2] * a[3] + b[2] * b[3] - inter))


def _detect_profile(gray: np.ndarray) -> Detection | None:
    """Last resort for half-turned faces: the profile cascade on the image and its mirror."""
    cascade = _cascade("haarcascade_profileface.xml")
    width = gray.shape[1]
    for mirrored in (False, True):
        work = np.ascontiguousarray(gray[:, ::-1]) if mirrored else gray
        faces = cascade.detectMultiScale(work, scaleFactor=1.1, minNeighbors=5, minSize=(MIN_FACE_PX, MIN_FACE_PX))
        if len(faces):
            x, y, w, h = (float(v) for v in max(faces, key=lambda f: f[2] * f[3]))
            if mirrored:
                x = width - x - w
            eyes = _eyes_from_box((x, y, w, h))
            return Detection((x, y, w, h), eyes[0], eyes[1], False, 0.0, "haarcascade_profileface.xml")
    return None


def _eyes_from_box(box: tuple[float, float, float, float]) -> tuple[Point, Point]:
    x, y, w, h = box
    (lx, ly), (rx, ry) = EYE_FRACTIONS
    return (x + lx * w, y + ly * h), (x + rx * w, y + ry * h)


def _find_eyes(gray: np.ndarray, box: tuple[float, float, float, float]) -> tuple[Point, Point] | None:
    """Eye pair inside the face's upper half: cascade candidates, paired by plausibility, refined to the pupils."""
    x, y, w, h = box
    x0, y0 = int(max(0, x)), int(max(0, y + 0.12 * h))
    x1, y1 = int(min(gray.shape[1], x + w)), int(min(gray.shape[0], y + 0.62 * h))
    roi = gray[y0:y1, x0:x1]
    if roi.size == 0:
        return None
    zoom = max(1.0, 200.0 / max(1.0, w))          # eye cascades need ~20 px eyes
    min_eye = max(8, int(0.12 * w * zoom))
    # Equalised first (a bright or flat surround must not wash the eyes out), then as it is: equalising can
    # drown eyes behind heavy spectacle frames (the built-in Grace Hopper portrait).
    for prepared in (cv2.equalizeHist(roi), roi):
        if zoom > 1:
            prepared = cv2.resize(prepared, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC)
        candidates: list[tuple[float, float, float]] = []
        for name in ("haarcascade_eye.xml", "haarcascade_eye_tree_eyeglasses.xml"):
            found = _cascade(name).detectMultiScale(prepared, scaleFactor=1.08, minNeighbors=3,
                                                    minSize=(min_eye, min_eye),
                                                    maxSize=(int(0.5 * w * zoom), int(0.5 * w * zoom)))
            for ex, ey, ew, eh in found:
                cx, cy = _pupil(prepared, (ex, ey, ew, eh))
                candidates.append((x0 + cx / zoom, y0 + cy / zoom, ew / zoom))
            pair = _best_pair(candidates, box)
            if pair is not None:
                return pair
    return None


def _pupil(roi: np.ndarray, eye: tuple[int, int, int, int]) -> Point:
    """Pull the eye box centre toward the darkest blob in its middle (the pupil), avoiding brows at the top."""
    ex, ey, ew, eh = eye
    sx0, sx1 = ex + int(0.2 * ew), ex + int(0.8 * ew)
    sy0, sy1 = ey + int(0.3 * eh), ey + int(0.8 * eh)
    patch = roi[sy0:sy1, sx0:sx1].astype(np.float32)
    centre = (ex + ew / 2.0, ey + eh / 2.0)
    if patch.size < 4:
        return centre
    patch = np.asarray(cv2.GaussianBlur(patch, (0, 0), max(0.8, ew / 14.0)), dtype=np.float32)
    py, px = np.unravel_index(int(np.argmin(patch)), patch.shape)
    return 0.5 * centre[0] + 0.5 * (sx0 + px), 0.5 * centre[1] + 0.5 * (sy0 + py)


def _best_pair(candidates: list[tuple[float, float, float]], box: tuple[float, float, float, float]) -> tuple[Point, Point] | None:
    x, y, w, h = box
    expected = _eyes_from_box(box)
    best, best_cost = None, float("inf")
    for i, a in enumerate(candidates):
        for b in candidates[i + 1:]:
            left, right = (a, b) if a[0] < b[0] else (b, a)
            dx, dy = right[0] - left[0], right[1] - left[1]
            if not (0.22 * w <= dx <= 0.62 * w) or abs(dy) > 0.25 * dx:
                continue
            if not (left[0] < x + 0.55 * w and right[0] > x + 0.45 * w):
                continue
            cost = (np.hypot(left[0] - expected[0][0], left[1] - expected[0][1])
                    + np.hypot(right[0] - expected[1][0], right[1] - expected[1][1]))
            if cost < best_cost:
                best, best_cost = ((left[0], left[1]), (right[0], right[1])), cost
    return best


def _unrotate(m: np.ndarray, box: tuple[float, float, float, float], eyes: tuple[Point, Point] | None,
              angle: float, cascade: str) -> Detection:
    """Map a detection made on a rotated copy back to the unrotated search image."""
    inv = cv2.invertAffineTransform(m)
    x, y, w, h = box
    found = eyes is not None
    le, re = eyes if eyes is not None else _eyes_from_box(box)
    pts = np.array([[x + w / 2, y + h / 2], le, re], dtype=np.float64)
    back = pts @ inv[:, :2].T + inv[:, 2]
    cx, cy = back[0]
    left, right = sorted([tuple(back[1]), tuple(back[2])])
    return Detection((cx - w / 2, cy - h / 2, w, h), left, right, found, angle, cascade)


def _to_original(det: Detection, scale: float) -> Detection:
    x, y, w, h = det.box
    s = 1.0 / scale
    return Detection((x * s, y * s, w * s, h * s), (det.left_eye[0] * s, det.left_eye[1] * s),
                     (det.right_eye[0] * s, det.right_eye[1] * s), det.eyes_found, det.angle, det.cascade)
