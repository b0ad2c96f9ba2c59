"""Each speaker's face, found once per portrait and kept: what the Cast page draws, what the Base and Animate pages
flag before a render, and what the render itself uses.

Why a cache with a lock: face analysis is the slow part of a page (tens of ms to seconds) and the studio redraws a
page on every click; OpenCV's cascade classifier is also not safe to run from two threads at once (a studio page
and a render job both asking gave `cv2.error … getScaleData`). Results are keyed by the portrait's pixels (and
the hand-placed box), so a changed portrait is analysed again and nothing else is.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from deepstory_kernel.errors import DeepstoryError, InputError

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
    from .face_model import portrait_face

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


@dataclass(frozen=True)
class FaceCheck:
    """One speaker's portrait as a render would use it, and whether it has a face."""

    speaker: str
    ref: str                          # the portrait reference (upload name or builtin:<id>)
    image: np.ndarray | None          # the portrait (RGB) when it could be read
    geometry: Any                     # FaceGeometry, or None when no face was found
    problem: str | None               # why there is no usable face (one sentence), else None
    manual: bool                      # the face box was placed by hand

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def detector(self) -> str:
        """Which method found the face ("haar", "face-alignment", "mediapipe", "manual", "aligned", …)."""
        return str(getattr(self.geometry, "method", "") or "")

    @property
    def notice(self) -> str | None:
        return getattr(self.geometry, "notice", None)

    def aligned(self) -> np.ndarray | None:
        """The 128×96 aligned face the base stage animates (None when there is no face)."""
        if self.geometry is None or self.image is None:
            return None
        from .identities import aligned_identity

        try:
            return aligned_identity(self.image, self.speaker, self.geometry)
        except DeepstoryError:
            return None


def check_face(project, speaker: str) -> FaceCheck:
    """The speaker's portrait and face as the render would find them (cast choice or built-in default)."""
    from .identities import load_portrait_image, portrait_ref

    try:
        ref = portrait_ref(project, speaker)
        image = load_portrait_image(project, ref)
    except DeepstoryError as err:
        return FaceCheck(speaker, "", None, None, str(err), False)
    entry = project.cast.get(speaker)
    box = getattr(entry, "face_box", None)
    try:
        geometry = analyse_face(image, tuple(box) if box is not None else None)
    except InputError as err:
        return FaceCheck(speaker, ref, image, None, f"Portrait of {speaker[:40]!r}: {err}", box is not None)
    return FaceCheck(speaker, ref, image, geometry, None, box is not None)


def check_cast(project) -> list[FaceCheck]:
    """Every speaker's face check, in order of first appearance."""
    return [check_face(project, speaker) for speaker in project.speakers()]


def clear_face_cache() -> None:
    with _FAILED_LOCK:
        _FAILED.clear()

