"""A face rig built on one image's own face mesh: jaw, lips, inner mouth and eyelids move, at the image's resolution.

Why a rig on the mesh: the lips of *this* face must part where they are, the chin must drop with the jaw, and the
upper teeth must stay with the skull. From the 478-point mesh the rig builds, once per image, thin-plate-spline
basis fields for a few mouth patterns (jaw drop, upper-lip raise, spread, round, lower lip tucked to the teeth,
lips brought together). A frame's deformation is a weighted sum of those fields, so one frame costs a handful of
array sums and remaps, at 128×96 (the base) as at 1080p (the motion transfer).

The lips tear apart: above the moved lip line the upper field applies, below it the lower one. Between the moved
inner-lip contours the mouth interior is painted (`inner_mouth`). Eyelids close by a vertical warp in each eye's
frame: the lid skin stretches down over the eye, the lash line with it.

Units: mouth motion is measured in mouth widths (W, corner to corner) so it means the same on any face at any
resolution; `b` is the face's downward axis (perpendicular to the eye line), `a` its rightward axis. Sideways
motion is scaled by the mouth's width as the picture shows it, up-and-down motion by its true width (the mesh's
3-D corners): on a face turned away the mouth looks narrow, but its jaw drops as far as a frontal one's.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from modules.classic import mesh_regions as R
from modules.classic.inner_mouth import MouthPalette, paint_inner_mouth, palette_from_face, smoothstep
from modules.classic.tps import tps_basis_fields

PATTERNS = ("close", "jaw", "upper", "spread", "round", "tuck")
UPPER_SHARE_OF_CLOSING = 0.4       # a parted rest mouth closes by the upper lip coming down this share
LASH_WIDTH = 0.1                   # shut eye: lash line thickness (eye heights) …
LASH_DARK = 0.6                    # … and darkness
LID_TEXTURE = 1.0                  # the shut lid keeps this much of its skin's fine texture (not a flat patch) …
LID_SHADE = 0.12                   # … and darkens this much toward its margin
PRESS = 0.025                      # closed lips press together by this (mouth widths): no teeth peek through
CHIN_FOLLOW = 0.9                  # the chin drops this share of the lower lip's drop
NECK_W = 0.3                       # below the chin the jaw's pull fades within this (mouth widths): the neck stays
FIELD_SAMPLES_PER_W = 28           # displacement fields are computed on a grid this fine per mouth width


@dataclass(frozen=True)
class MouthPose:
    """Per-frame rig controls, each (B,) float32. Lip motion in mouth widths; 0 everywhere = lips closed."""

    jaw: np.ndarray       # lower lip (and chin) drop, W
    upper: np.ndarray     # upper lip raise, W
    spread: np.ndarray    # corners out, W (each side)
    round: np.ndarray     # corners in + lips pushed out, W
    tuck: np.ndarray      # lower lip raised toward the upper teeth (f, v), W
    blink: np.ndarray     # eyelid closure 0..1

    def __len__(self) -> int:
        return len(self.jaw)


def face_axes(mesh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(u, v): the face's rightward axis (along the eye line) and its downward axis, unit vectors in the picture."""
    points = np.asarray(mesh, np.float64)[:, :2]
    u = points[list(R.EYE_CENTRES[1])].mean(0) - points[list(R.EYE_CENTRES[0])].mean(0)
    u = u / max(np.linalg.norm(u), 1e-6)
    return u, np.array([-u[1], u[0]])


def vertical_unit(landmarks: np.ndarray, mouth_width: float) -> float:
    """The mouth's true width (px), from the mesh's 3-D corners: the unit of up-and-down mouth motion. A face
    turned away shows a narrow mouth, yet its jaw drops as far; capped by the nose-to-chin length (which turning
    does not shorten) so a poor depth estimate cannot blow it up."""
    landmarks = np.asarray(landmarks, np.float64)
    if landmarks.shape[1] < 3:
        return mouth_width
    true_width = float(np.linalg.norm(landmarks[R.OUTER_CORNERS[1]] - landmarks[R.OUTER_CORNERS[0]]))
    nose_to_chin = float(np.linalg.norm(landmarks[152, :2] - landmarks[168, :2]))
    return float(max(mouth_width, min(true_width, 0.75 * nose_to_chin)))


