"""Lip-sync quality, measured on rendered frames by the product's face model — not by the renderer's own controls.

Why: a renderer can paint a dark patch that "correlates with the audio" while the lips stay put. Here an
independent model (MediaPipe's landmarker) looks at each output frame, and the numbers say whether the jaw opens
with the loudness, the lips part on loud frames and close in silence and on p/b/m, the eyes blink, the face
outside mouth and eyes is still the portrait's, and no seam shows around the pasted face.

Frames stream through (`score_frames` takes batches, `score_video` decodes a file), so memory stays bounded by a
batch; only a few floats per frame are kept.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import cv2
import numpy as np

from deepstory_kernel.contracts import PhonemeEvent
from deepstory_kernel.media import FPS

SCORER_VERSION = "lipsync-score-v2"

# Targets (issue #10's "done when"); a chunk missing one is flagged weak.
R_JAW_MIN = 0.6
GAP_RATIO_MIN = 1.6
BILABIAL_CLOSED_MIN = 0.8
BLINKS_PER_MIN = (8.0, 30.0)
IDENTITY_SSIM_MIN = 0.95
SEAM_MAX = 0.1                 # share of the face outline along which a hard step surrounds the face
FACE_FOUND_MIN = 0.9
BLINK_MIN_SECONDS = 20.0       # shorter clips are not judged on their blink rate (too few to count)

SILENT_OF_P95 = 0.1            # a frame is silent below 10 % of the clip's 95th-percentile loudness
LOUD_OF_P95 = 0.5              # and loud above half of it
CLOSED_GAP = 0.06              # inner-lip gap / face size below which the lips count as closed…
CLOSED_OVER_REST = 0.02        # …or barely above the portrait's own rest gap (a smile that shows the teeth)
BILABIALS = frozenset("pbm")
IDENTITY_EVERY = 5             # frames between identity / seam samples (they cost more than the landmarks)

# Rigid points of the face (unmoved by speech or blinks) that register the portrait onto a frame.
RIGID_POINTS = (33, 133, 362, 263, 168, 6, 197, 1, 10, 151, 9, 234, 454, 127, 356)
# Lower face closed by the jaw line (132 … chin … 361) and the nose base (327, 2, 98): moves when speaking.
LOWER_FACE = (132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361, 327, 2, 98)


@dataclass(frozen=True)
class LipSyncScore:
    """The measured quality of one clip (a chunk, or a whole export). None: not measurable in this clip."""

    frames: int
    face_found: float                      # share of frames where the face model found a face
    r_jaw_open: float | None               # Pearson r, jawOpen blendshape vs audio RMS (25 fps)
    r_lip_gap: float | None                # Pearson r, inner-lip gap (13–14, / face size) vs RMS
    gap_loud_over_silent: float | None     # median lip gap, loud frames ÷ silent frames
    silent_closed: float | None            # share of silent frames with the lips closed
    bilabial_closed: float | None          # share of p/b/m phonemes during which the lips close
    bilabials: int                         # how many p/b/m phonemes were checked
    blinks_per_min: float
    identity_ssim: float | None            # median SSIM vs the portrait, outside mouth/jaw and eyes
    seam: float | None                     # median share of the face outline with a hard step around it
    rest_gap: float | None = None          # the portrait's own lip gap (what "closed" is judged against)
    eye_flickers: int = 0                  # single-frame eye closures (a renderer glitch, not blinks)
    version: str = SCORER_VERSION
    problems: tuple[str, ...] = field(default=())

    @property
    def weak(self) -> bool:
        return bool(self.problems)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["problems"] = list(self.problems)
        data["weak"] = self.weak
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LipSyncScore:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["problems"] = tuple(known.get("problems", ()))
        return cls(**known)

    def summary(self) -> str:
        """One line for tables: the headline numbers, and what is weak."""
        def f(v: float | None, fmt: str) -> str:
            return "–" if v is None else format(v, fmt)
        text = (f"r(jaw) {f(self.r_jaw_open, '.2f')} · gap loud/silent {f(self.gap_loud_over_silent, '.2f')}× · "
                f"p/b/m closed {f(self.bilabial_closed, '.0%')} · {self.blinks_per_min:.0f} blinks/min · "
                f"SSIM {f(self.identity_ssim, '.3f')}")
        return text + (" — weak: " + "; ".join(self.problems) if self.problems else "")


# ---- per-frame measurement ---------------------------------------------------------------------------------------

@dataclass
class FrameSeries:
    """What the face model saw in each frame (NaN where no face), plus sparse identity / seam samples."""

    jaw_open: list[float] = field(default_factory=list)
    lip_gap: list[float] = field(default_factory=list)
    blink: list[float] = field(default_factory=list)
    eye_open: list[float] = field(default_factory=list)   # eyelid gap ÷ eye width (mesh), both eyes' mean
    rest_gap: list[float] = field(default_factory=list)   # the portrait's own lip gap (NaN: no portrait)
    ssim: list[float] = field(default_factory=list)
    seam: list[float] = field(default_factory=list)

    def add_missing(self, rest_gap: float) -> None:
        self.jaw_open.append(math.nan)
        self.lip_gap.append(math.nan)
        self.blink.append(math.nan)
        self.eye_open.append(math.nan)
        self.rest_gap.append(rest_gap)

    def extend(self, other: FrameSeries) -> None:
        """Append another clip's frames (a story's chunks, each with its speaker's portrait)."""
        for name in ("jaw_open", "lip_gap", "blink", "eye_open", "rest_gap", "ssim", "seam"):
            getattr(self, name).extend(getattr(other, name))


