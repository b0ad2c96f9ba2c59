"""Aligning a face photo to SDA's mean face, as the original `preprocess_img` does.

Five stable landmarks (nose tip, eye corners) define a similarity transform onto the model's mean face; the image
is warped to the model's frame size (bilinear, constant 0 outside), scaled ×255 and truncated to uint8.
scikit-image is used directly so the numbers are exactly the original's.
"""

from __future__ import annotations

import warnings

import numpy as np
from skimage import transform as sktf

STABLE_POINTS = (33, 36, 39, 42, 45)


def similarity_to_mean_face(landmarks_xy: np.ndarray, mean_face_xy: np.ndarray) -> sktf.SimilarityTransform:
    src = np.asarray(landmarks_xy)[list(STABLE_POINTS), :]
    dst = np.asarray(mean_face_xy)[list(STABLE_POINTS), :]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # estimate_transform is deprecated in newer skimage
        return sktf.estimate_transform("similarity", src, dst)


def align_face(image: np.ndarray, landmarks_xy: np.ndarray, mean_face_xy: np.ndarray,
               output_shape: tuple[int, int]) -> np.ndarray:
    """uint8 (H, W, 3) photo + its 68 (x, y) landmarks → uint8 (h, w, 3) aligned face, the model's framing."""
    tform = similarity_to_mean_face(landmarks_xy, mean_face_xy)
    warped = sktf.warp(image, inverse_map=tform.inverse, output_shape=tuple(output_shape))
    return (warped * 255).astype(np.uint8)
