"""Built-in motion transfer: the base video's dense motion, carried onto a portrait by a smooth warp.

For each driving frame (canonical 128×96 frame) the optical flow back to the chunk's FIRST driving frame is
measured (OpenCV DIS), smoothed and confined to the face by a soft mask, then mapped through the similarity
between the aligned frame and the output frame (which scales it by the relative face size) and applied to the
portrait with `cv2.remap`. Where the driving mouth opens, flow cannot explain the new pixels (teeth, cavity):
those are carried over from the driving frame, colour-matched and feathered. The mask is zero well inside the
output, so the background is left bit-for-bit untouched and a full-resolution paste-back has no seam.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from modules.face import canonical
from modules.face.align import FaceGeometry, aligned_matrix, analyze_portrait, clip_matrix, warp_similarity
from modules.face.image import to_rgb_uint8
from modules.face.mouth import locate_mouth

CLIP_SIZE = 256
FLOW_PRESETS = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
                "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}
FLOW_SMOOTH_SIGMA = 2.0           # aligned px: removes DIS noise on flat skin
FULL_FRAME_BATCH_BYTES = 96 << 20   # full-resolution batches are split to stay below this
_GEOMETRY_CACHE: OrderedDict[str, FaceGeometry] = OrderedDict()
_GEOMETRY_LOCK = threading.Lock()
EDGE_KERNEL = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))    # takes in the cavity's feathered rim
CLOSE_KERNEL = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))  # fills holes in the carried-over change mask


def _ellipse_mask(centre: tuple[float, float], axes: tuple[float, float], hard: float) -> np.ndarray:
    """Soft elliptical weight in the aligned frame: 1 inside `hard`·radius, smooth fall to 0 at the rim."""
    h, w = canonical.ALIGNED_SHAPE
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.sqrt(((xx - centre[0]) / axes[0]) ** 2 + ((yy - centre[1]) / axes[1]) ** 2)
    t = np.clip((1.0 - r) / (1.0 - hard), 0.0, 1.0)
    return (t * t * (3 - 2 * t)).astype(np.float32)


# Face region that may move: brows to below the chin, cheek to cheek (aligned frame, see canonical.py).
FACE_MASK = _ellipse_mask((50.0, 76.0), (38.0, 50.0), 0.55)


def mouth_masks(mouth: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Where mouth interior may be carried over (soft), and the skin ring around it used for colour matching."""
    mx, my = mouth
    mask = _ellipse_mask((mx, my + 3), (19.0, 14.0), 0.5)
    ring = (_ellipse_mask((mx, my + 2), (30.0, 24.0), 0.8) > 0.5) & (mask < 0.05)
    return mask, ring


@dataclass
class _Target:
    """Everything that depends only on the portrait and the output framing: computed once per chunk."""

    image: np.ndarray          # uint8 (H, W, 3): the clip or the full portrait
    roi: tuple[int, int, int, int]   # x0, y0, x1, y1 where the face may move
    map_x: np.ndarray          # (roi h, roi w) aligned-frame x of each ROI pixel
    map_y: np.ndarray
    lin: np.ndarray            # 2×2: aligned-frame vector → target vector (scales by relative face size)
    grid_x: np.ndarray         # ROI pixel coordinates in the target
    grid_y: np.ndarray
    regions: list[tuple[np.ndarray, tuple[int, int, int, int]]]  # carry-over masks (aligned) + their ROI boxes
    portrait_aligned: np.ndarray      # float32 aligned portrait, for colour matching
    aligned_to_target: np.ndarray     # 2×3


def _build_target(image: np.ndarray, aligned_to_target: np.ndarray, portrait_aligned: np.ndarray) -> _Target:
    h, w = image.shape[:2]
    ah, aw = canonical.ALIGNED_SHAPE
    ys, xs = np.nonzero(FACE_MASK > 0)
    corners = np.array([[xs.min(), ys.min()], [xs.max() + 1, ys.min()], [xs.min(), ys.max() + 1],
                        [xs.max() + 1, ys.max() + 1]], dtype=np.float64)
    mapped = corners @ aligned_to_target[:, :2].T + aligned_to_target[:, 2]
    x0, y0 = np.floor(mapped.min(0)).astype(int) - 2
    x1, y1 = np.ceil(mapped.max(0)).astype(int) + 2
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 <= x0 or y1 <= y0:
        x0, y0, x1, y1 = 0, 0, 1, 1
    gy, gx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    inv = cv2.invertAffineTransform(aligned_to_target)
    map_x = (inv[0, 0] * gx + inv[0, 1] * gy + inv[0, 2]).astype(np.float32)
    map_y = (inv[1, 0] * gx + inv[1, 1] * gy + inv[1, 2]).astype(np.float32)
    return _Target(image, (int(x0), int(y0), int(x1), int(y1)), map_x, map_y, aligned_to_target[:, :2].astype(np.float32),
                   gx, gy, [], portrait_aligned.astype(np.float32), aligned_to_target)


