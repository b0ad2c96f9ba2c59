"""Normalise whatever a user uploads (grey, RGBA, 16-bit, float) to the RGB uint8 the face code expects."""

from __future__ import annotations

import numpy as np

from deepstory_kernel.errors import InputError


def to_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """Return an (H, W, 3) uint8 RGB copy-or-view; alpha is composited onto white so transparent areas stay light."""
    arr = np.asarray(image)
    if arr.ndim not in (2, 3) or arr.size == 0 or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
        raise InputError(f"The portrait has an unusable shape {arr.shape}; use an RGB, RGBA or greyscale image.")
    if arr.dtype != np.uint8:
        if arr.dtype == np.uint16:
            arr = (arr >> 8).astype(np.uint8)
        elif np.issubdtype(arr.dtype, np.floating):
            scale = 255.0 if float(np.nanmax(arr)) <= 1.0 else 1.0
            arr = np.clip(np.nan_to_num(arr) * scale + 0.5, 0, 255).astype(np.uint8)
        elif arr.dtype == np.bool_:
            arr = arr.astype(np.uint8) * 255
        else:
            arr = np.clip(arr, 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        return np.repeat(arr[:, :, None], 3, axis=2)
    if arr.shape[2] == 1:
        return np.repeat(arr, 3, axis=2)
    if arr.shape[2] == 4:
        alpha = arr[:, :, 3:4].astype(np.float32) / 255.0
        rgb = arr[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
        return (rgb + 0.5).astype(np.uint8)
    return np.ascontiguousarray(arr)
