"""The inside of an open mouth, painted between the moved inner-lip contours at the image's own resolution.

Why painted: warping can only move what the portrait shows; a closed mouth has no teeth to move. What a viewer
expects in the opening: the upper teeth hanging from the skull (their edge fixed just below the rest lip line, so
a jaw drop uncovers them and a raised upper lip shows more), a dark cavity deepest in the middle, the lower teeth
riding on the jaw, the tongue low in a wide opening. Every colour is derived from this face's lips and skin by
scaling, so lighting carries over and a greyscale face stays grey.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from modules.classic import mesh_regions as R

UPPER_TEETH_SHOW = 0.07     # upper teeth reach this far (mouth widths) below the rest lip line
UPPER_TEETH_HALF = 0.36     # half width of the visible upper teeth row (mouth widths)
TOOTH_WIDTH = 0.095         # one incisor (mouth widths)
LOWER_TEETH_SHOW = 0.035
LOWER_TEETH_HALF = 0.26


@dataclass(frozen=True)
class MouthPalette:
    """Colours (float32 RGB) of one face's mouth interior."""

    deep: np.ndarray        # the throat, darkest
    rim: np.ndarray         # just inside the lips
    teeth: np.ndarray
    tongue: np.ndarray


def _sample(image: np.ndarray, points: np.ndarray, radius: int) -> np.ndarray:
    h, w = image.shape[:2]
    out = []
    for x, y in np.round(points).astype(int):
        y0, y1 = max(0, y - radius), min(h, y + radius + 1)
        x0, x1 = max(0, x - radius), min(w, x + radius + 1)
        if y1 > y0 and x1 > x0:
            out.append(image[y0:y1, x0:x1].reshape(-1, 3).astype(np.float32).mean(0))
    return np.mean(out, axis=0) if out else np.full(3, 128.0, np.float32)


def palette_from_face(image: np.ndarray, mesh: np.ndarray) -> MouthPalette:
    """Lip and skin colours sampled on the mesh → the interior's colours (a grey face gives a grey palette)."""
    pairs = [(o, i) for o, i in zip(R.UPPER_OUTER[1:-1] + R.LOWER_OUTER[1:-1], R.UPPER_INNER[1:-1] + R.LOWER_INNER[1:-1])]
    lip_points = np.array([0.5 * (mesh[o] + mesh[i]) for o, i in pairs])
    width = float(np.linalg.norm(mesh[291] - mesh[61]))
    radius = max(0, int(width / 40))
    lip = _sample(image, lip_points, radius)
    skin = _sample(image, mesh[[205, 425, 50, 280, 101, 330]], max(1, int(width / 20)))
    luma = float(skin @ np.array([0.299, 0.587, 0.114]))
    tint = skin / max(luma, 1.0)
    teeth_luma = float(np.clip(0.5 * luma + 110.0, 120.0, 225.0))
    teeth = teeth_luma * (0.72 + 0.28 * tint)            # ivory on a warm face, grey on a grey one
    lip_luma = float(lip @ np.array([0.299, 0.587, 0.114]))
    flesh = lip_luma + 1.35 * (lip - lip_luma)            # the inside of the mouth is redder than the lips' surface
    return MouthPalette(deep=np.clip(flesh * 0.16, 0, 255).astype(np.float32),
                        rim=np.clip(flesh * 0.42, 0, 255).astype(np.float32),
                        teeth=np.clip(teeth, 0, 255).astype(np.float32),
                        tongue=np.clip(flesh * 0.75, 0, 255).astype(np.float32))


def smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def paint_inner_mouth(region: np.ndarray, a: np.ndarray, b: np.ndarray, upper: np.ndarray, lower: np.ndarray,
                      rest_a: np.ndarray, rest_b: np.ndarray, rounding: float, mouth_width: float,
                      palette: MouthPalette, vertical_unit: float | None = None) -> None:
    """Paint in place (uint8 region) the interior where a pixel's face-local (a, b) lies between the contours.

    `upper`, `lower`: moved inner-lip contours (N, 2) face-local; `rest_a`, `rest_b`: the rest lip line (skull-
    fixed: the upper teeth hang from it); `rounding`: the frame's lip rounding (W) — pursed lips hide the teeth.
    `vertical_unit`: the mouth's true width for heights (a turned face's mouth looks narrower than it opens).
    """
    W = mouth_width
    V = vertical_unit or mouth_width
    ou, ol = np.argsort(upper[:, 0]), np.argsort(lower[:, 0])
    ua, ub, la, lb = upper[ou, 0], upper[ou, 1], lower[ol, 0], lower[ol, 1]
    left, right = max(ua[0], la[0]), min(ua[-1], la[-1])
    gap_max = float((np.interp(ua, la, lb) - ub).max())
    if gap_max < 0.3 or right <= left:
        return
    # only the rows and columns around the opening are worked on
    b_lo, b_hi = float(ub.min()) - 1.0, float(lb.max()) + 1.0
    inside = (b >= b_lo) & (b <= b_hi) & (a >= left - 1) & (a <= right + 1)
    rows = np.flatnonzero(inside.any(axis=1))
    cols = np.flatnonzero(inside.any(axis=0))
    if rows.size == 0 or cols.size == 0:
        return
    sy, sx = slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)
    A, B = a[sy, sx], b[sy, sx]
    y_u = np.interp(A, ua, ub)
    y_l = np.interp(A, la, lb)
    gap = y_l - y_u
    alpha = np.clip(B - y_u + 0.5, 0.0, 1.0) * np.clip(y_l - B + 0.5, 0.0, 1.0)
    alpha *= np.clip(gap / 1.2, 0.0, 1.0)               # a hair-line parting reads as a shadow, not a hole
    alpha *= np.clip(A - left + 0.5, 0.0, 1.0) * np.clip(right - A + 0.5, 0.0, 1.0)
    if float(alpha.max()) <= 0.0:
        return
    centre = 0.5 * (left + right)
    s = np.clip((A - centre) / max(0.5 * (right - left), 1e-3), -1.0, 1.0)
    t = np.clip((B - y_u) / np.maximum(gap, 1e-3), 0.0, 1.0)
    depth = np.sqrt(1.0 - s ** 2) * np.sin(np.pi * t) ** 0.6
    colour = palette.rim + (palette.deep - palette.rim) * depth[..., None]

    # tongue: low in a wide opening, rounded on top
    open_w = np.clip((gap - 0.1 * V) / (0.12 * V), 0.0, 1.0)
    tongue_top = y_l - 0.42 * gap * (1.0 - 0.5 * s ** 2)
    tongue = smoothstep((B - tongue_top) / max(0.06 * V, 0.8)) * open_w * (np.abs(s) < 0.85)
    tongue_rgb = palette.tongue * (0.55 + 0.45 * (1.0 - np.abs(s)))[..., None]
    colour = colour + (tongue_rgb - colour) * (0.85 * tongue)[..., None]

    # lower teeth: a thin row riding on the jaw just inside the lower lip
    lower_edge = y_l - LOWER_TEETH_SHOW * V * np.clip(gap / (0.15 * V), 0.0, 1.0)
    lt_s = (A - centre) / (LOWER_TEETH_HALF * W)
    lower_teeth = np.clip(B - lower_edge + 0.5, 0.0, 1.0) * np.clip(1.0 - np.abs(lt_s), 0.0, 1.0) ** 0.5
    lower_teeth *= np.clip((gap - 0.12 * V) / (0.08 * V), 0.0, 1.0)
    colour = colour + (palette.teeth * 0.62 - colour) * (0.8 * lower_teeth)[..., None]

    # upper teeth: hang from the skull-fixed rest line, so they show when the jaw drops or the upper lip rises
    # pursed lips cover more of them: less of the teeth shows (what shows is still tooth-coloured, not greyed)
    teeth_edge = np.interp(A, rest_a, rest_b) + UPPER_TEETH_SHOW * V * float(np.clip(1.0 - 5.0 * rounding, 0.25, 1.0))
    ts = (A - centre) / (UPPER_TEETH_HALF * W)
    upper_teeth = np.clip(teeth_edge - B + 0.5, 0.0, 1.0) * smoothstep((1.0 - np.abs(ts)) / 0.35)
    shade = (1.0 - 0.4 * np.clip(ts, -1, 1) ** 2) * (0.8 + 0.2 * smoothstep((B - y_u) / max(0.05 * V, 0.7)))
    tooth = np.abs(((A - centre) / (TOOTH_WIDTH * W) + 0.5) % 1.0 - 0.5) * TOOTH_WIDTH * W   # px from a tooth gap
    shade *= 1.0 - 0.18 * np.exp(-(tooth / max(0.008 * W, 0.35)) ** 2) * np.clip(W / 60.0, 0.0, 1.0)
    shade *= 1.0 - 0.2 * smoothstep((B - teeth_edge + 0.04 * V) / max(0.04 * V, 0.6))   # the biting edge
    colour = colour + (palette.teeth * shade[..., None] - colour) * upper_teeth[..., None]

    patch = region[sy, sx].astype(np.float32)
    region[sy, sx] = np.clip(patch + (colour - patch) * alpha[..., None] + 0.5, 0, 255).astype(np.uint8)