class FaceTracker:
    """Per-frame face finding: the face model in a crop around the last face (fast, framed like a portrait's
    final pass, so a still frame measures exactly like its portrait); a full search with tiles when lost."""

    def __init__(self, landmarker: Any) -> None:
        self.landmarker = landmarker
        self.box: tuple[float, float, float, float] | None = None

    def __call__(self, frame: np.ndarray) -> Any:
        from modules.face.mesh import detect_mesh, mesh_near

        mesh = mesh_near(frame, self.box, self.landmarker) if self.box is not None else None
        if mesh is None:
            mesh = detect_mesh(frame, self.landmarker, thorough=True)
        self.box = mesh.box if mesh is not None else None
        return mesh


@dataclass(frozen=True)
class IdentityReference:
    """The portrait a clip was made from, with its mesh: what identity SSIM and seams compare frames with."""

    portrait: np.ndarray     # RGB uint8
    mesh: Any                # FaceMesh of the portrait
    gray: np.ndarray         # float32 luminance of the portrait (what the measures compare)

    @classmethod
    def of(cls, portrait: np.ndarray, landmarker: Any) -> IdentityReference | None:
        from modules.face.image import to_rgb_uint8
        from modules.face.mesh import detect_mesh

        rgb = to_rgb_uint8(portrait)
        mesh = detect_mesh(rgb, landmarker)
        if mesh is None:
            return None
        return cls(rgb, mesh, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32))


def _masks(mesh: Any, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(identity region, seam ring) in frame pixels, from the portrait's mesh moved into the frame."""
    from modules.face import mesh as M
    from modules.face.features import region_mask

    fs = mesh.face_size
    face = region_mask(mesh, M.FACE_OVAL, shape)
    lower = region_mask(mesh, LOWER_FACE, shape, dilate_px=int(0.08 * fs))
    eyes = region_mask(mesh, M.RIGHT_EYE, shape, int(0.15 * fs)) | region_mask(mesh, M.LEFT_EYE, shape, int(0.15 * fs))
    identity = (face > 0) & (lower == 0) & (eyes == 0)
    k_out = 2 * int(0.45 * fs) + 1
    k_in = 2 * int(0.1 * fs) + 1
    outer = cv2.dilate(face, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k_out, k_out)))
    inner = cv2.erode(face, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k_in, k_in)))
    # Only above the mouth: a jaw that opens legitimately moves the chin's outline.
    mouth = mesh.points[[M.MOUTH_CORNER_RIGHT, M.MOUTH_CORNER_LEFT]].mean(axis=0)
    up = mesh.points[168] - mouth                      # towards the nose bridge
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]]
    above = (xs - mouth[0]) * up[0] + (ys - mouth[1]) * up[1] > 0
    ring = (outer > 0) & (inner == 0) & above
    return identity, ring


