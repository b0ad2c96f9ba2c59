"""The product's face model (MediaPipe Face Landmarker) as one cached model of the process, and the faces of
portraits found once.

The landmarker loads on first use (~0.3 s) into the model cache under `FACE_MODEL_ID` (stage "face": shared by
every stage, kept across stage changes, dropped by a full eviction; closed when dropped or at exit).
A portrait's face is found once per image (and face box) and remembered, so pages can ask on every rerun.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from deepstory_kernel.errors import InputError

from . import models

FACE_MODEL_ID = "face:mediapipe"
REMEMBERED_FACES = 32


def load_face_landmarker() -> Any:
    """Plain loader (no cache): a new `modules.face.mesh.FaceLandmarker`."""
    from modules.face.mesh import FaceLandmarker

    return FaceLandmarker()


def face_landmarker() -> Any:
    """The process's landmarker, from the model cache (loaded once, reloaded after an eviction)."""
    model = models.load(FACE_MODEL_ID, load_face_landmarker)
    if getattr(model, "closed", False):     # closed behind the cache's back: load a fresh one
        models.MODELS.drop(FACE_MODEL_ID)
        model = models.load(FACE_MODEL_ID, load_face_landmarker)
    return model


FACE_ALIGNMENT_ID = "face:face-alignment"


def face_alignment_model() -> Any:
    """face-alignment's 68-landmark model from the model cache, or None when its weights are not cached (it is
    never downloaded); a fallback after the face model."""
    from modules.face.landmarks import load_model, weights_cached

    if not weights_cached():
        return None
    return models.load(FACE_ALIGNMENT_ID, lambda: load_model(models.device()))


_faces: OrderedDict[str, Any] = OrderedDict()
_faces_lock = threading.Lock()


def portrait_face(image: np.ndarray, face_box: tuple[float, float, float, float] | None = None) -> Any:
    """The portrait's `FaceGeometry` (`modules.face.align`): found by the face model (then the fallbacks), or
    refined inside the user's `face_box`; remembered per image and box. InputError when no face is found."""
    from modules.face.align import analyze_portrait, geometry_from_box

    arr = np.ascontiguousarray(image)
    key = hashlib.sha1(arr.tobytes()).hexdigest() + str(arr.shape) + repr(face_box)
    with _faces_lock:
        if key in _faces:
            _faces.move_to_end(key)
            return _faces[key]
    landmarker = face_landmarker()
    geometry = (analyze_portrait(arr, landmarker, landmark_model=face_alignment_model()) if face_box is None
                else geometry_from_box(arr, face_box, landmarker))
    with _faces_lock:
        _faces[key] = geometry
        while len(_faces) > REMEMBERED_FACES:
            _faces.popitem(last=False)
    return geometry


# -- one analysis at a time, portraits without a face remembered ---------------------------------------------
# Why a lock: face analysis is the slow part of a page (tens of ms to seconds) and the studio redraws a page on
# every click; OpenCV's cascade classifier is also not safe to run from two threads at once (a studio page and a
# render job both asking gave `cv2.error … getScaleData`). Results are keyed by the portrait's pixels (and the
# hand-placed box), so a changed portrait is analysed again and nothing else is.

_ANALYSE_LOCK = threading.Lock()
_FAILED_LOCK = threading.Lock()
_FAILED: OrderedDict[str, str] = OrderedDict()   # portrait (+ box) → why it has no face
_FAILED_SIZE = 64


def _image_key(image: np.ndarray, box: tuple[float, ...] | None) -> str:
    from .stages.base import image_hash

    return image_hash(image) + ("" if box is None else ":box" + ",".join(f"{v:.1f}" for v in box))


def analyse_face(image: np.ndarray, box: tuple[float, float, float, float] | None = None) -> Any:
    """The portrait's `FaceGeometry` (detected, or from the hand-placed `box`); an InputError when there is none.

    Found faces are remembered by `face_model.portrait_face`; portraits without a face are remembered here, so a
    page redraw never analyses the same image again; one analysis runs at a time (OpenCV's cascades are not
    thread-safe)."""
    key = _image_key(image, box)
    with _FAILED_LOCK:
        if key in _FAILED:
            raise InputError(_FAILED[key])
    with _ANALYSE_LOCK:
        try:
            return portrait_face(image, box)
        except InputError as err:
            with _FAILED_LOCK:
                _FAILED[key] = str(err)
                while len(_FAILED) > _FAILED_SIZE:
                    _FAILED.popitem(last=False)
            raise


def clear_face_cache() -> None:
    with _FAILED_LOCK:
        _FAILED.clear()
