"""Built-in motion transfer: the driving face's mouth, eyelids and head motion, re-enacted on the portrait's own mesh.

Optical flow alone cannot carry new content (teeth appear where there were lips), and a 128×96 base upscaled onto
a large portrait is blurry. So the motion is *measured* on the driving frames and *re-rendered* on the portrait at
its own resolution:
  1. the driving face's mesh is found once, on its first frame (motion is relative to it, as in FOM);
  2. per frame, a few mesh points are tracked from the first frame (pyramidal Lucas–Kanade): skull points give
     the head's similarity motion; the chin's outline (head motion removed) gives the jaw drop — the lips
     themselves are poor to track, as teeth and a dark cavity appear right beside them when the mouth opens, but
     the chin keeps its look — and the mouth corners its width, in mouth widths; the brightness of each eye
     opening gives the eyelid closure;
  (a base that left its `FaceTrack` — the built-in one — needs none of 2: its exact numbers are re-enacted)
  3. the portrait's `FaceRig` (its own mesh) renders those controls — lips part, the chin drops, the inner mouth is
     painted between the portrait's own inner-lip contours — and the head motion moves the face region, feathered,
     so the background stays bit-for-bit still and a full-resolution result has no seam.
It works on any base video (the built-in one or SDA's) and costs a few milliseconds per frame even at 1080p.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from deepstory_kernel.contracts import FaceTrack
from deepstory_kernel.errors import InputError
from modules.classic import mesh_regions as R
from modules.classic.memo import image_key, remembered
from modules.classic.rig import FaceRig, face_axes, jaw_follow, vertical_unit
from modules.face import canonical
from modules.face.align import FaceGeometry, analyze_portrait, clip_matrix, warp_similarity
from modules.face.image import to_rgb_uint8

CLIP_SIZE = 256
FULL_FRAME_BATCH_BYTES = 96 << 20   # full-resolution batches are split to stay below this
SKULL_TRACK = (33, 133, 263, 362, 168, 6, 197, 1, 98, 327, 105, 334, 50, 280, 116, 345, 10, 151)
CORNER_TRACK = (61, 291)
CHIN_TRACK = (152, 148, 377, 176, 400)   # the chin's outline: it drops with the jaw and keeps its look
UPPER_PER_JAW = 0.17                # upper-lip raise per unit of jaw drop in natural speech
LK_PARAMS = {"winSize": (13, 13), "maxLevel": 2,
             "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)}


def _mesh_points(image: np.ndarray) -> np.ndarray | None:
    """The image's face mesh (478, 3: x, y, depth), found once per image and remembered (the same picture is asked
    about by the driving reference, the portrait's rig and the hand-placed-face check)."""
    from modules.face.mesh import detect_mesh

    def find() -> np.ndarray | None:
        mesh = detect_mesh(image, thorough=max(image.shape[:2]) > 400)
        return None if mesh is None else np.asarray(mesh.landmarks, np.float64)

    found: np.ndarray | None = remembered(image_key("mesh", image), find)
    return found