def _gradient(gray: np.ndarray) -> np.ndarray:
    g = cv2.GaussianBlur(gray, (0, 0), 1.5)
    gx = np.asarray(cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3), dtype=np.float32) / 8.0
    gy = np.asarray(cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3), dtype=np.float32) / 8.0
    return np.sqrt(gx * gx + gy * gy)


def _refine(frame_gray: np.ndarray, ref_gray: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    """Affine that best aligns the (already roughly registered) portrait onto the frame inside `mask` (ECC):
    the mesh's sub-pixel jitter would otherwise read as a changed face."""
    warp = np.eye(2, 3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 40, 1e-4)
    try:
        _, found = cv2.findTransformECC(frame_gray, ref_gray, warp, cv2.MOTION_AFFINE, criteria,
                                        mask.astype(np.uint8), 3)
    except cv2.error:
        return None
    return np.asarray(found, dtype=np.float32)


ROI_FACE_PX = 120.0    # the face's eye-corner distance in the region measured (bigger faces are reduced to it)


def identity_and_seam(frame: np.ndarray, frame_mesh: Any, ref: IdentityReference) -> tuple[float, float] | None:
    """SSIM of the frame vs the portrait registered onto it (outside mouth/jaw and eyes), and the seam measure
    (`_seam_step`). Both are measured in a region around the face only, reduced so the face has a fixed size:
    the cost does not grow with the output resolution (a 1080p canvas costs what a 256² clip does)."""
    from skimage.metrics import structural_similarity

    from modules.face.align import similarity_from_points, warp_similarity

    idx = list(RIGID_POINTS)
    to_frame = similarity_from_points(ref.mesh.points[idx], frame_mesh.points[idx])
    x, y, bw, bh = ref.mesh.moved(to_frame, frame.shape[:2]).box
    fs = frame_mesh.face_size
    half = max(bw, bh) / 2 + 0.6 * fs
    cx, cy = x + bw / 2, y + bh / 2
    fx0, fy0 = max(0.0, cx - half), max(0.0, cy - half)
    fx1, fy1 = min(float(frame.shape[1]), cx + half), min(float(frame.shape[0]), cy + half)
    k = min(1.0, ROI_FACE_PX / max(fs, 1e-3))
    w, h = max(8, int(math.ceil((fx1 - fx0) * k))), max(8, int(math.ceil((fy1 - fy0) * k)))
    to_roi = np.array([[k, 0.0, -k * fx0], [0.0, k, -k * fy0]])
    g_frame = cv2.cvtColor(warp_similarity(np.ascontiguousarray(frame), to_roi, (w, h)),
                           cv2.COLOR_RGB2GRAY).astype(np.float32)
    m = (np.vstack([to_roi, [0, 0, 1]]) @ np.vstack([to_frame, [0, 0, 1]]))[:2]     # portrait → region
    moved = ref.mesh.moved(m, (h, w))
    identity, ring = _masks(moved, (h, w))
    if identity.sum() < 50:
        return None
    g_ref = np.asarray(warp_similarity(ref.gray, m, (w, h)), dtype=np.float32)
    refine = _refine(g_frame, g_ref, identity)     # the face interior moves rigidly with the head
    if refine is not None:
        # one resampling of the portrait through both steps (a second bilinear pass would blur its fine edges)
        to_portrait = np.vstack([cv2.invertAffineTransform(m), [0, 0, 1]]) @ np.vstack([refine, [0, 0, 1]])
        scale = math.sqrt(abs(np.linalg.det(m[:, :2])))
        if scale >= 0.6:
            g_ref = np.asarray(cv2.warpAffine(ref.gray, to_portrait[:2], (w, h),
                                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                              borderMode=cv2.BORDER_REPLICATE), dtype=np.float32)
        else:   # a big reduction: keep the anti-aliased reduction, then the small correction
            g_ref = np.asarray(cv2.warpAffine(g_ref, refine, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                              borderMode=cv2.BORDER_REPLICATE), dtype=np.float32)
    ys, xs = np.nonzero(identity)
    y0, y1, x0, x1 = max(0, ys.min() - 4), ys.max() + 5, max(0, xs.min() - 4), xs.max() + 5
    _, smap = structural_similarity(g_frame[y0:y1, x0:x1], g_ref[y0:y1, x0:x1], data_range=255.0, full=True)
    ssim = float(np.asarray(smap)[identity[y0:y1, x0:x1]].mean())
    return ssim, _seam_step(g_frame, g_ref, moved, ring)


def _follow_smooth_motion(frame: np.ndarray, portrait: np.ndarray, ring: np.ndarray) -> np.ndarray:
    """The registered portrait moved by the frame's smooth motion around the face (optical flow, heavily
    smoothed): head motion that fades out around the face is motion, not a seam; a flow this smooth cannot
    imitate a pasted face's hard edge."""
    ys, xs = np.nonzero(ring)
    y0, y1, x0, x1 = max(0, ys.min() - 8), ys.max() + 9, max(0, xs.min() - 8), xs.max() + 9
    a = np.clip(frame[y0:y1, x0:x1], 0, 255).astype(np.uint8)
    b = np.clip(portrait[y0:y1, x0:x1], 0, 255).astype(np.uint8)
    flow = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_FAST).calc(a, b, np.zeros((*a.shape, 2), np.float32))
    flow = cv2.GaussianBlur(np.asarray(flow, dtype=np.float32), (0, 0), 6.0)
    gy, gx = np.mgrid[0:a.shape[0], 0:a.shape[1]].astype(np.float32)
    moved = portrait.copy()
    moved[y0:y1, x0:x1] = cv2.remap(portrait[y0:y1, x0:x1], gx + flow[..., 0], gy + flow[..., 1],
                                    cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return moved


SEAM_SIGMA = 3.0     # px
SEAM_EDGE = 0.8      # grey levels per px in (frame − portrait): a hard step; feathered pastes stay far below


def _seam_step(frame: np.ndarray, portrait: np.ndarray, mesh: Any, ring: np.ndarray) -> float:
    """How much of a closed line around the face shows a hard step in (frame − registered portrait), as a share of
    the face outline's length: ~0 for a clean or feathered paste, ~0.5–1 for a pasted face with a hard edge.
    The longest connected edge counts, so scattered texture residue (hair, compression) does not."""
    from modules.face import mesh as M

    if ring.sum() < 50:
        return 0.0
    portrait = _follow_smooth_motion(frame, portrait, ring)
    # A pasted face's edge is a step in (frame − portrait): one sign on one side. A portrait edge that moved a
    # little leaves +/− lobes instead, which a wide blur averages away (a hat badge, hair): so the step is
    # looked for in the difference blurred at SEAM_SIGMA.
    diff = cv2.GaussianBlur(frame - portrait, (0, 0), SEAM_SIGMA)
    edges = ((_gradient(diff) > SEAM_EDGE) & ring).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(edges, connectivity=8)
    if count <= 1:
        return 0.0
    largest = stats[1:, cv2.CC_STAT_AREA].max()
    outline = np.round(mesh.points[list(M.FACE_OVAL)]).astype(np.int32)
    perimeter = max(cv2.arcLength(outline.reshape(-1, 1, 2), True), 1.0)
    thickness = 2.35 * SEAM_SIGMA                    # px: how wide a blurred step stays above the threshold
    return float(largest / thickness / perimeter)


def measure_frames(batches: Iterable[np.ndarray], landmarker: Any, reference: IdentityReference | None = None,
                   identity_every: int = IDENTITY_EVERY) -> FrameSeries:
    """Run the face model on every frame of the batches (uint8 (B, H, W, 3) RGB)."""
    return measure_segments(batches, [(-1, reference)], landmarker, identity_every)


def measure_segments(batches: Iterable[np.ndarray], segments: Sequence[tuple[int, IdentityReference | None]],
                     landmarker: Any, identity_every: int = IDENTITY_EVERY) -> FrameSeries:
    """Like `measure_frames` for a video made of consecutive clips: `segments` = (frame count, that clip's
    portrait) in order (a story export: one per chunk); a count of -1 runs to the end."""
    from modules.face.features import eye_openness, lip_gap_ratio

    series = FrameSeries()
    track = FaceTracker(landmarker)
    plan = iter(segments)
    left, reference = 0, None
    index = 0
    rest = math.nan
    for batch in batches:
        for frame in np.asarray(batch):
            while left == 0:
                left, reference = next(plan, (-1, reference))
                rest = lip_gap_ratio(reference.mesh) if reference is not None else math.nan
            left -= 1
            mesh = track(frame)
            if mesh is None:
                series.add_missing(rest)
            else:
                series.rest_gap.append(rest)
                series.jaw_open.append(mesh.blendshape("jawOpen"))
                series.lip_gap.append(lip_gap_ratio(mesh))
                series.blink.append(0.5 * (mesh.blendshape("eyeBlinkLeft") + mesh.blendshape("eyeBlinkRight")))
                series.eye_open.append(float(np.mean(eye_openness(mesh))))
                if reference is not None and index % identity_every == 0:
                    found = identity_and_seam(frame, mesh, reference)
                    if found is not None:
                        series.ssim.append(found[0])
                        series.seam.append(found[1])
            index += 1
    return series


# ---- from per-frame numbers to the score -------------------------------------------------------------------------

def frame_rms(audio: np.ndarray, sample_rate: int, num_frames: int, fps: int = FPS) -> np.ndarray:
    """RMS of the audio under each video frame (frame i covers samples [i·sr/fps, (i+1)·sr/fps))."""
    a = np.asarray(audio, dtype=np.float32).reshape(-1)
    if np.issubdtype(np.asarray(audio).dtype, np.integer):
        a = a / 32768.0
    spf = sample_rate / fps
    out = np.zeros(num_frames, dtype=np.float64)
    for i in range(num_frames):
        seg = a[int(round(i * spf)):int(round((i + 1) * spf))]
        out[i] = float(np.sqrt(np.mean(np.square(seg, dtype=np.float64)))) if seg.size else 0.0
    return out


def _pearson(a: np.ndarray, b: np.ndarray) -> float | None:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 10 or np.std(a[ok]) < 1e-9 or np.std(b[ok]) < 1e-9:
        return None
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


BLINK_RISE = 0.2          # eyeBlink blendshape above the clip's resting level…
BLINK_LID_SHARE = 0.6     # …or the eyelid gap below this share of its resting size: the eyes are closed
BLINK_HOLD = 0.5          # within a closure, a frame half as far past the resting level still counts as closed
BLINK_MIN_FRAMES = 2      # a real blink lasts 100–400 ms; a closure of one frame (40 ms) is a flicker


def eye_closures(blink: np.ndarray, eye_open: np.ndarray | None = None) -> tuple[int, int]:
    """(blinks, flickers): separate closures of the eyes lasting ≥ 2 frames, and single-frame ones (a renderer
    glitch: no real eyelid closes and opens within 40 ms). Judged against the clip's own resting level (downcast
    eyes score high all the time; behind glasses or on a painted lid the blendshape may rise only to ~0.3 while
    the mesh's eyelid gap still halves, so either sign counts — but a blendshape rise with the eyelid gap wider
    than at rest is the face model contradicting itself, not a closed eye).

    With hysteresis, as any noisy reading is cut into events: a closure starts where a frame passes the threshold
    and goes on through frames at least half as far past the resting level, so a shut eye the face model reads
    as a hair less shut for one frame is one blink, not a blink and a flicker."""
    n = len(blink)
    b = np.nan_to_num(np.asarray(blink, dtype=np.float64), nan=-np.inf)
    o = (np.full(n, np.nan) if eye_open is None else np.asarray(eye_open, dtype=np.float64))
    b_rest = float(np.nanmedian(blink)) if np.isfinite(b).any() else np.inf
    o_rest = float(np.nanmedian(o)) if np.isfinite(o).any() else np.nan
    narrower = np.nan_to_num(o, nan=-np.inf) <= o_rest if np.isfinite(o_rest) else np.ones(n, bool)
    o = np.nan_to_num(o, nan=np.inf)

    def closed(share: float) -> np.ndarray:
        shut = (b > b_rest + share * BLINK_RISE) & narrower
        if np.isfinite(o_rest):
            shut |= o < o_rest * (1.0 - share * (1.0 - BLINK_LID_SHARE))
        return shut

    strong, held = closed(1.0), closed(BLINK_HOLD)
    blinks = flickers = 0
    start = 0
    while start < n:                       # each run of held frames holding a strong one is one closure
        if not held[start]:
            start += 1
            continue
        stop = start
        while stop < n and held[stop]:
            stop += 1
        if strong[start:stop].any():
            if stop - start >= BLINK_MIN_FRAMES:
                blinks += 1
            else:
                flickers += 1
        start = stop
    return blinks, flickers


def _bilabial_closed(events: Sequence[PhonemeEvent], gap: np.ndarray, closed_below: np.ndarray,
                     samples_per_frame: float, end_sample: int) -> tuple[float | None, int]:
    """Share of p/b/m phonemes during which (± one frame) the lips close."""
    hits = total = 0
    for i, event in enumerate(events):
        name = re.sub(r"[^a-z]", "", event.phoneme.lower())
        if name not in BILABIALS:
            continue
        end = events[i + 1].sample if i + 1 < len(events) else min(end_sample, event.sample + int(0.1 * 25 * samples_per_frame))
        f0 = max(0, int(event.sample // samples_per_frame) - 1)
        f1 = min(len(gap), int(math.ceil(end / samples_per_frame)) + 1)
        window, limit = gap[f0:f1], closed_below[f0:f1]
        ok = np.isfinite(window)
        if not ok.any():
            continue
        total += 1
        hits += int((window[ok] <= limit[ok]).any())
    return (hits / total if total else None), total


def score_series(series: FrameSeries, rms: np.ndarray, phonemes: Sequence[PhonemeEvent] = (),
                 samples_per_frame: float = 882.0, fps: int = FPS, clips: Sequence[int] = ()) -> LipSyncScore:
    """The score of measured frames against the audio's loudness per frame (`frame_rms`) and its phoneme events
    (sample positions at `samples_per_frame` per frame), when the voice gave them. `clips`: the frame counts of
    consecutive clips of different portraits (a story's chunks): eyes are judged against each clip's own resting
    level (one speaker's downcast eyes are not a 5-second blink next to another's open ones)."""
    jaw, gap, blink, eye_open, rest = (np.asarray(v, dtype=np.float64) for v in (
        series.jaw_open, series.lip_gap, series.blink, series.eye_open, series.rest_gap))
    n = len(jaw)
    rms = np.resize(np.asarray(rms, dtype=np.float64), n) if len(rms) != n else np.asarray(rms, dtype=np.float64)
    found = np.isfinite(gap)
    p95 = float(np.percentile(rms, 95)) if n else 0.0
    silent = (rms < SILENT_OF_P95 * p95) & found
    loud = (rms >= LOUD_OF_P95 * p95) & found
    closed_below = np.maximum(CLOSED_GAP, np.nan_to_num(rest, nan=0.0) + CLOSED_OVER_REST)   # per frame
    rest_gap = float(np.nanmedian(rest)) if np.isfinite(rest).any() else None
    ratio = None
    if silent.sum() >= 3 and loud.sum() >= 3:
        ratio = float(np.median(gap[loud]) / max(float(np.median(gap[silent])), 0.01))
    silent_closed = float((gap[silent] <= closed_below[silent]).mean()) if silent.sum() >= 3 else None
    bilabial, bilabials = _bilabial_closed(phonemes, gap, closed_below, samples_per_frame,
                                           int(n * samples_per_frame))
    minutes = n / fps / 60.0
    blink_count = flicker_count = 0
    bounds = np.cumsum([0, *clips]) if clips and sum(clips) == n else np.array([0, n])
    for start, stop in zip(bounds[:-1], bounds[1:]):
        found_blinks, found_flickers = eye_closures(blink[start:stop], eye_open[start:stop])
        blink_count += found_blinks
        flicker_count += found_flickers
    blinks = blink_count / minutes if minutes > 0 else 0.0
    ssim = float(np.median(series.ssim)) if series.ssim else None
    seam = float(np.median(series.seam)) if series.seam else None
    face_found = float(found.mean()) if n else 0.0
    r_jaw = _pearson(jaw, rms)
    score = LipSyncScore(n, face_found, r_jaw, _pearson(gap, rms), ratio, silent_closed, bilabial, bilabials,
                         blinks, ssim, seam, rest_gap, eye_flickers=flicker_count)
    return LipSyncScore(**{**asdict(score), "problems": problems_of(score)})


def problems_of(s: LipSyncScore) -> tuple[str, ...]:
    """The issue's targets this clip misses, as short phrases."""
    out = []
    if s.face_found < FACE_FOUND_MIN:
        out.append(f"face found in {s.face_found:.0%} of frames")
    if s.r_jaw_open is None or s.r_jaw_open < R_JAW_MIN:
        out.append(f"jaw does not follow the voice (r {s.r_jaw_open if s.r_jaw_open is not None else float('nan'):.2f}"
                   f" < {R_JAW_MIN})")
    if s.gap_loud_over_silent is not None and s.gap_loud_over_silent < GAP_RATIO_MIN:
        out.append(f"lips part too little ({s.gap_loud_over_silent:.2f}× < {GAP_RATIO_MIN}×)")
    if s.bilabial_closed is not None and s.bilabial_closed < BILABIAL_CLOSED_MIN:
        out.append(f"lips close on {s.bilabial_closed:.0%} of p/b/m (< {BILABIAL_CLOSED_MIN:.0%})")
    if s.frames / FPS >= BLINK_MIN_SECONDS and not BLINKS_PER_MIN[0] <= s.blinks_per_min <= BLINKS_PER_MIN[1]:
        out.append(f"{s.blinks_per_min:.0f} blinks/min (want {BLINKS_PER_MIN[0]:.0f}–{BLINKS_PER_MIN[1]:.0f})")
    if s.eye_flickers:
        out.append(f"eyes flicker shut for single frames {s.eye_flickers}×")
    if s.identity_ssim is not None and s.identity_ssim < IDENTITY_SSIM_MIN:
        out.append(f"face drifts from the portrait (SSIM {s.identity_ssim:.3f} < {IDENTITY_SSIM_MIN})")
    if s.seam is not None and s.seam > SEAM_MAX:
        out.append(f"seam around the face ({s.seam:.1f} > {SEAM_MAX})")
    return tuple(out)


# ---- entry points ------------------------------------------------------------------------------------------------

def score_frames(batches: Iterable[np.ndarray], audio: np.ndarray, sample_rate: int,
                 phonemes: Sequence[PhonemeEvent] = (), portrait: np.ndarray | None = None,
                 landmarker: Any = None) -> LipSyncScore:
    """Score frames (uint8 RGB batches at 25 fps) against the audio they play with; `portrait`: the image the clip
    was animated from (identity SSIM, seams, the rest lip gap)."""
    if landmarker is None:
        from .face_model import face_landmarker
        landmarker = face_landmarker()
    reference = IdentityReference.of(portrait, landmarker) if portrait is not None else None
    series = measure_frames(batches, landmarker, reference)
    n = len(series.jaw_open)
    return score_series(series, frame_rms(audio, sample_rate, n), phonemes, sample_rate / FPS)


def score_video(path: str | os.PathLike[str], audio: np.ndarray, sample_rate: int,
                phonemes: Sequence[PhonemeEvent] = (), portrait: np.ndarray | None = None,
                landmarker: Any = None) -> LipSyncScore:
    """`score_frames` on a rendered file, streamed in batches: an mp4 clip, or a base's uint8 `.npy` frames."""
    from .video import read_frames_any

    return score_frames(read_frames_any(path), audio, sample_rate, phonemes, portrait, landmarker)
