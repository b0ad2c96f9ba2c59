"""The product's face model (MediaPipe Face Landmarker) as one cached, evictable model of the process.

Loaded on first use (~0.3 s), kept in the model cache under `FACE_MODEL_ID`, closed when evicted or at exit.
"""

from __future__ import annotations

from typing import Any

from .models import MODELS

FACE_MODEL_ID = "face:mediapipe"


def load_face_landmarker() -> Any:
    """Plain loader (no cache): a new `modules.face.mesh.FaceLandmarker`."""
    from modules.face.mesh import FaceLandmarker

    return FaceLandmarker()


def face_landmarker() -> Any:
    """The process's landmarker, from the model cache (loaded once, reloaded after an eviction)."""
    return MODELS.get(FACE_MODEL_ID, load_face_landmarker)