def _region_box(t: _Target, mask: np.ndarray) -> tuple[int, int, int, int]:
    """Bounding box (ROI coordinates) of an aligned-frame mask's support mapped into the target."""
    my, mx = np.nonzero(mask > 0)
    corners = np.array([[mx.min(), my.min()], [mx.max() + 1, my.min()], [mx.min(), my.max() + 1],
                        [mx.max() + 1, my.max() + 1]], dtype=np.float64)
    mc = corners @ t.aligned_to_target[:, :2].T + t.aligned_to_target[:, 2]
    x0, y0, x1, y1 = t.roi
    bx0, by0 = np.floor(mc.min(0)).astype(int) - 1
    bx1, by1 = np.ceil(mc.max(0)).astype(int) + 1
    return max(0, bx0 - x0), max(0, by0 - y0), max(0, min(x1, bx1) - x0), max(0, min(y1, by1) - y0)


def _set_carry_regions(t: _Target, mouth: tuple[float, float]) -> np.ndarray:
    """Mouth (at the driving face's mouth) and both eyes (blinks): where appearance changes are carried over.

    Returns the skin ring around the mouth, for colour matching.
    """
    mouth_mask, ring = mouth_masks(mouth)
    t.regions = [(mouth_mask, _region_box(t, mouth_mask))]
    for eye in (canonical.LEFT_EYE, canonical.RIGHT_EYE):
        mask = _ellipse_mask((eye[0], eye[1] + 1.0), (12.0, 8.0), 0.45)
        t.regions.append((mask, _region_box(t, mask)))
    return ring


