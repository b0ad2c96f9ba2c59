"""Each speaker's face as a render would find it: what the Cast page draws and what the Base and Animate pages
flag before a render (the analysis itself, found once per portrait and kept, is `face_model.analyse_face`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from deepstory_kernel.errors import DeepstoryError, InputError

from .face_model import analyse_face
from .identities import load_portrait_image, portrait_ref


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


def check_face(project, speaker: str) -> FaceCheck:
    """The speaker's portrait and face as the render would find them (cast choice or built-in default)."""
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
