"""Speakers' faces for a render: which portrait a speaker has, where its face is, and the base stage's identity.

Why one object per speaker (`SpeakerFace`): a speaker's face is found once per render (or placed by hand in the
cast) and serves both the base identity (the face aligned to the 128×96 base framing) and the motion transfer
(where to paste the animated face back); its hashes are what the artifact keys of that speaker's chunks depend on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from deepstory_kernel.errors import InputError, ModelUnavailableError
from deepstory_kernel.media import BASE_SHAPE

from .paths import data_dir
from .portraits import builtin_portraits, load_portrait
from .stages.base import image_hash

SDA_TEMPLATE_NAMES = ("template.png", "template.bmp", "template.jpg")


def portrait_ref(project, speaker: str) -> str:
    """The speaker's portrait: the cast's choice, else a built-in one (speakers take them in turn)."""
    entry = project.cast.get(speaker)
    if entry is not None and entry.portrait:
        return entry.portrait
    builtins = [info.ref for info in builtin_portraits()]
    if not builtins:
        raise InputError(f"Speaker {speaker[:40]!r} has no portrait; choose one in the cast.")
    speakers = project.speakers()
    position = speakers.index(speaker) if speaker in speakers else 0
    return builtins[position % len(builtins)]


def load_portrait_image(project, ref: str, speaker: str | None = None) -> np.ndarray:
    """The portrait as RGB uint8; messages name the speaker's portrait, never the upload's hashed file name."""
    label = f"The portrait of {speaker[:40]!r}" if speaker is not None else None
    return np.ascontiguousarray(load_portrait(ref, project.uploads_dir, label), dtype=np.uint8)


def find_face(portrait: np.ndarray, speaker: str = "") -> Any:
    """The portrait's face geometry (the face model, then the fallbacks: `face_model.portrait_face`, through the
    lock and no-face memory of `face_model.analyse_face`); an InputError (naming the speaker, if given) when there is
    none."""
    from .face_model import analyse_face

    try:
        return analyse_face(portrait)
    except InputError as err:
        if not speaker:
            raise
        raise InputError(f"Portrait of {speaker[:40]!r}: {err}") from err


def aligned_identity(portrait: np.ndarray, speaker: str, geometry: Any = None, animator: Any = None) -> np.ndarray:
    """The portrait's face aligned to the 128×96 base framing (an image already 128×96 is used as it is);
    `geometry`: the face as found (`find_face`) or placed by hand (`manual_geometry`); None = find it here.

    With 68 landmarks (mapped from the face model's mesh, or face-alignment's) and an animator that aligns to its own model (SDA: its
    mean face, 5 stable points, as the original), the animator's alignment is used; otherwise the canonical one."""
    from modules.face.align import align_face

    geometry = geometry if geometry is not None else find_face(portrait, speaker)
    if geometry.method == "aligned":
        return portrait
    model_align = getattr(animator, "align", None)
    if geometry.landmarks is not None and callable(model_align):
        return np.ascontiguousarray(model_align(portrait, geometry.landmarks), dtype=np.uint8)
    return np.ascontiguousarray(align_face(portrait, geometry).image, dtype=np.uint8)


def manual_geometry(project, speaker: str, portrait: np.ndarray) -> Any:
    """The face geometry the user placed by hand in the cast (`CastEntry.face_box`), else None (detect)."""
    entry = project.cast.get(speaker)
    box = getattr(entry, "face_box", None)
    return None if box is None else geometry_from_box(portrait, tuple(box))


def sda_template() -> np.ndarray:
    """SDA's template face (`<data>/sda/template.png|bmp|jpg`, 128×96): the identity when `sda_identity` is
    "template"."""
    folder = data_dir() / "sda"
    for name in SDA_TEMPLATE_NAMES:
        path = folder / name
        if path.is_file():
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None or image.shape[:2] != BASE_SHAPE:
                raise InputError(f"The SDA template {path} must be a {BASE_SHAPE[0]}×{BASE_SHAPE[1]} (H×W) image.")
            return np.ascontiguousarray(image[..., ::-1])
    raise ModelUnavailableError(f"No SDA template face: put a {BASE_SHAPE[0]}×{BASE_SHAPE[1]} (H×W) aligned face "
                                f"image at {folder / SDA_TEMPLATE_NAMES[0]}, or set the SDA identity to \"portrait\".")