class BuiltinMotionTransfer:
    """`MotionTransfer` without weights: works on any base video (built-in or SDA's), far above real time on CPU."""

    def __init__(self, flow_preset: str = "fast", carry_over: bool = True) -> None:
        if flow_preset not in FLOW_PRESETS:
            raise ValueError(f"flow_preset must be one of {sorted(FLOW_PRESETS)}")
        self.flow_preset = flow_preset
        self.carry_over = carry_over

    @staticmethod
    def geometry(portrait: np.ndarray) -> FaceGeometry:
        """Face geometry of the portrait, remembered (process-wide, a few portraits) for its next chunks."""
        key = hashlib.sha1(np.ascontiguousarray(portrait).data).hexdigest() + str(portrait.shape)
        with _GEOMETRY_LOCK:
            if key in _GEOMETRY_CACHE:
                _GEOMETRY_CACHE.move_to_end(key)
                return _GEOMETRY_CACHE[key]
        geometry = analyze_portrait(portrait)
        with _GEOMETRY_LOCK:
            _GEOMETRY_CACHE[key] = geometry
            while len(_GEOMETRY_CACHE) > 8:
                _GEOMETRY_CACHE.popitem(last=False)
        return geometry

    def transfer(self, portrait: np.ndarray, driving: Iterable[np.ndarray], full_frame: bool = False,
                 geometry: FaceGeometry | None = None) -> Iterator[np.ndarray]:
        """Yield uint8 batches: (B, 256, 256, 3) clips, or with `full_frame` (B', H, W, 3) full portraits.

        The frame count always equals the driving frame count; full-frame batches may be split smaller to bound
        memory. Raises InputError (from face analysis) when the portrait has no findable face.
        """
        rgb = to_rgb_uint8(portrait)
        geometry = geometry if geometry is not None else self.geometry(rgb)
        to_aligned = aligned_matrix(geometry)
        portrait_aligned = warp_similarity(rgb, to_aligned, (canonical.ALIGNED_WIDTH, canonical.ALIGNED_HEIGHT))
        from_aligned = np.vstack([cv2.invertAffineTransform(to_aligned), [0, 0, 1]])
        if full_frame:
            target = _build_target(rgb, from_aligned[:2], portrait_aligned)
        else:
            to_clip = clip_matrix(geometry, CLIP_SIZE)
            clip = warp_similarity(rgb, to_clip, (CLIP_SIZE, CLIP_SIZE))
            target = _build_target(clip, (np.vstack([to_clip, [0, 0, 1]]) @ from_aligned)[:2], portrait_aligned)
        dis = cv2.DISOpticalFlow_create(FLOW_PRESETS[self.flow_preset])
        first_gray: np.ndarray | None = None
        first_rgb: np.ndarray | None = None
        gain = np.ones(3, np.float32)
        ah, aw = canonical.ALIGNED_SHAPE
        base_y, base_x = np.mgrid[0:ah, 0:aw].astype(np.float32)
        frame_bytes = target.image.nbytes
        mouth_shift: tuple[np.ndarray, np.ndarray] | None = None
        for batch in driving:
            batch = _as_batch(batch)
            out: list[np.ndarray] = []
            for frame in batch:
                frame = _as_aligned(frame)
                if first_gray is None:
                    mouth_shift = _mouth_shift(locate_mouth(frame), locate_mouth(portrait_aligned))
                if mouth_shift is not None:
                    frame = cv2.remap(frame, mouth_shift[0], mouth_shift[1], cv2.INTER_LINEAR,
                                      borderMode=cv2.BORDER_REPLICATE)
                gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
                if first_gray is None:
                    first_gray, first_rgb = gray, frame.astype(np.float32)
                    ring = _set_carry_regions(target, locate_mouth(frame))
                    gain = _colour_gain(target.portrait_aligned, first_rgb, ring)
                out.append(self._render(target, dis, gray, frame, first_gray, first_rgb, gain, base_x, base_y))
                if full_frame and len(out) * frame_bytes >= FULL_FRAME_BATCH_BYTES:
                    yield np.stack(out)
                    out = []
            if out:
                yield np.stack(out)

    def _render(self, t: _Target, dis: cv2.DISOpticalFlow, gray: np.ndarray, frame: np.ndarray,
                first_gray: np.ndarray, first_rgb: np.ndarray, gain: np.ndarray,
                base_x: np.ndarray, base_y: np.ndarray) -> np.ndarray:
        # flow: where each pixel of this frame was in the first frame (backward map, so remap can use it)
        flow = dis.calc(gray, first_gray, None)
        flow = cv2.GaussianBlur(flow, (0, 0), FLOW_SMOOTH_SIGMA) * FACE_MASK[:, :, None]
        x0, y0, x1, y1 = t.roi
        f = cv2.remap(flow, t.map_x, t.map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        dx = t.lin[0, 0] * f[:, :, 0] + t.lin[0, 1] * f[:, :, 1]
        dy = t.lin[1, 0] * f[:, :, 0] + t.lin[1, 1] * f[:, :, 1]
        result = t.image.copy()
        warped = cv2.remap(t.image, t.grid_x + dx, t.grid_y + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if self.carry_over:
            self._carry_over(t, warped, flow, frame, first_rgb, gain, base_x, base_y)
        result[y0:y1, x0:x1] = warped
        return result

    def _carry_over(self, t: _Target, warped: np.ndarray, flow: np.ndarray, frame: np.ndarray,
                     first_rgb: np.ndarray, gain: np.ndarray, base_x: np.ndarray, base_y: np.ndarray) -> None:
        """Carry over what flow cannot explain: the opened mouth (cavity, teeth) and closing eyelids."""
        predicted = cv2.remap(first_rgb, base_x + flow[:, :, 0], base_y + flow[:, :, 1], cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
        residual = np.abs(frame.astype(np.float32) - predicted).max(axis=2)
        change = np.clip((residual - 8.0) / 16.0, 0.0, 1.0)
        if float(change.max()) < 0.02:
            return
        change = cv2.dilate(change, CLOSE_KERNEL)     # fill the holes where a lid or lip barely differs from skin
        # Mouth: only what got DARKER than the flow predicts (the opened cavity) — lips and skin that flow cannot
        # follow stay the portrait's own, so another identity's smoothed lips are never pasted over them.
        ratio = frame.astype(np.float32).mean(axis=2) / np.maximum(predicted.mean(axis=2), 1.0)
        darker = np.clip((0.7 - ratio) / 0.25, 0.0, 1.0)     # cavity ≈ 0.2 of the skin; lips ≈ 0.8 stay out
        mouth_change = cv2.dilate(darker, EDGE_KERNEL)
        src: np.ndarray | None = None
        for number, (mask, (bx0, by0, bx1, by1)) in enumerate(t.regions):
            alpha = (mouth_change if number == 0 else change) * mask
            if float(alpha.max()) < 0.02 or bx1 <= bx0 or by1 <= by0:
                continue
            if src is None:
                src = np.clip(frame.astype(np.float32) * gain, 0, 255)
            alpha = cv2.GaussianBlur(alpha, (0, 0), 1.2)
            mxs, mys = t.map_x[by0:by1, bx0:bx1], t.map_y[by0:by1, bx0:bx1]
            a = cv2.remap(alpha, mxs, mys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)[:, :, None]
            d = cv2.remap(src, mxs, mys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            region = warped[by0:by1, bx0:bx1].astype(np.float32)
            warped[by0:by1, bx0:bx1] = (region * (1.0 - a) + d * a + 0.5).astype(np.uint8)


def _mouth_shift(driving_mouth: tuple[float, float], portrait_mouth: tuple[float, float]
                 ) -> tuple[np.ndarray, np.ndarray] | None:
    """Remap that moves the driving face's mouth onto the portrait's mouth (different identities, e.g. SDA's
    template or another person): the lower face slides vertically, the eyes stay where they are."""
    offset = float(np.clip(portrait_mouth[1] - driving_mouth[1], -12.0, 12.0))
    if abs(offset) < 1.0:
        return None
    h, w = canonical.ALIGNED_SHAPE
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    eyes_y = canonical.EYES_MID[1] + 8.0
    ramp = np.clip((yy - eyes_y) / (min(portrait_mouth[1], driving_mouth[1]) - 4.0 - eyes_y), 0.0, 1.0)
    return xx, (yy - offset * ramp).astype(np.float32)


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


def _colour_gain(portrait_aligned: np.ndarray, driving_first: np.ndarray, ring: np.ndarray) -> np.ndarray:
    """Per-channel gain taking the driving face's skin around the mouth to the portrait's."""
    p = portrait_aligned[ring].mean(axis=0)
    d = driving_first[ring].mean(axis=0)
    return np.clip(p / np.maximum(d, 1.0), 0.5, 2.0).astype(np.float32)
