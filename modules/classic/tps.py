"""Thin-plate-spline displacement fields: smooth, minimally bent interpolation of control-point displacements.

Why: a face deforms like an elastic sheet pinned to the skull. Given where a few mesh points go, a thin-plate
spline gives every pixel a plausible, smooth displacement. The field is linear in the control displacements, so
one solve per identity gives a basis field per motion pattern, and a frame's field is a weighted sum of those.
"""

from __future__ import annotations

import numpy as np


def _kernel(r2: np.ndarray) -> np.ndarray:
    """U(r) = r² log r², written on r² (0 at r = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = r2 * np.log(r2)
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)


def tps_basis_fields(centres: np.ndarray, displacements: np.ndarray, points: np.ndarray,
                     regularisation: float = 1e-3) -> np.ndarray:
    """Evaluate at `points` (P, 2) the TPS interpolants of `displacements` (K, N, 2) given at `centres` (N, 2).

    Returns (K, P, 2). Coordinates are normalised internally so the solve is well conditioned at any scale.
    """
    centres = np.asarray(centres, np.float64)
    mean = centres.mean(axis=0)
    scale = float(np.abs(centres - mean).max()) or 1.0
    c = (centres - mean) / scale
    p = (np.asarray(points, np.float64) - mean) / scale
    n = len(c)
    k = _kernel(((c[:, None, :] - c[None, :, :]) ** 2).sum(-1)) + regularisation * np.eye(n)
    poly = np.hstack([np.ones((n, 1)), c])
    system = np.zeros((n + 3, n + 3))
    system[:n, :n] = k
    system[:n, n:] = poly
    system[n:, :n] = poly.T
    kk = displacements.shape[0]
    rhs = np.zeros((n + 3, kk * 2))
    rhs[:n] = np.asarray(displacements, np.float64).transpose(1, 0, 2).reshape(n, kk * 2)
    weights = np.linalg.lstsq(system, rhs, rcond=None)[0]                     # (N+3, K*2)
    u = _kernel(((p[:, None, :] - c[None, :, :]) ** 2).sum(-1))               # (P, N)
    values = u @ weights[:n] + np.hstack([np.ones((len(p), 1)), p]) @ weights[n:]
    return values.reshape(len(p), kk, 2).transpose(1, 0, 2)