def across_mouth(landmarks: np.ndarray) -> np.ndarray:
    """(N,) where each point sits across the mouth, −1 (one corner) … 1 (the other), measured along the corners'
    3-D axis: a turned face's lips crowd together in the picture, but their middle is still the middle."""
    landmarks = np.asarray(landmarks, np.float64)
    ends = landmarks[list(R.OUTER_CORNERS)]
    axis = ends[1] - ends[0]
    return np.clip((landmarks - ends.mean(0)) @ axis / max(float(axis @ axis) / 2.0, 1e-9), -1.0, 1.0)


def jaw_follow(landmarks: np.ndarray, down: np.ndarray) -> np.ndarray:
    """(N,) how far each point below the nose moves per unit of lower-lip drop when the jaw opens: from nothing at
    the nose tip's level (toward the hinge) to CHIN_FOLLOW at the chin, a little less toward the sides. `down`:
    the face's downward axis in the picture."""
    landmarks = np.asarray(landmarks, np.float64)
    b = landmarks[:, :2] @ np.asarray(down, np.float64)
    hinge_b, chin_b = float(b[1]), float(b[152])       # nose tip level: the jaw's motion fades toward the ears
    t = (b - hinge_b) / max(chin_b - hinge_b, 1e-6)
    return CHIN_FOLLOW * smoothstep(t) * (1.0 - 0.25 * across_mouth(landmarks) ** 2)


@dataclass
class _Eye:
    box: tuple[int, int, int, int]      # y0, y1, x0, x1 in the image
    b: np.ndarray                       # (h, w) eye-frame coordinate (down the face) of the box pixels
    top: np.ndarray                     # (h, w) upper-lid margin b at each pixel's a
    bottom: np.ndarray
    crease: np.ndarray
    arc: np.ndarray                     # (h, w) 0..1 closure profile across the eye
    gx: np.ndarray                      # (h, w) image coordinates of the box pixels
    gy: np.ndarray
    lid_rgb: np.ndarray                 # (w, 3)-broadcastable colour of the closed lid's skin


