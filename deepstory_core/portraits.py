"""Built-in portraits, so a fresh install can animate a story without any upload or download.

They are made at first use from photographs that ship inside scikit-image (`skimage.data.astronaut()`: Eileen
Collins, NASA, public domain) and written atomically under `data/portraits/<id>.png`. scikit-image ships only one
usable frontal face, so the second character is the same photograph mirrored and given a clearly different
photographic treatment (monochrome film look with grain and a tighter crop).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from .atomic import atomic_path
from .errors import InputError

DEFAULT_PORTRAITS_DIR = Path(__file__).resolve().parents[1] / "data" / "portraits"


def portraits_dir() -> Path:
    """`data/portraits/` of the install; DEEPSTORY_PORTRAITS_DIR overrides it (tests, read-only installs)."""
    return Path(os.environ.get("DEEPSTORY_PORTRAITS_DIR", DEFAULT_PORTRAITS_DIR))
BUILTIN_PREFIX = "builtin:"


@dataclass(frozen=True)
class PortraitInfo:
    id: str
    label: str
    path: Path


def _astronaut() -> np.ndarray:
    from skimage import data

    return np.asarray(data.astronaut())


def _make_eileen() -> np.ndarray:
    """Colour studio portrait, cropped around head and shoulders."""
    return np.ascontiguousarray(_astronaut()[0:400, 96:416])


def _make_morgan() -> np.ndarray:
    """Mirrored, tighter, monochrome silver-gelatin look with fine grain: reads as a different archive photo."""
    img = _astronaut()[20:360, 140:400][:, ::-1].astype(np.float32)
    gray = img @ np.array([0.30, 0.59, 0.11], np.float32)
    gray = np.clip((gray - 128.0) * 1.25 + 118.0, 0, 255)                  # stronger contrast
    tone = np.stack([gray * 1.0, gray * 0.96, gray * 0.88], axis=2)          # cool-warm silver tone
    rng = np.random.default_rng(1969)
    grain = cv2.GaussianBlur(rng.normal(0, 6.0, gray.shape).astype(np.float32), (0, 0), 0.7)[:, :, None]
    h, w = gray.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    vignette = 1.0 - 0.35 * (((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2)[:, :, None] / 2
    out = np.clip((tone + grain) * vignette, 0, 255).astype(np.uint8)
    return cv2.resize(out, (w * 3 // 2, h * 3 // 2), interpolation=cv2.INTER_CUBIC)


_BUILDERS: dict[str, tuple[str, Callable[[], np.ndarray]]] = {
    "eileen": ("Eileen (colour studio portrait)", _make_eileen),
    "morgan": ("Morgan (monochrome archive photo)", _make_morgan),
}


def _ensure(portrait_id: str) -> Path:
    path = portraits_dir() / f"{portrait_id}.png"
    if not path.is_file():
        rgb = _BUILDERS[portrait_id][1]()
        with atomic_path(path) as tmp:
            if not cv2.imwrite(str(tmp), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
                raise OSError(f"could not encode {path}")
    return path


def builtin_portraits() -> list[PortraitInfo]:
    """The built-in characters, each prepared on first use."""
    return [PortraitInfo(pid, label, _ensure(pid)) for pid, (label, _) in _BUILDERS.items()]


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Any image file → RGB uint8 (greyscale/RGBA/16-bit normalised). InputError when it cannot be read."""
    from modules.face.image import to_rgb_uint8

    p = Path(path)
    if not p.is_file():
        raise InputError(f"The portrait {p.name} does not exist; upload it again or choose another.")
    data = np.fromfile(str(p), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if img is None:
        raise InputError(f"The portrait {p.name} is not a readable image; use a PNG or JPEG file.")
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA if img.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    return to_rgb_uint8(img)


def load_portrait(ref: str, project_uploads_dir: str | os.PathLike[str] | None = None) -> np.ndarray:
    """`builtin:<id>` or an uploaded file's name (inside `project_uploads_dir`) or path → RGB uint8."""
    if ref.startswith(BUILTIN_PREFIX):
        pid = ref[len(BUILTIN_PREFIX):]
        if pid not in _BUILDERS:
            raise InputError(f"There is no built-in portrait '{pid}'; choose one of {', '.join(sorted(_BUILDERS))}.")
        return read_image(_ensure(pid))
    path = Path(project_uploads_dir) / Path(ref).name if project_uploads_dir is not None else Path(ref)
    return read_image(path)
