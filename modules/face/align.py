"""Face geometry of a portrait and the similarity transforms built on it.

Two frames matter: the canonical aligned 128×96 frame of the base stage (SDA GRID framing, `canonical.py`), and
the face-centred 256×256 clip frame of the animate stage (framed like FOM's vox-256 crops). Both are similarity
transforms of the portrait, so any motion measured in one maps exactly into the other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from deepstory_kernel.errors import InputError

from . import canonical
from .detect import EYE_FRACTIONS, Detection, _find_eyes, detect_face, min_face_px
from .ibug68 import ibug68
from .image import to_rgb_uint8
from .landmarks import DETECTOR_WEIGHTS, LANDMARK_WEIGHTS, detect_landmarks, weights_cached
from .mesh import FaceLandmarker, FaceMesh, detect_meshes

Point = tuple[float, float]
Box = tuple[float, float, float, float]

CLIP_SIZE = 256
CLIP_EYE_DISTANCE = 68.0          # px between the eyes in the 256 clip (vox-256-like face size)
CLIP_EYES_MID = (128.0, 104.0)    # eyes' midpoint in the 256 clip: forehead above, chin near 90% of the height
# eye distance ÷ eyes-to-mouth distance of a frontal face (the canonical frame's: 37.3 px ÷ 44.6 px)
FRONTAL_EYE_TO_MOUTH = math.dist(canonical.LEFT_EYE, canonical.RIGHT_EYE) / (
    ((canonical.MOUTH_LEFT[0] + canonical.MOUTH_RIGHT[0]) / 2 - canonical.EYES_MID[0]) ** 2
    + ((canonical.MOUTH_LEFT[1] + canonical.MOUTH_RIGHT[1]) / 2 - canonical.EYES_MID[1]) ** 2) ** 0.5


@dataclass(frozen=True)
class FaceGeometry:
    """Where the face is in a portrait (original pixels) and how that was found."""

    image_size: tuple[int, int]                 # (H, W) of the portrait
    box: tuple[float, float, float, float]      # x, y, w, h
    left_eye: Point                             # eye centre on the image's left
    right_eye: Point
    method: str                                 # "mediapipe" | "face-alignment" | "haar" | "manual" | "aligned"
    landmarks: np.ndarray | None = field(default=None, compare=False)  # (68, 2) iBUG points (mesh-mapped or FAN)
    notice: str | None = None                   # shown to the user when a fallback was used
    mesh: FaceMesh | None = field(default=None, compare=False)      # the face model's 478 points, when it ran
    candidates: tuple[Box, ...] = ()            # every face found (boxes, largest first): the user may pick another

    @property
    def method_label(self) -> str:
        """Which detector found the face, in words (the Cast page shows it)."""
        return METHOD_LABELS.get(self.method, self.method)

    @property
    def eye_distance(self) -> float:
        return math.hypot(self.right_eye[0] - self.left_eye[0], self.right_eye[1] - self.left_eye[1])

    @property
    def face_scale(self) -> float:
        """The face's size as a frontal eye distance: a head turned to three-quarter view shows its eyes closer
        together, but not a shorter eyes-to-mouth distance, so with landmarks the larger of the two is used."""
        if self.landmarks is None:
            return self.eye_distance
        pts = np.asarray(self.landmarks, dtype=np.float64)
        mouth = (pts[48] + pts[54]) / 2
        mx, my = self.eyes_mid
        return max(self.eye_distance, FRONTAL_EYE_TO_MOUTH * math.hypot(mouth[0] - mx, mouth[1] - my))

    @property
    def eyes_mid(self) -> Point:
        return ((self.left_eye[0] + self.right_eye[0]) / 2, (self.left_eye[1] + self.right_eye[1]) / 2)


@dataclass(frozen=True)
class AlignedFace:
    image: np.ndarray      # uint8 (h, w, 3)
    matrix: np.ndarray     # 2×3 float64: portrait pixel → this frame's pixel


METHOD_LABELS = {
    "mediapipe": "MediaPipe face model",
    "face-alignment": "face-alignment (68 landmarks)",
    "haar": "OpenCV Haar detector (fallback)",
    "manual": "placed by hand",
    "aligned": "already an aligned 128×96 face",
}

FALLBACK_NOTICE = (
    "Using OpenCV's face detector: face-alignment's landmark weights are not cached (put "
    f"{DETECTOR_WEIGHTS} and {LANDMARK_WEIGHTS} in ~/.cache/torch/hub/checkpoints/ for finer alignment)."
)


def is_aligned_face(image: np.ndarray) -> bool:
    """An image that is already 128×96 (H×W) is taken as an aligned face, like SDA's template faces."""
    return tuple(np.asarray(image).shape[:2]) == canonical.ALIGNED_SHAPE


