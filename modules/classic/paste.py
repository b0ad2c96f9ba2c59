"""Paste an animated square face crop back into the whole portrait, feathered so no seam shows.

Why: FOM animates a 256×256 crop (vox-256 framing); a full-frame export wants the face moving inside the portrait
at the portrait's own resolution. The crop is warped back by the inverse of the crop transform and blended with a
mask that is 1 over the face and falls smoothly to 0 well inside the crop's border, where the crop and the
portrait agree — so the edge of the pasted square never shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import cv2
import numpy as np

FEATHER = 0.16          # share of the crop side over which the mask falls from 1 to 0
MARGIN = 0.04           # share of the crop side left untouched at its border


def crop_mask(size: int) -> np.ndarray:
    """(size, size) float32: 1 in the middle, smooth fall to 0 near the border (a rounded square)."""
    t = (np.arange(size, dtype=np.float32) + 0.5) / size
    edge = np.minimum(t, 1.0 - t)                                   # distance to the nearest border, 0..0.5
    ramp = np.clip((edge - MARGIN) / FEATHER, 0.0, 1.0)
    ramp = ramp * ramp * (3.0 - 2.0 * ramp)
    return np.outer(ramp, ramp).astype(np.float32)


def paste_back(portrait: np.ndarray, crops: Iterable[np.ndarray], to_crop: np.ndarray) -> Iterator[np.ndarray]:
    """Yield (B, H, W, 3) portraits with each crop of the (B, s, s, 3) batches pasted back.

    `to_crop`: 2×3 similarity portrait pixel → crop pixel (the one that made the crop).
    """
    h, w = portrait.shape[:2]
    inv = cv2.invertAffineTransform(np.asarray(to_crop, np.float64))
    mask_cache: dict[int, tuple[np.ndarray, tuple[int, int, int, int]]] = {}
    for batch in crops:
        batch = np.asarray(batch, np.uint8)
        size = batch.shape[1]
        if size not in mask_cache:
            corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], np.float64) @ inv[:, :2].T + inv[:, 2]
            x0, y0 = np.maximum(np.floor(corners.min(0)).astype(int), 0)
            x1, y1 = np.minimum(np.ceil(corners.max(0)).astype(int), (w, h))
            shifted = inv.copy()
            shifted[:, 2] -= (x0, y0)
            mask = cv2.warpAffine(crop_mask(size), shifted, (int(x1 - x0), int(y1 - y0)), flags=cv2.INTER_LINEAR,
                                  borderValue=0)
            mask_cache[size] = (mask, (int(x0), int(y0), int(x1), int(y1)))
        mask, (x0, y0, x1, y1) = mask_cache[size]
        shifted = inv.copy()
        shifted[:, 2] -= (x0, y0)
        out = np.repeat(portrait[None], len(batch), axis=0)
        region = np.ascontiguousarray(portrait[y0:y1, x0:x1])
        for i, crop in enumerate(batch):
            back = cv2.warpAffine(crop, shifted, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REPLICATE)
            out[i, y0:y1, x0:x1] = cv2.blendLinear(back, region, mask, 1.0 - mask)
        yield out
