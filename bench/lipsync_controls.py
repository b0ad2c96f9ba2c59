"""Controls for the lip-sync scorer: a crude jaw-drop warp of a real portrait driven by the audio (positive) and
a still portrait (negative). If the scorer cannot tell these two apart it measures nothing.

The warp: the face model's mesh finds the lip line and the chin; every frame, the lower face below the lip line
moves down by an amount proportional to the frame's loudness (smooth falloff towards the chin and sideways), and
the gap that opens between the lips is filled with a dark mouth cavity.
"""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np


def jaw_drop_frames(portrait: np.ndarray, mesh: object, loudness: np.ndarray, max_open: float = 0.35,
                    batch: int = 16) -> Iterator[np.ndarray]:
    """uint8 RGB batches, one frame per value of `loudness` (0..1): the jaw opens by `max_open` × face size."""
    from modules.face import mesh as M

    pts = mesh.points  # type: ignore[attr-defined]
    size = float(mesh.face_size)  # type: ignore[attr-defined]
    h, w = portrait.shape[:2]
    lip_y = float((pts[M.INNER_LIP_TOP, 1] + pts[M.INNER_LIP_BOTTOM, 1]) / 2)
    chin_y = float(pts[M.CHIN, 1])
    cx = float(pts[[M.MOUTH_CORNER_RIGHT, M.MOUTH_CORNER_LEFT], 0].mean())
    half_mouth = float(abs(pts[M.MOUTH_CORNER_LEFT, 0] - pts[M.MOUTH_CORNER_RIGHT, 0]) / 2)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    below = np.clip((ys - lip_y) / 2.0, 0.0, 1.0)                       # moves from just below the lip line
    fade = np.clip(1.0 - (ys - chin_y) / (0.6 * size), 0.0, 1.0)        # back to still below the chin
    side = np.exp(-0.5 * ((xs - cx) / (1.0 * half_mouth)) ** 2)
    weight = (below * fade * side).astype(np.float32)
    cavity_side = np.clip(1.0 - np.abs(xs - cx) / max(half_mouth, 1.0), 0.0, 1.0) ** 0.5
    out = []
    for level in np.clip(np.asarray(loudness, dtype=np.float32), 0.0, 1.0):
        drop = level * max_open * size
        map_y = ys - drop * weight
        frame = cv2.remap(portrait, xs, map_y.astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if drop > 0.5:
            gap = (ys >= lip_y) & (ys < lip_y + drop * cavity_side) & (cavity_side > 0)
            frame[gap] = (frame[gap] * 0.15 + np.array([40, 12, 14]) * 0.85).astype(np.uint8)
        out.append(frame)
        if len(out) == batch:
            yield np.stack(out)
            out = []
    if out:
        yield np.stack(out)


def loudness_envelope(rms: np.ndarray) -> np.ndarray:
    """Frame RMS → 0..1 opening (95th percentile = fully open), lightly smoothed like a real jaw."""
    top = float(np.percentile(rms, 95)) or 1.0
    level = np.clip(np.asarray(rms, dtype=np.float64) / top, 0.0, 1.0)
    return np.convolve(level, [0.25, 0.5, 0.25], mode="same")