def aligned_geometry() -> FaceGeometry:
    h, w = canonical.ALIGNED_SHAPE
    return FaceGeometry((h, w), (0.0, 0.0, float(w), float(h)), canonical.LEFT_EYE, canonical.RIGHT_EYE, "aligned")


DETECTORS = ("mediapipe", "face-alignment", "haar")


def analyze_portrait(image: np.ndarray, landmarker: FaceLandmarker | None = None,
                     detectors: tuple[str, ...] = DETECTORS, landmark_model: object | None = None) -> FaceGeometry:
    """Find the face: the MediaPipe face model (tiles and upscaling for small faces; several faces → the largest,
    the others listed in `candidates`), then face-alignment's landmarks when its weights are cached, then Haar
    face + eyes. InputError if no face. `landmarker`: the process's cached model (None: a shared default);
    `detectors`: which of the three to try, in this order (the fallbacks can be run alone); `landmark_model`:
    face-alignment's model (`landmarks.load_model`, kept by the caller's model cache), None = skip it."""
    rgb = to_rgb_uint8(image)
    if is_aligned_face(rgb):
        return aligned_geometry()
    size = (int(rgb.shape[0]), int(rgb.shape[1]))
    notice = ""
    if "mediapipe" in detectors:
        meshes, notice = _find_meshes(rgb, landmarker)
        if meshes:
            return geometry_from_mesh(meshes[0], tuple(m.box for m in meshes))
    detection = detect_face(rgb) if "haar" in detectors or "face-alignment" in detectors else None
    if "face-alignment" in detectors and landmark_model is not None:
        landmarks = detect_landmarks(rgb, detection.box if detection is not None else None, landmark_model)
        if landmarks is not None:
            return _geometry_from_landmarks(size, landmarks)
        notice += " face-alignment found no landmarks; using OpenCV's face detector."
    elif "face-alignment" in detectors and not weights_cached():
        notice += " " + FALLBACK_NOTICE
    if detection is None or "haar" not in detectors:
        min_face = max(min_face_px(size), 40)
        raise InputError(
            f"No face found in the portrait ({size[1]}×{size[0]} px). Use a photo where the face is clearly "
            f"visible and at least {min_face} px wide, or place the face manually."
        )
    if not detection.eyes_found:
        notice += " The eyes were not found, so they were estimated from the face box."
    return _geometry_from_detection(size, detection, notice.strip())


def _find_meshes(rgb: np.ndarray, landmarker: FaceLandmarker | None) -> tuple[list[FaceMesh], str]:
    """The face model's faces, and what to tell the user when it could not run or found none."""
    from deepstory_kernel.errors import ModelUnavailableError

    try:
        meshes = detect_meshes(rgb, landmarker)
    except ModelUnavailableError as err:
        return [], str(err)
    return meshes, ("" if meshes else "The MediaPipe face model found no face.")


def geometry_from_mesh(mesh: FaceMesh, candidates: tuple[Box, ...] = (), method: str = "mediapipe") -> FaceGeometry:
    """Face geometry from the face model: eyes at the irises, the 68 iBUG points mapped from the mesh."""
    return FaceGeometry(mesh.image_size, mesh.box, mesh.left_eye, mesh.right_eye, method, ibug68(mesh), None, mesh,
                        candidates or (mesh.box,))


def _geometry_from_detection(size: tuple[int, int], det: Detection, notice: str | None) -> FaceGeometry:
    return FaceGeometry(size, tuple(float(v) for v in det.box), _pt(det.left_eye), _pt(det.right_eye),  # type: ignore[arg-type]
                        "haar", None, notice)