@dataclass
class _Driving:
    """The first driving frame's mesh and what the per-frame measurements are relative to."""

    gray0: np.ndarray
    points0: np.ndarray             # (P, 1, 2) float32 tracked points in the first frame
    n_skull: int
    u: np.ndarray                   # face axes of the driving face
    v: np.ndarray
    width: float                    # driving mouth width (px)
    rest_gap: float                 # inner-lip gap of the first frame, mouth widths (≥ 0)
    pivot: np.ndarray               # (2,) between the eyes: head motion is expressed about it
    eyes: list[tuple[np.ndarray, float, float]]   # per eye: opening pixels (N, 2), open brightness, shut brightness
    chin_follow: np.ndarray         # (len(CHIN_TRACK),) how far each chin point drops per unit of jaw drop
    eyes_before: tuple[float, float] = (0.0, 0.0)   # raw eyelid readings of the two frames before

    @classmethod
    def from_frame(cls, frame: np.ndarray) -> _Driving:
        landmarks = _mesh_points(frame)
        if landmarks is None:
            raise InputError("No face found in the first frame of the driving video; the base must show a face.")
        mesh = landmarks[:, :2]
        u, v = face_axes(mesh)
        width = vertical_unit(landmarks, float(np.linalg.norm(mesh[291] - mesh[61])))   # as the rig's lip motion
        gap = float(((mesh[14] - mesh[13]) @ v) / max(width, 1e-6))
        ids = SKULL_TRACK + CORNER_TRACK + CHIN_TRACK
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        eyes = [_eye_probe(gray, mesh, i) for i in (0, 1)]
        return cls(gray, mesh[list(ids)].astype(np.float32)[:, None, :], len(SKULL_TRACK), u, v, width,
                   max(gap, 0.0), mesh[168].copy(), eyes, jaw_follow(landmarks, v)[list(CHIN_TRACK)])

    def measure(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """(2×3 head similarity first → this frame, rig coefficients (K,), eyelid closure) of one driving frame."""
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        pts, status, _ = cv2.calcOpticalFlowPyrLK(self.gray0, gray, self.points0, None,  # type: ignore[call-overload]
                                                  **LK_PARAMS)
        p0, p1 = self.points0[:, 0].astype(np.float64), pts[:, 0].astype(np.float64)
        ok = status[:, 0].astype(bool)
        k = self.n_skull
        skull_ok = ok[:k]
        if skull_ok.sum() >= 3:
            head = _similarity(p0[:k][skull_ok], p1[:k][skull_ok])
        else:
            head = np.array([[1.0, 0, 0], [0, 1.0, 0]])
        # the mouth corners with the head motion taken out, in the driving face's axes, in mouth widths
        inv = cv2.invertAffineTransform(head)
        local = p1 @ inv[:, :2].T + inv[:, 2]
        d = local - p0
        d[~ok] = 0.0
        da = (d @ self.u) / self.width
        widen = 0.5 * float(da[k + 1] - da[k])
        # the jaw: each chin point's drop over how far that point drops per unit of lower-lip drop
        chin = slice(k + len(CORNER_TRACK), None)
        drops = ((d[chin] @ self.v) / self.width / np.maximum(self.chin_follow, 0.2))[ok[chin]]
        lower = float(np.median(drops)) if len(drops) else 0.0
        # the first frame may already be parted: its lips were that far from closed
        jaw = max(lower + (1 - 0.4) * self.rest_gap, 0.0)
        # the upper lip moves little, and follows the jaw
        upper = float(np.clip(UPPER_PER_JAW * jaw, 0.0, 0.12))
        coefs = np.array([1.0, jaw, upper, max(widen, 0.0), max(-widen, 0.0), 0.0], np.float32)
        # both eyes must agree (a blink closes both; glare on one lens of a pair of glasses does not), and a
        # closure must last two frames (a blink rests shut for ≥ 2 frames; a one-frame reading is a misreading):
        # the eyes show the previous frame's reading when this frame or the one before it confirms it
        raw = min(_eye_closure(gray, inv, probe) for probe in self.eyes)
        before2, before1 = self.eyes_before
        self.eyes_before = (before1, raw)
        return head, coefs, min(before1, max(before2, raw))


def _compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """2×3 affine of `outer` after `inner`."""
    linear = outer[:, :2] @ inner[:, :2]
    return np.hstack([linear, (outer[:, :2] @ inner[:, 2] + outer[:, 2])[:, None]]).astype(np.float64)


def _similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    m, _ = cv2.estimateAffinePartial2D(src.astype(np.float32), dst.astype(np.float32), method=cv2.LMEDS)
    return m if m is not None else np.array([[1.0, 0, 0], [0, 1.0, 0]])


def _eye_probe(gray: np.ndarray, mesh: np.ndarray, index: int) -> tuple[np.ndarray, float, float]:
    """The eye opening (as a polygon mask) and its brightness open; a shut lid is about as bright as the skin above."""
    contour = np.vstack([mesh[list(R.EYE_UPPER[index])], mesh[list(R.EYE_LOWER[index])][::-1]])
    mask = np.zeros(gray.shape, np.uint8)
    cv2.fillPoly(mask, [np.round(contour * 4).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=2)
    ys, xs = np.nonzero(mask)
    pixels = np.stack([xs, ys], 1).astype(np.float64)
    open_level = float(gray[ys, xs].mean()) if len(ys) else 0.0
    top = mesh[list(R.EYE_UPPER[index])]
    height = max(float(np.ptp(contour[:, 1])), 1.0)
    lid = top - np.array([0.0, 1.2 * height])
    ly = np.clip(np.round(lid[:, 1]).astype(int), 0, gray.shape[0] - 1)
    lx = np.clip(np.round(lid[:, 0]).astype(int), 0, gray.shape[1] - 1)
    shut_level = float(gray[ly, lx].mean())
    return pixels, open_level, shut_level


def _eye_closure(gray: np.ndarray, inv_head: np.ndarray, probe: tuple[np.ndarray, float, float]) -> float:
    pixels, open_level, shut_level = probe
    if abs(shut_level - open_level) < 6.0 or not len(pixels):
        return 0.0
    head = cv2.invertAffineTransform(inv_head)
    moved = np.round(pixels @ head[:, :2].T + head[:, 2]).astype(int)      # the eye where the head moved it
    xs = np.clip(moved[:, 0], 0, gray.shape[1] - 1)
    ys = np.clip(moved[:, 1], 0, gray.shape[0] - 1)
    level = float(gray[ys, xs].mean())
    closure = (level - open_level) / (shut_level - open_level)
    return float(np.clip((closure - 0.1) / 0.35, 0.0, 1.0))   # a shut lid with its lash line is not all skin


@dataclass
class _Target:
    """The portrait (or its 256² clip) prepared for re-enactment: its rig and the face region head motion moves."""

    image: np.ndarray
    rig: FaceRig
    box: tuple[int, int, int, int]    # y0, y1, x0, x1 of the face region head motion moves
    mask: np.ndarray                  # (h, w) float32 feathered weight of the face region
    unmask: np.ndarray                # 1 − mask
    blocks: list[tuple[int, int, int, int]]   # per band of rows: (r0, r1, c0, c1), mask == 1 on [c0, c1)


def _face_region(image: np.ndarray, mesh: np.ndarray) -> tuple[tuple[int, int, int, int], np.ndarray]:
    """What head motion moves: the head (face, hair, the neck's top) rigidly, fading out over the shoulders and the
    background around it. Rigid well beyond the face outline, so the face and its surroundings keep their shapes
    and no edge of the moving region shows; the fade happens where a shift of a pixel or two is invisible."""
    h, w = image.shape[:2]
    oval = mesh[list(R.FACE_OVAL)]
    centre = oval.mean(0)
    size = float(max(np.ptp(oval[:, 0]), np.ptp(oval[:, 1])))
    rigid = centre + (oval - centre) * 1.7
    feather = 0.25 * size
    x0, y0 = np.floor(rigid.min(0) - 1.6 * feather).astype(int)
    x1, y1 = np.ceil(rigid.max(0) + 1.6 * feather).astype(int)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    step = max(1, int(feather / 8))                    # the mask is smooth: made small, then enlarged
    sw, sh = max(2, (x1 - x0) // step), max(2, (y1 - y0) // step)
    small = np.zeros((sh, sw), np.float32)
    pts = (rigid - (x0, y0)) * (sw / max(x1 - x0, 1), sh / max(y1 - y0, 1))
    cv2.fillPoly(small, [np.round(pts).astype(np.int32)], 1.0)
    small = cv2.GaussianBlur(small, (0, 0), feather / 2.5 * sw / max(x1 - x0, 1))
    small = np.clip((small - 0.02) / 0.5, 0.0, 1.0)    # rigid (1) inside the grown outline, fading outside it
    mask = cv2.resize(small, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    return (int(y0), int(y1), int(x0), int(x1)), np.ascontiguousarray(mask, np.float32)


def _rigid_blocks(mask: np.ndarray, rows: int = 24) -> list[tuple[int, int, int, int]]:
    """Bands of rows with the column span where the head mask is exactly 1 (copied, not blended)."""
    blocks = []
    for r0 in range(0, mask.shape[0], rows):
        r1 = min(mask.shape[0], r0 + rows)
        full = np.flatnonzero((mask[r0:r1] >= 1.0).all(axis=0))
        if full.size and full[-1] - full[0] + 1 == full.size:
            blocks.append((r0, r1, int(full[0]), int(full[-1]) + 1))
        else:
            blocks.append((r0, r1, 0, 0))
    return blocks


class BuiltinMotionTransfer:
    """`MotionTransfer` without weights: works on any base video (built-in or SDA's), far above real time on CPU.
    Given the base's `FaceTrack` (the built-in base leaves one), it re-enacts those exact numbers instead of
    measuring them from the driving pixels."""

    follows_tracks = True

    def __init__(self, head_motion: bool = True) -> None:
        self.head_motion = head_motion

    @staticmethod
    def geometry(portrait: np.ndarray) -> FaceGeometry:
        """Face geometry of the portrait, remembered (process-wide, a few portraits) for its next chunks."""
        geometry: FaceGeometry = remembered(image_key("geometry", portrait), lambda: analyze_portrait(portrait))
        return geometry

    def _target(self, rgb: np.ndarray, full_frame: bool, geometry: FaceGeometry | None,
                first: np.ndarray) -> _Target:
        if full_frame:
            image = rgb
            to_target = np.eye(3)
        else:
            geometry = geometry if geometry is not None else self.geometry(rgb)
            to_target = np.vstack([clip_matrix(geometry, CLIP_SIZE), [0, 0, 1]])
            image = warp_similarity(rgb, to_target[:2], (CLIP_SIZE, CLIP_SIZE))
        key = image_key("target", image)

        def make() -> tuple[FaceRig, np.ndarray]:
            mesh = _mesh_points(image)
            if mesh is None:
                if geometry is None:
                    raise InputError("No face found in the portrait; choose another photo or place the face by hand.")
                # a face placed by hand: the first driving frame's mesh, carried through the alignment
                from modules.face.align import aligned_matrix

                found = _mesh_points(first)
                if found is None:
                    raise InputError("No face found in the portrait or in the driving video; place the face by "
                                     "hand on a photo that shows one.")
                back = to_target @ np.vstack([cv2.invertAffineTransform(aligned_matrix(geometry)), [0, 0, 1]])
                mesh = found[:, :2] @ back[:2, :2].T + back[:2, 2]
            return FaceRig(image, mesh), mesh[:, :2]

        rig, mesh = remembered(key, make)
        box, mask = _face_region(image, mesh)
        return _Target(image, rig, box, mask, np.ascontiguousarray(1.0 - mask), _rigid_blocks(mask))

    def transfer(self, portrait: np.ndarray, driving: Iterable[np.ndarray], *, full_frame: bool = False,
                 geometry: FaceGeometry | None = None, track: FaceTrack | None = None) -> Iterator[np.ndarray]:
        """Yield uint8 batches: (B, 256, 256, 3) clips, or with `full_frame` (B', H, W, 3) full portraits.

        The frame count always equals the driving frame count; full-frame batches may be split smaller to bound
        memory. `track`: the driving frames' face track (used while it lasts; frames beyond it are measured).
        Raises InputError when the portrait has no findable face.
        """
        rgb = to_rgb_uint8(portrait)
        if geometry is not None and _mesh_points(rgb) is None:
            # a face placed by hand on a picture the face model cannot read: nothing to re-enact, the frame stays
            yield from self._still(rgb, full_frame, geometry, driving)
            return
        reference: _Driving | None = None
        target: _Target | None = None
        scale = 1.0
        frame_bytes = 1
        index = 0
        for batch in driving:
            batch = _as_batch(batch)
            out: np.ndarray | None = None
            filled = 0
            for frame in batch:
                frame = _as_aligned(frame)
                if reference is None:
                    reference = _Driving.from_frame(frame)
                    target = self._target(rgb, full_frame, geometry, frame)
                    scale = target.rig.vertical_unit / max(reference.width, 1e-6)
                    frame_bytes = target.image.nbytes
                assert target is not None
                if out is None:     # frames are rendered straight into the batch that is yielded
                    size = max(1, min(len(batch), FULL_FRAME_BATCH_BYTES // max(frame_bytes, 1)))
                    out = np.empty((size, *target.image.shape), np.uint8)
                self._render(target, reference, self._motion(reference, frame, track, index), scale, out[filled])
                filled += 1
                index += 1
                if filled == len(out):
                    yield out
                    out, filled = None, 0
            if out is not None and filled:
                yield out[:filled]

    @staticmethod
    def _still(rgb: np.ndarray, full_frame: bool, geometry: FaceGeometry, driving: Iterable[np.ndarray]
               ) -> Iterator[np.ndarray]:
        image = rgb if full_frame else warp_similarity(rgb, clip_matrix(geometry, CLIP_SIZE), (CLIP_SIZE, CLIP_SIZE))
        for batch in driving:
            yield np.repeat(image[None], len(_as_batch(batch)), axis=0)

    @staticmethod
    def _motion(ref: _Driving, frame: np.ndarray, track: FaceTrack | None, index: int
                ) -> tuple[np.ndarray, np.ndarray, float]:
        """(head similarity first → this frame, rig coefficients, eyelid closure): from the track, or measured."""
        if track is None or index >= len(track):
            return ref.measure(frame)
        head = _compose(track.head[index], cv2.invertAffineTransform(track.head[0]))
        coefs = np.concatenate([[1.0], track.mouth[index]]).astype(np.float32)
        return head, coefs, float(track.blink[index])

    def _render(self, t: _Target, ref: _Driving, motion: tuple[np.ndarray, np.ndarray, float], scale: float,
                out: np.ndarray) -> None:
        head, coefs, closure = motion
        out[...] = t.image
        t.rig.render_mouth(out, coefs)
        t.rig.render_eyes(out, closure)
        if self.head_motion:
            self._move_head(t, out, head, ref, scale)

    def _move_head(self, t: _Target, out: np.ndarray, head: np.ndarray, ref: _Driving, scale: float) -> None:
        """The driving head's similarity, re-expressed about the portrait's face, applied to the face region."""
        lin = head[:, :2]
        shift = lin @ ref.pivot + head[:, 2] - ref.pivot          # how far the point between the eyes moved
        angle = float(np.arctan2(lin[1, 0], lin[0, 0]))
        zoom = float(np.hypot(lin[0, 0], lin[1, 0]))
        # rotate the driving shift from the driving face's axes into the portrait face's axes and scale it
        d_local = np.array([shift @ ref.u, shift @ ref.v]) * scale
        d = d_local[0] * t.rig.u + d_local[1] * t.rig.v
        if abs(angle) < 1e-4 and abs(zoom - 1) < 1e-4 and float(np.hypot(*d)) < 0.05:
            return
        pivot = t.rig.mesh[168]                                    # between the portrait's eyes
        c, s = np.cos(angle) * zoom, np.sin(angle) * zoom
        fwd = np.array([[c, -s, 0.0], [s, c, 0.0]])
        fwd[:, 2] = pivot + d - fwd[:, :2] @ pivot
        y0, y1, x0, x1 = t.box
        fwd[:, 2] -= (x0, y0)                                       # output pixels of the face box only
        moved = cv2.warpAffine(out, fwd, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        region = out[y0:y1, x0:x1]
        # blend only where the mask fades; where it is 1 the moved pixels are copied
        for r0, r1, c0, c1 in t.blocks:
            for a, b in ((0, c0), (c1, region.shape[1])):
                if b > a:
                    region[r0:r1, a:b] = cv2.blendLinear(moved[r0:r1, a:b], np.ascontiguousarray(region[r0:r1, a:b]),
                                                         t.mask[r0:r1, a:b], t.unmask[r0:r1, a:b])
            if c1 > c0:
                region[r0:r1, c0:c1] = moved[r0:r1, c0:c1]


def _as_batch(batch: np.ndarray) -> np.ndarray:
    """(B, H, W, C) from a batch, a single colour frame (H, W, C), a grey batch (B, H, W) or a grey frame."""
    batch = np.asarray(batch)
    if batch.ndim == 2:
        return batch[None]
    if batch.ndim == 3 and batch.shape[2] in (3, 4) and batch.shape[:2] == canonical.ALIGNED_SHAPE:
        return batch[None]
    return batch


def _as_aligned(frame: np.ndarray) -> np.ndarray:
    """Driving frames are 128×96 RGB uint8; anything else (greyscale, another size) is brought there."""
    frame = to_rgb_uint8(frame)
    if frame.shape[:2] != canonical.ALIGNED_SHAPE:
        frame = cv2.resize(frame, (canonical.ALIGNED_WIDTH, canonical.ALIGNED_HEIGHT), interpolation=cv2.INTER_AREA)
    return frame
