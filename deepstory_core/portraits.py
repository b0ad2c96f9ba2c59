"""Built-in portraits, so a fresh install can animate a story without any upload or download.

They are made at first use from public-domain photographs that ship inside installed packages, and written
atomically under `data/portraits/<id>.png` (not kept in git):
  - `eileen`: scikit-image's `data.astronaut()` — Eileen Collins, NASA photograph;
  - `hopper`: matplotlib's `sample_data/grace_hopper.jpg` — Rear Admiral Grace Hopper, US Navy photograph.
Two different people, so a two-speaker story (the demo) shows two characters.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from deepstory_kernel.errors import InputError, ModelUnavailableError

from .atomic import atomic_path

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

    @property
    def ref(self) -> str:
        """How a cast names it: `builtin:<id>`."""
        return f"{BUILTIN_PREFIX}{self.id}"


def _astronaut() -> np.ndarray:
    from skimage import data

    return np.asarray(data.astronaut())


def _make_eileen() -> np.ndarray:
    """Colour studio portrait, cropped around head and shoulders."""
    return np.ascontiguousarray(_astronaut()[0:400, 96:416])


def _make_hopper() -> np.ndarray:
    """Grace Hopper's portrait as matplotlib ships it (600×512 head and shoulders), read from the package."""
    try:
        from matplotlib import cbook
    except ImportError as exc:
        raise ModelUnavailableError("The built-in portrait 'hopper' comes from matplotlib, which is not installed; "
                                    "run `pip install -r requirements.txt`.") from exc
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        data = np.frombuffer(f.read(), dtype=np.uint8)
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None:
        raise OSError("matplotlib's grace_hopper.jpg could not be decoded")
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


_BUILDERS: dict[str, tuple[str, Callable[[], np.ndarray]]] = {
    "eileen": ("Eileen (astronaut photo, public domain)", _make_eileen),
    "hopper": ("Grace (portrait photo, public domain)", _make_hopper),
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