@dataclass
class SpeakerFace:
    """One speaker of a render: the portrait, its face found once (or placed by hand), and the base identity."""

    name: str
    portrait: np.ndarray
    portrait_hash: str
    identity_hash: str
    _face: Any = None                       # FaceGeometry: placed by hand, else found on first use
    _identity: np.ndarray | None = None     # SDA's template face, or the aligned portrait once made

    def face(self) -> Any:
        if self._face is None:
            self._face = find_face(self.portrait, self.name)
        return self._face

    def identity(self, animator: Any = None) -> np.ndarray:
        """The base stage's identity image (`animator`: the loaded base model, which may align faces its own way)."""
        if self._identity is None:
            self._identity = aligned_identity(self.portrait, self.name, self.face(), animator)
        return self._identity


def speaker_faces(project, speakers: list[str], base_name: str) -> dict[str, SpeakerFace]:
    """Each speaker's portrait and identity hashes (nothing detected yet: faces are found on first use).

    SDA aligns a face to its own mean face through 68 landmarks (mapped from the face model's mesh, or
    face-alignment's when cached); the canonical framing comes from the same landmarks: which alignment runs is
    part of the identity's hash."""
    use_template = base_name == "sda" and project.settings.sda_identity == "template"
    alignment = "sda-68:mesh" if base_name == "sda" else "canonical:mesh"
    faces: dict[str, SpeakerFace] = {}
    for speaker in speakers:
        portrait = load_portrait_image(project, portrait_ref(project, speaker), speaker)
        geometry = manual_geometry(project, speaker, portrait)
        portrait_hash = image_hash(portrait)
        if geometry is not None:   # a hand-placed face is part of what the identity and the clip depend on
            portrait_hash += ":box" + ",".join(f"{v:.1f}" for v in project.cast[speaker].face_box)
        if use_template:
            template = sda_template()
            faces[speaker] = SpeakerFace(speaker, portrait, portrait_hash, "template:" + image_hash(template),
                                         geometry, template)
        else:
            faces[speaker] = SpeakerFace(speaker, portrait, portrait_hash, f"aligned:{alignment}:{portrait_hash}",
                                         geometry)
    return faces


# -- the Cast page's face panel ----------------------------------------------------------------------------------
BOX_COLOUR = (0, 220, 90)
EYE_COLOUR = (255, 200, 0)


@dataclass(frozen=True)
class FacePreview:
    """What the Cast page shows of a face: the portrait with the box and eyes drawn, and the aligned 128×96 crop."""

    annotated: np.ndarray
    aligned: np.ndarray | None


def detect_face(portrait: np.ndarray, speaker: str = "") -> tuple[Any, str | None]:
    """(geometry, None) when a face is found, else (None, the reason in one sentence)."""
    try:
        return find_face(portrait, speaker), None
    except InputError as err:
        return None, str(err)


def geometry_from_box(portrait: np.ndarray, box: tuple[float, float, float, float]) -> Any:
    """A face placed by hand: the box (x, y, w, h) in portrait pixels, refined by the face model inside it;
    InputError for an unusable box."""
    from .face_model import analyse_face

    return analyse_face(portrait, box)


def face_preview(portrait: np.ndarray, geometry: Any) -> FacePreview:
    """The portrait with the face box and eye points drawn, and the face aligned as the base stage sees it."""
    from modules.face.align import align_face

    shown = np.ascontiguousarray(portrait).copy()
    x, y, w, h = (int(round(v)) for v in geometry.box)
    thickness = max(2, round(max(portrait.shape[:2]) / 200))
    cv2.rectangle(shown, (x, y), (x + w, y + h), BOX_COLOUR, thickness)
    for eye in (geometry.left_eye, geometry.right_eye):
        cv2.circle(shown, (int(round(eye[0])), int(round(eye[1]))), thickness * 2, EYE_COLOUR, -1)
    try:
        aligned: np.ndarray | None = align_face(portrait, geometry).image
    except InputError:
        aligned = None
    return FacePreview(shown, aligned)