class FaceRig:
    """Prepared once per image (uint8 RGB (H, W, 3)) and its mesh: (478, 3) landmarks (x, y in the image's
    pixels, z depth in the same scale), or (478, 2) points when the depth is unknown (treated as frontal)."""

    def __init__(self, image: np.ndarray, mesh: np.ndarray) -> None:
        self.image = np.ascontiguousarray(image)
        landmarks = np.asarray(mesh, np.float64)
        self.landmarks = landmarks
        self.mesh = landmarks[:, :2]
        m = self.mesh
        self.u, self.v = face_axes(m)
        self.mouth_width = float(np.linalg.norm(m[R.OUTER_CORNERS[1]] - m[R.OUTER_CORNERS[0]]))
        self.vertical_unit = vertical_unit(landmarks, self.mouth_width)
        self.origin = 0.5 * (m[13] + m[14])
        self._prepare_mouth()
        self.eyes = [self._prepare_eye(i) for i in (0, 1)]
        self.palette: MouthPalette = palette_from_face(self.image, m)

    # ---------- coordinates ----------
    def to_face(self, pts: np.ndarray) -> np.ndarray:
        """Image (x, y) → face-local (a, b) relative to the mouth centre."""
        d = np.asarray(pts, np.float64) - self.origin
        return np.stack([d @ self.u, d @ self.v], axis=-1)

    def _vec(self, da: np.ndarray | float, db: np.ndarray | float) -> np.ndarray:
        """Face-local displacement (da, db) → image displacement."""
        return np.multiply.outer(np.asarray(da, np.float64), self.u) + np.multiply.outer(np.asarray(db, np.float64), self.v)

    # ---------- preparation ----------
    def _patterns(self) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """Control points of both lip sides and each pattern's displacement of them (image px per unit control)."""
        m, V = self.mesh, self.vertical_unit
        face = self.to_face(m)

        across = across_mouth(self.landmarks)
        follow = jaw_follow(self.landmarks, self.v)

        def s_of(i: int) -> float:
            return float(across[i])

        def lens(i: int) -> float:
            return float(max(0.0, 1.0 - s_of(i) ** 2) ** 0.6)

        def lens_outer(i: int) -> float:
            return 0.3 + 0.7 * float(max(0.0, 1.0 - s_of(i) ** 2))

        def jaw_weight(i: int) -> float:
            return float(follow[i])

        # closing a parted rest mouth: inner lips meet at UPPER_SHARE_OF_CLOSING of the gap, outer lips follow
        gap = {up: face[lo, 1] - face[up, 1] + PRESS * V for up, lo in zip(R.UPPER_INNER, R.LOWER_INNER)}
        mean_gap = float(np.mean([max(g, 0.0) for g in gap.values()]))

        upper_ids = list(dict.fromkeys(R.UPPER_OUTER + R.UPPER_INNER))
        lower_ids = list(dict.fromkeys(R.LOWER_OUTER + R.LOWER_INNER))
        shared = list(dict.fromkeys(R.JAW + R.CHIN))
        shared = [i for i in shared if i not in upper_ids and i not in lower_ids]
        skull = [i for i in R.SKULL if i not in shared]

        def pattern(i: int, side: str) -> np.ndarray:
            """(len(PATTERNS), 2) face-local displacement of landmark i on `side` per unit of each control."""
            s = s_of(i)
            corner = i in R.CORNERS
            inner = i in R.UPPER_INNER or i in R.LOWER_INNER
            out = np.zeros((len(PATTERNS), 2))
            if i in skull:
                return out
            if corner:
                out[1] = (-0.05 * np.sign(s), 0.28)                       # jaw: corners drop a little, come in
                out[3] = (np.sign(s), -0.22)                              # spread: out and a bit up
                out[4] = (-np.sign(s) * (1.0 if inner else 0.85), 0.0)    # round: in
                return out
            if side == "upper" and (i in R.UPPER_OUTER or i in R.UPPER_INNER):
                k = R.UPPER_INNER.index(i) if inner else R.UPPER_OUTER.index(i)
                closing = UPPER_SHARE_OF_CLOSING * max(gap[R.UPPER_INNER[k]], 0.0) if inner else \
                    UPPER_SHARE_OF_CLOSING * mean_gap * lens_outer(i)
                out[0] = (0.0, closing / V)
                out[2] = (0.0, -(lens(i) if inner else 0.75 * lens_outer(i)))
                out[3] = (0.7 * s, 0.12 * lens(i))
                out[4] = (-(1.05 if inner else 0.8) * s, 0.0 if inner else -0.3 * lens(i))
                return out
            if side == "lower" and (i in R.LOWER_OUTER or i in R.LOWER_INNER):
                k = R.LOWER_INNER.index(i) if inner else R.LOWER_OUTER.index(i)
                closing = (1 - UPPER_SHARE_OF_CLOSING) * max(gap[R.UPPER_INNER[k]], 0.0) if inner else \
                    (1 - UPPER_SHARE_OF_CLOSING) * mean_gap * lens_outer(i)
                out[0] = (0.0, -closing / V)
                out[1] = (-0.05 * s, lens(i) if inner else 0.3 + 0.7 * lens_outer(i))
                out[3] = (0.7 * s, -0.12 * lens(i))
                out[4] = (-(1.05 if inner else 0.8) * s, 0.0 if inner else 0.3 * lens(i))
                out[5] = (0.0, -(lens(i) if inner else 0.55 * lens_outer(i)))
                return out
            # jaw and chin: follow the jaw drop (and the closing of a parted rest mouth)
            w = jaw_weight(i)
            out[0] = (0.0, -0.8 * (1 - UPPER_SHARE_OF_CLOSING) * mean_gap / V * w)
            out[1] = (-0.04 * s * w, w)
            return out

        sets = []
        for side, ids in (("upper", upper_ids), ("lower", lower_ids)):
            ids_all = skull + shared + ids
            disp = np.stack([pattern(i, side) for i in ids_all])          # (N, K, 2) face-local, W units
            sets.append((np.array(ids_all), disp))
        return sets[0], sets[1]

    def _prepare_mouth(self) -> None:
        m, W, V = self.mesh, self.mouth_width, self.vertical_unit
        h, w = self.image.shape[:2]
        face = self.to_face(m)
        # ROI: cheek to cheek, nose to below the chin, with room for the jaw to drop
        jaw = m[list(R.JAW)]
        x0, x1 = jaw[:, 0].min() - 0.12 * W, jaw[:, 0].max() + 0.12 * W
        y0 = m[[1, 2, 98, 327], 1].min() - 0.1 * V
        y1 = jaw[:, 1].max() + NECK_W * V
        x0, y0 = int(max(0, np.floor(x0))), int(max(0, np.floor(y0)))
        x1, y1 = int(min(w, np.ceil(x1))), int(min(h, np.ceil(y1)))
        self.roi = (y0, y1, x0, x1)
        step = max(1.0, V / FIELD_SAMPLES_PER_W)
        gh, gw = max(2, int(np.ceil((y1 - y0) / step)) + 1), max(2, int(np.ceil((x1 - x0) / step)) + 1)
        self._grid_shape = (gh, gw)
        gy = np.linspace(y0, y1 - 1, gh)
        gx = np.linspace(x0, x1 - 1, gw)
        self._coarse = np.stack(np.meshgrid(gx, gy), axis=-1).astype(np.float32)       # (gh, gw, 2) image xy
        self._coarse_scale = ((gw - 1) / max(x1 - 1 - x0, 1), (gh - 1) / max(y1 - 1 - y0, 1))
        border = self._border_points((x0, y0, x1, y1), V)
        (up_ids, up_disp), (lo_ids, lo_disp) = self._patterns()
        self._fields: list[np.ndarray] = []
        self._ctrl: list[tuple[np.ndarray, np.ndarray]] = []
        for ids, disp in ((up_ids, up_disp), (lo_ids, lo_disp)):
            centres = np.vstack([m[ids], border])
            moved = self._vec(disp[..., 0] * W, disp[..., 1] * V)                       # (N, K, 2) image px
            d_img = np.concatenate([moved, np.zeros((len(border), len(PATTERNS), 2))])
            fields = tps_basis_fields(centres, d_img.transpose(1, 0, 2), self._coarse.reshape(-1, 2))
            self._fields.append(fields.reshape(len(PATTERNS), gh * gw * 2).astype(np.float32))
            ctrl = dict(zip(ids.tolist(), moved))
            inner = R.UPPER_INNER if not self._ctrl else R.LOWER_INNER
            self._ctrl.append((m[list(inner)], np.stack([ctrl[i] for i in inner])))     # (11, 2), (11, K, 2)
        # full-resolution face-local coordinates of the ROI
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        self._grid_x, self._grid_y = xx, yy
        fa = self.to_face(np.stack([xx, yy], -1))
        self._a = fa[..., 0].astype(np.float32)
        self._b = fa[..., 1].astype(np.float32)
        self._rest_line_a = face[list(R.UPPER_INNER), 0]
        self._rest_line_b = 0.5 * (face[list(R.UPPER_INNER), 1] + face[list(R.LOWER_INNER), 1])
        self._prepare_side_weights()

    @staticmethod
    def _border_points(box: tuple[int, int, int, int], W: float) -> np.ndarray:
        x0, y0, x1, y1 = box
        n_x = max(3, int((x1 - x0) / (0.25 * W)) + 1)
        n_y = max(3, int((y1 - y0) / (0.25 * W)) + 1)
        xs = np.linspace(x0, x1 - 1, n_x)
        ys = np.linspace(y0, y1 - 1, n_y)
        top = np.stack([xs, np.full_like(xs, y0)], 1)
        bottom = np.stack([xs, np.full_like(xs, y1 - 1)], 1)
        left = np.stack([np.full_like(ys, x0), ys], 1)[1:-1]
        right = np.stack([np.full_like(ys, x1 - 1), ys], 1)[1:-1]
        return np.vstack([top, bottom, left, right])

    def _prepare_eye(self, index: int) -> _Eye:
        m = self.mesh
        upper = self.to_face(m[list(R.EYE_UPPER[index])])
        lower = self.to_face(m[list(R.EYE_LOWER[index])])
        c_face = 0.5 * (upper[0] + upper[-1])
        centre = self.origin + c_face[0] * self.u + c_face[1] * self.v
        ua, ub = upper[:, 0] - c_face[0], upper[:, 1] - c_face[1]
        la, lb = lower[:, 0] - c_face[0], lower[:, 1] - c_face[1]
        half = 0.5 * abs(ua[-1] - ua[0])
        height = float(max((np.interp(np.linspace(-half, half, 9), np.sort(la), lb[np.argsort(la)])
                            - np.interp(np.linspace(-half, half, 9), np.sort(ua), ub[np.argsort(ua)])).max(), 1.0))
        r = half + 0.25 * height
        corners = np.array([[-r, -2.2 * height], [r, -2.2 * height], [-r, 1.2 * height], [r, 1.2 * height]])
        img = centre + corners[:, :1] * self.u + corners[:, 1:] * self.v
        h, w = self.image.shape[:2]
        x0, y0 = np.floor(img.min(0)).astype(int) - 1
        x1, y1 = np.ceil(img.max(0)).astype(int) + 2
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        gy, gx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        d = np.stack([gx - centre[0], gy - centre[1]], -1)
        a = (d @ self.u).astype(np.float32)
        b = (d @ self.v).astype(np.float32)
        top = np.interp(a, np.sort(ua), ub[np.argsort(ua)]).astype(np.float32)
        bottom = np.interp(a, np.sort(la), lb[np.argsort(la)]).astype(np.float32)
        bottom = np.maximum(bottom, top + 0.3)
        crease = (top - 1.1 * height).astype(np.float32)
        arc = np.sqrt(np.clip(1.0 - (a / max(half, 1e-3)) ** 2, 0.0, 1.0)).astype(np.float32)
        # skin colour of a shut lid: the brighter half of the skin just below the eye and above the crease
        band = (((b > bottom + 0.4 * height) & (b < bottom + 1.2 * height))
                | ((b > crease - 0.6 * height) & (b < crease))) & (np.abs(a) < half)
        skin = self.image[y0:y1, x0:x1][band].astype(np.float32)
        if len(skin) >= 4:
            luma = skin @ np.array([0.299, 0.587, 0.114], np.float32)
            skin = skin[luma >= np.median(luma)]
        lid_rgb = skin.mean(0) if len(skin) else self.image[y0:y1, x0:x1].reshape(-1, 3).mean(0)
        lid_rgb = np.asarray(lid_rgb, np.float32)
        return _Eye((y0, y1, x0, x1), b, top, bottom, crease, arc, gx, gy, lid_rgb)

    # ---------- per frame ----------
    def controls_to_coefs(self, pose: MouthPose, i: int) -> np.ndarray:
        return np.array([1.0, pose.jaw[i], pose.upper[i], pose.spread[i], pose.round[i], pose.tuck[i]], np.float32)

    def moved_inner_lips(self, coefs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Face-local (a, b) of the upper and lower inner-lip contours after the frame's motion, (11, 2) each."""
        out = []
        for rest, ctrl in self._ctrl:
            out.append(self.to_face(rest + np.einsum("k,nkd->nd", coefs.astype(np.float64), ctrl)))
        return out[0], out[1]

    def _backward(self, side: int, coefs: np.ndarray) -> np.ndarray:
        """Backward displacement (full ROI resolution, (h, w, 2)) of one side's field: dest − source."""
        field = (coefs @ self._fields[side]).reshape(*self._grid_shape, 2)          # forward, coarse grid
        sx, sy = self._coarse_scale
        y0, y1, x0, x1 = self.roi
        # invert by fixed point on the coarse grid: src = x − D(x − D(x))
        probe = self._coarse - field
        px = ((probe[..., 0] - x0) * sx).astype(np.float32)
        py = ((probe[..., 1] - y0) * sy).astype(np.float32)
        back = cv2.remap(field, px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if back.shape[:2] != (y1 - y0, x1 - x0):
            back = cv2.resize(back, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
        return back

    def _side_weight(self, a: np.ndarray, b: np.ndarray, line_a: np.ndarray, mid_b: np.ndarray) -> np.ndarray:
        """0 above the lip line (upper field), 1 below (lower field); beyond the corners over a wider band."""
        mid = np.interp(a, line_a, mid_b).astype(np.float32)
        half = 0.5 * float(line_a[-1] - line_a[0])
        centre_a = 0.5 * float(line_a[-1] + line_a[0])
        outside = np.clip((np.abs(a - centre_a) - half) / (0.35 * self.mouth_width), 0.0, 1.0)
        band = 0.6 + outside * (0.25 * self.vertical_unit)
        return smoothstep((b - mid) / band + 0.5).astype(np.float32)

    def _prepare_side_weights(self) -> None:
        """The side weight at rest over the ROI, and the box around the lips where it changes with the pose."""
        up, lo = self.moved_inner_lips(np.array([1.0, 0, 0, 0, 0, 0], np.float32))
        line_a, mid_b = self._mid_line(up, lo)
        self._w_rest = self._side_weight(self._a, self._b, line_a, mid_b)
        W, V = self.mouth_width, self.vertical_unit
        lips = self.mesh[list(R.UPPER_OUTER + R.LOWER_OUTER)]
        y0, y1, x0, x1 = self.roi
        bx0 = int(max(x0, np.floor(lips[:, 0].min() - 0.5 * W))) - x0
        bx1 = int(min(x1, np.ceil(lips[:, 0].max() + 0.5 * W))) - x0
        by0 = int(max(y0, np.floor(lips[:, 1].min() - 0.2 * V))) - y0
        by1 = int(min(y1, np.ceil(lips[:, 1].max() + 0.5 * V))) - y0
        self._lip_box = (slice(by0, by1), slice(bx0, bx1))

    @staticmethod
    def _mid_line(up: np.ndarray, lo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(up[:, 0])
        line_a = up[order, 0]
        lo_order = np.argsort(lo[:, 0])
        mid_b = 0.5 * (up[order, 1] + np.interp(line_a, lo[lo_order, 0], lo[lo_order, 1]))
        return line_a, mid_b

    def source_map(self, coefs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(map_x, map_y, moved upper inner lip, moved lower inner lip): where each pixel of the ROI samples the
        image from (cv2.remap maps), and the inner-lip contours (face-local) that bound the painted mouth."""
        up, lo = self.moved_inner_lips(coefs)
        back_up = self._backward(0, coefs)
        back_lo = self._backward(1, coefs)
        w_low = self._w_rest.copy()
        sy, sx = self._lip_box
        line_a, mid_b = self._mid_line(up, lo)
        w_low[sy, sx] = self._side_weight(self._a[sy, sx], self._b[sy, sx], line_a, mid_b)
        back = cv2.blendLinear(back_up, back_lo, 1.0 - w_low, w_low)
        map_x = self._grid_x - back[..., 0]
        map_y = self._grid_y - back[..., 1]
        return map_x, map_y, up, lo

    def render_mouth(self, frame: np.ndarray, coefs: np.ndarray, source: np.ndarray | None = None) -> None:
        """Deform the lower face of `frame` in place (sampling from `source`, default the rig's image)."""
        src_img = self.image if source is None else source
        y0, y1, x0, x1 = self.roi
        sy, sx = self._lip_box
        map_x, map_y, up, lo = self.source_map(coefs)
        region = cv2.remap(src_img, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        paint_inner_mouth(region[sy, sx], self._a[sy, sx], self._b[sy, sx], up, lo, self._rest_line_a,
                          self._rest_line_b, float(coefs[4]), self.mouth_width, self.palette,
                          self.vertical_unit)
        frame[y0:y1, x0:x1] = region

    def render_eyes(self, frame: np.ndarray, closure: float, source: np.ndarray | None = None) -> None:
        """Close both eyelids by `closure` (0 open … 1 shut) in place."""
        if closure <= 0.01:
            return
        src_img = self.image if source is None else source
        for eye in self.eyes:
            y0, y1, x0, x1 = eye.box
            c = closure * eye.arc
            floor = eye.bottom + 0.45 * (eye.bottom - eye.top)      # the lower lid's lashes are covered too
            lid = eye.top + c * 1.2 * (eye.bottom - eye.top)
            b = eye.b
            squash = floor - (floor - b) * (floor - eye.top) / np.maximum(floor - lid, 0.2)
            stretch = eye.crease + (b - eye.crease) * (eye.top - eye.crease) / np.maximum(lid - eye.crease, 1e-3)
            src_b = np.where((b >= lid) & (b <= floor), squash, np.where((b >= eye.crease) & (b < lid), stretch, b))
            shift = (src_b - b)[..., None]
            mx = (eye.gx + shift[..., 0] * self.v[0]).astype(np.float32)
            my = (eye.gy + shift[..., 0] * self.v[1]).astype(np.float32)
            patch = cv2.remap(src_img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
            # the lid over the eye: smooth, light skin (a shut lid is convex and catches the light), shaded a little
            # toward its margin, where the lashes make a dark line
            height = np.maximum(eye.bottom - eye.top, 1.0)
            hpx = float(height.mean())
            smooth = cv2.GaussianBlur(patch, (0, 0), max(0.35 * hpx, 0.6))
            depth = np.clip((b - eye.top) / np.maximum(lid - eye.top, 1e-3), 0.0, 1.0)
            skin = eye.lid_rgb * (1.0 - LID_SHADE * depth ** 2)[..., None]
            # the stretched lid skin's own fine texture (wrinkles, pores) carried onto the lid: not a flat patch
            detail = np.clip((patch - smooth) / np.maximum(smooth, 8.0), -0.35, 0.35)
            lid_rgb = (0.75 * skin + 0.25 * smooth) * (1.0 + LID_TEXTURE * detail)
            cover = (smoothstep((b - eye.top + 0.3 * height) / (0.4 * height))
                     * smoothstep((lid - b) / np.maximum(0.12 * height, 0.5)) * np.clip(1.4 * c, 0.0, 1.0))
            cover = (0.95 * cover)[..., None]
            patch = patch * (1.0 - cover) + lid_rgb * cover
            lash = np.exp(-((b - lid) / np.maximum(LASH_WIDTH * height, 0.45)) ** 2) * (LASH_DARK * c)
            patch *= 1.0 - lash[..., None]
            frame[y0:y1, x0:x1] = np.clip(patch + 0.5, 0, 255).astype(np.uint8)

    def render(self, pose: MouthPose, base: np.ndarray | None = None) -> np.ndarray:
        """Pose (B,) → uint8 (B, H, W, 3) copies of the image (or of `base`) with mouth and eyes moved."""
        src = self.image if base is None else base
        frames = np.repeat(src[None], len(pose), axis=0)
        for i in range(len(pose)):
            self.render_mouth(frames[i], self.controls_to_coefs(pose, i), src)
            self.render_eyes(frames[i], float(pose.blink[i]), src)
        return frames