def _geometry_from_landmarks(size: tuple[int, int], pts: np.ndarray) -> FaceGeometry:
    left, right = pts[36:42].mean(axis=0), pts[42:48].mean(axis=0)
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    return FaceGeometry(size, (float(x0), float(y0), float(x1 - x0), float(y1 - y0)), _pt(left), _pt(right),
                        "face-alignment", pts.astype(np.float32), None)


def geometry_from_box(image: np.ndarray, box: tuple[float, float, float, float],
                      landmarker: FaceLandmarker | None = None) -> FaceGeometry:
    """Manual face placement (the UI's fallback, or picking another face of a group photo): the user's box; the
    face model looks inside it (eyes, landmarks) and, if it finds nothing there, the eyes are searched with Haar,
    else estimated from the box."""
    rgb = to_rgb_uint8(image)
    x, y, w, h = (float(v) for v in box)
    if w < 8 or h < 8:
        raise InputError(f"The face box {w:.0f}×{h:.0f} px is too small; draw it around the whole face.")
    size = (int(rgb.shape[0]), int(rgb.shape[1]))
    mesh = _mesh_in_box(rgb, (x, y, w, h), landmarker)
    if mesh is not None:
        return FaceGeometry(size, (x, y, w, h), mesh.left_eye, mesh.right_eye, "manual", ibug68(mesh), None, mesh)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    eyes = _find_eyes(gray, (x, y, w, h))
    if eyes is None:
        (lx, ly), (rx, ry) = EYE_FRACTIONS
        eyes = ((x + lx * w, y + ly * h), (x + rx * w, y + ry * h))
    return FaceGeometry(size, (x, y, w, h), _pt(eyes[0]), _pt(eyes[1]), "manual")


def _mesh_in_box(rgb: np.ndarray, box: Box, landmarker: FaceLandmarker | None) -> FaceMesh | None:
    """The face model on a crop around the box (the box with a margin): the mesh whose centre lies in the box."""
    from deepstory_kernel.errors import ModelUnavailableError

    x, y, w, h = box
    side = 1.8 * max(w, h)
    cx, cy = x + w / 2, y + h / 2
    H, W = rgb.shape[:2]
    x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    x1, y1 = int(min(W, cx + side / 2)), int(min(H, cy + side / 2))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    try:
        meshes = detect_meshes(np.ascontiguousarray(rgb[y0:y1, x0:x1]), landmarker)
    except ModelUnavailableError:
        return None
    for mesh in meshes:
        moved = mesh.moved(np.array([[1.0, 0.0, x0], [0.0, 1.0, y0]]), (H, W))
        mx, my, mw, mh = moved.box
        if x <= mx + mw / 2 <= x + w and y <= my + mh / 2 <= y + h:
            return moved
    return None


def _pt(p: object) -> Point:
    a = np.asarray(p, dtype=np.float64).reshape(2)
    return float(a[0]), float(a[1])


def similarity_from_points(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) taking src points onto dst; 2×3."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    sc, dc = src.mean(axis=0), dst.mean(axis=0)
    s0, d0 = src - sc, dst - dc
    denom = float((s0 ** 2).sum())
    a = float((s0 * d0).sum()) / denom                                         # s·cos
    b = float((s0[:, 0] * d0[:, 1] - s0[:, 1] * d0[:, 0]).sum()) / denom       # s·sin
    lin = np.array([[a, -b], [b, a]])
    return np.hstack([lin, (dc - lin @ sc)[:, None]])


