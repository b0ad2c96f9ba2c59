"""Mouth, jaw and eyelid measurements on a `FaceMesh` — the numbers lip-sync rendering and scoring share.

Every distance is also given normalised by the face's size (outer eye corners), so values compare across
portraits, crops and output resolutions.
"""

from __future__ import annotations

import numpy as np

from . import mesh as M
from .mesh import FaceMesh


def _dist(mesh: FaceMesh, a: int, b: int) -> float:
    pa, pb = mesh.landmarks[a, :2], mesh.landmarks[b, :2]
    return float(np.hypot(*(pb - pa)))


def inner_lip_gap(mesh: FaceMesh) -> float:
    """Pixels between the inner edges of the upper and lower lip (landmarks 13–14): 0 when the lips touch."""
    return _dist(mesh, M.INNER_LIP_TOP, M.INNER_LIP_BOTTOM)


def lip_gap_ratio(mesh: FaceMesh) -> float:
    """`inner_lip_gap` / face size (outer eye corners): ~0 closed, ~0.15 speaking, ~0.4 wide open."""
    return inner_lip_gap(mesh) / max(mesh.face_size, 1e-6)


def mouth_width(mesh: FaceMesh) -> float:
    return _dist(mesh, M.MOUTH_CORNER_RIGHT, M.MOUTH_CORNER_LEFT)


def mouth_width_ratio(mesh: FaceMesh) -> float:
    """Corner-to-corner width / face size: larger on spread vowels (i, e), smaller on rounded ones (o, u, w)."""
    return mouth_width(mesh) / max(mesh.face_size, 1e-6)


def jaw_drop_ratio(mesh: FaceMesh) -> float:
    """Nose base to chin / face size: grows as the jaw opens (compare frames of one face, not faces)."""
    return _dist(mesh, M.NOSE_BOTTOM, M.CHIN) / max(mesh.face_size, 1e-6)


def eye_openness(mesh: FaceMesh) -> tuple[float, float]:
    """Eyelid gap / eye width for the (image-left, image-right) eye: ~0.3 open, < 0.1 closed."""
    right = _dist(mesh, M.RIGHT_EYE_TOP, M.RIGHT_EYE_BOTTOM) / max(_dist(mesh, M.RIGHT_EYE_OUTER, M.RIGHT_EYE_INNER), 1e-6)
    left = _dist(mesh, M.LEFT_EYE_TOP, M.LEFT_EYE_BOTTOM) / max(_dist(mesh, M.LEFT_EYE_OUTER, M.LEFT_EYE_INNER), 1e-6)
    return right, left


def polygon(mesh: FaceMesh, indices: tuple[int, ...]) -> np.ndarray:
    """(N, 2) float32 outline in image pixels, e.g. `polygon(m, LIPS_INNER)` is the mouth opening."""
    return np.ascontiguousarray(mesh.landmarks[list(indices), :2], dtype=np.float32)


def region_mask(mesh: FaceMesh, indices: tuple[int, ...], shape: tuple[int, int], dilate_px: int = 0) -> np.ndarray:
    """uint8 (H, W) mask (255 inside) of the polygon through `indices`, optionally grown by `dilate_px`."""
    import cv2

    mask = np.zeros(shape, dtype=np.uint8)
    cv2.fillPoly(mask, [np.round(polygon(mesh, indices)).astype(np.int32)], 255)
    if dilate_px > 0:
        k = 2 * int(dilate_px) + 1
        return np.asarray(cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))), dtype=np.uint8)
    return mask
