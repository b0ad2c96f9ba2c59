"""face-alignment's 68 landmarks — used ONLY when its weights are already cached, because constructing
`FaceAlignment` without them downloads from the web (and fails offline with a URLError).

No module-level model: `load_model(device)` builds one and the caller keeps it (deepstory_core's model cache, as
`face:face-alignment`, so it is listed and evicted like every other model).
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import numpy as np

DETECTOR_WEIGHTS = "s3fd-619a316812.pth"
LANDMARK_WEIGHTS = "2DFAN4-11f355bf06.pth.tar"

def weights_cached() -> bool:
    """True when both weight files sit in the ONE directory torch hub will read (so nothing is downloaded)."""
    try:
        import torch.hub
        hub_dir = Path(torch.hub.get_dir()) / "checkpoints"
    except Exception:  # torch missing or broken: no landmarks
        return False
    return all((hub_dir / name).is_file() and (hub_dir / name).stat().st_size > 0
               for name in (DETECTOR_WEIGHTS, LANDMARK_WEIGHTS))


def _landmarks_type(module: object) -> object:
    kinds = module.LandmarksType  # type: ignore[attr-defined]
    return getattr(kinds, "TWO_D", None) or kinds._2D


def load_model(device: Any) -> object | None:
    """A `FaceAlignment` on `device`, or None when its weights are not cached (never downloads)."""
    if not weights_cached():
        return None
    import face_alignment

    kwargs: dict[str, object] = {"device": str(device), "flip_input": False}
    params = inspect.signature(face_alignment.FaceAlignment.__init__).parameters
    if "compile" in params:
        kwargs["compile"] = False        # torch.compile costs ~20 s for one portrait
    return face_alignment.FaceAlignment(_landmarks_type(face_alignment), **kwargs)


def detect_landmarks(rgb: np.ndarray, box: tuple[float, float, float, float] | None = None,
                     model: object | None = None) -> np.ndarray | None:
    """(68, 2) float32 (x, y) landmarks of the largest face, or None (no model, or no face found).

    `model`: from `load_model`; `box` (x, y, w, h), when known, skips face-alignment's own detector.
    """
    if model is None:
        return None
    faces = None
    if box is not None:
        x, y, w, h = box
        faces = [np.array([x, y, x + w, y + h], dtype=np.float32)]
    try:
        result = model.get_landmarks_from_image(rgb, detected_faces=faces)  # type: ignore[attr-defined]
    except Exception:
        return None
    if not result:
        return None
    best = max(result, key=lambda pts: float(np.ptp(pts[:, 0]) * np.ptp(pts[:, 1])))
    return np.asarray(best[:, :2], dtype=np.float32)