def aligned_matrix(geometry: FaceGeometry) -> np.ndarray:
    """2×3 similarity: portrait pixel → canonical aligned 128×96 pixel."""
    if geometry.landmarks is not None:
        pts = geometry.landmarks
        src = np.array([pts[36:42].mean(0), pts[42:48].mean(0), pts[30], pts[48], pts[54]])
        dst = np.array([canonical.LEFT_EYE, canonical.RIGHT_EYE, canonical.NOSE_TIP,
                        canonical.MOUTH_LEFT, canonical.MOUTH_RIGHT])
        # the eyes count double: they are the most reliable landmarks and the frame's main reference
        src, dst = np.vstack([src, src[:2]]), np.vstack([dst, dst[:2]])
        m = similarity_from_points(src, dst)
        # A head turned to three-quarter view: the fit frames its foreshortened face so tightly that the far
        # cheek and the nose leave the frame (and the face model no longer finds a face there). Zoom out around
        # the nose by how much the eyes are foreshortened (a frontal face is left as it is).
        turned = geometry.eye_distance / max(geometry.face_scale, 1e-3)     # 1 frontal, ~0.55 three-quarter
        f = 0.5 + 0.5 * turned
        if turned < 0.9:
            c = np.array(canonical.NOSE_TIP)
            m = np.hstack([m[:, :2] * f, (m[:, 2] * f + c * (1 - f))[:, None]])
        return m
    return similarity_from_points(np.array([geometry.left_eye, geometry.right_eye]),
                                  np.array([canonical.LEFT_EYE, canonical.RIGHT_EYE]))


def clip_matrix(geometry: FaceGeometry, size: int = CLIP_SIZE) -> np.ndarray:
    """2×3 scale+translation: portrait pixel → face-centred square clip pixel (kept upright, like FOM's crops)."""
    s = CLIP_EYE_DISTANCE * size / CLIP_SIZE / max(geometry.face_scale, 1e-3)
    mx, my = geometry.eyes_mid
    cx, cy = CLIP_EYES_MID[0] * size / CLIP_SIZE, CLIP_EYES_MID[1] * size / CLIP_SIZE
    return np.array([[s, 0.0, cx - s * mx], [0.0, s, cy - s * my]])


def warp_similarity(image: np.ndarray, matrix: np.ndarray, out_size: tuple[int, int]) -> np.ndarray:
    """warpAffine that stays sharp when enlarging and does not alias when shrinking a big photo.

    Only the source region that lands in the output is touched; strong reductions go through INTER_AREA first.
    """
    out_w, out_h = out_size
    m = np.asarray(matrix, dtype=np.float64)
    scale = math.sqrt(abs(np.linalg.det(m[:, :2])))
    if scale < 0.6:
        inv = cv2.invertAffineTransform(m)
        corners = np.array([[0, 0], [out_w, 0], [0, out_h], [out_w, out_h]], dtype=np.float64)
        src = corners @ inv[:, :2].T + inv[:, 2]
        x0, y0 = np.floor(src.min(0)).astype(int) - 4
        x1, y1 = np.ceil(src.max(0)).astype(int) + 4
        h, w = image.shape[:2]
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            f = min(1.0, scale * 1.5)
            part = cv2.resize(image[y0:y1, x0:x1], None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
            fx = part.shape[1] / (x1 - x0)
            fy = part.shape[0] / (y1 - y0)
            pre = np.array([[fx, 0, -x0 * fx], [0, fy, -y0 * fy], [0, 0, 1.0]])
            m = (np.vstack([m, [0, 0, 1]]) @ np.linalg.inv(pre))[:2]
            image = part
    return cv2.warpAffine(image, m, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def align_face(image: np.ndarray, geometry: FaceGeometry | None = None) -> AlignedFace:
    """The portrait's face in the canonical 128×96 frame (what the base stage animates)."""
    rgb = to_rgb_uint8(image)
    if is_aligned_face(rgb):
        return AlignedFace(rgb.copy(), np.array([[1.0, 0, 0], [0, 1.0, 0]]))
    geometry = geometry if geometry is not None else analyze_portrait(rgb)
    m = aligned_matrix(geometry)
    out = warp_similarity(rgb, m, (canonical.ALIGNED_WIDTH, canonical.ALIGNED_HEIGHT))
    return AlignedFace(out, m)


def crop_square_256(image: np.ndarray, geometry: FaceGeometry | None = None, size: int = CLIP_SIZE) -> AlignedFace:
    """The face-centred square clip framing (face about as large as in FOM's vox-256 crops)."""
    rgb = to_rgb_uint8(image)
    geometry = geometry if geometry is not None else analyze_portrait(rgb)
    m = clip_matrix(geometry, size)
    return AlignedFace(warp_similarity(rgb, m, (size, size)), m)
