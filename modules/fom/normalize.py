"""Keypoint normalisation of the First Order Motion Model (Siarohin et al., NeurIPS 2019); reference code:
AliaksandrSiarohin/first-order-model, `animate.normalize_kp`.

Relative mode transfers the *motion* of the driving video (driving - first driving frame, optionally rescaled by the
ratio of keypoint convex-hull sizes) onto the source keypoints, so the portrait keeps its own face geometry.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial import ConvexHull, QhullError


def movement_scale(kp_source: dict[str, torch.Tensor], kp_driving_initial: dict[str, torch.Tensor]) -> float:
    """sqrt(source hull area) / sqrt(initial driving hull area), on the first batch element (as the reference)."""
    try:
        source_area = ConvexHull(kp_source["value"][0].detach().float().cpu().numpy()).volume
        driving_area = ConvexHull(kp_driving_initial["value"][0].detach().float().cpu().numpy()).volume
    except QhullError:      # degenerate (collinear) keypoints: the reference crashes here; keep the motion unscaled
        return 1.0
    return float(np.sqrt(source_area) / np.sqrt(driving_area))


def normalize_kp(kp_source: dict[str, torch.Tensor], kp_driving: dict[str, torch.Tensor],
                 kp_driving_initial: dict[str, torch.Tensor], adapt_movement_scale: bool = False,
                 use_relative_movement: bool = False, use_relative_jacobian: bool = False,
                 scale: float | None = None) -> dict[str, torch.Tensor]:
    """Reference semantics; `kp_driving` may hold a batch (B, K, …) against one source/initial frame.

    `scale` lets a caller pass the movement scale computed once per chunk (the hull areas never change within it).
    Absolute mode returns a shallow copy of `kp_driving`.
    """
    if adapt_movement_scale:
        factor = movement_scale(kp_source, kp_driving_initial) if scale is None else scale
    else:
        factor = 1.0
    kp_new = dict(kp_driving)
    if use_relative_movement:
        diff = kp_driving["value"] - kp_driving_initial["value"]
        # the reference multiplies a float32 tensor in place by a float64 scalar: torch rounds it to float32
        diff = diff * torch.tensor(factor, dtype=torch.float32).to(diff.dtype).to(diff.device)
        kp_new["value"] = diff + kp_source["value"]
        if use_relative_jacobian:
            jacobian_diff = torch.matmul(kp_driving["jacobian"], torch.inverse(kp_driving_initial["jacobian"]))
            kp_new["jacobian"] = torch.matmul(jacobian_diff, kp_source["jacobian"])
    return kp_new
