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
from typing import IO

import cv2
import numpy as np

from deepstory_kernel.errors import InputError, ModelUnavailableError

from .atomic import atomic_path
from .paths import paths


def portraits_dir() -> Path:
    """`data/portraits/` of the install; DEEPSTORY_PORTRAITS_DIR overrides it (`deepstory_core.paths`)."""
    return paths().portraits
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
    sample: IO[bytes] = cbook.get_sample_data("grace_hopper.jpg", asfileobj=True)  # type: ignore[assignment]
    with sample as f:
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


MAX_PORTRAIT_BYTES = 64 * 2 ** 20      # an upload larger than this is not a portrait photo
MAX_DECODE_PIXELS = 100_000_000        # refused before decoding: 30000×30000 would need 2.7 GB as RGB
MAX_PORTRAIT_SIDE = 4096               # larger photos are scaled down on load (the uploaded file is kept as it is)
IMAGE_FORMATS = {"PNG", "JPEG", "WEBP", "BMP", "TIFF", "GIF", "PPM"}


def image_header(data: bytes, label: str) -> tuple[int, int]:
    """(width, height) from the image's header alone (nothing decoded); InputError naming `label` when the bytes
    are no image we read, or an image too large to decode."""
    import io
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")          # PIL's DecompressionBombWarning: we check the size ourselves
            with Image.open(io.BytesIO(data)) as image:
                width, height, fmt = int(image.width), int(image.height), image.format
    except Image.DecompressionBombError:
        raise InputError(f"{label} has too many pixels to decode safely; use a photo of at most "
                         f"{MAX_DECODE_PIXELS // 1_000_000} megapixels.") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise InputError(f"{label} is not a readable image; use a PNG or JPEG file.") from None
    if fmt not in IMAGE_FORMATS:
        raise InputError(f"{label} is a {fmt} image, which portraits cannot use; use a PNG or JPEG file.")
    if width < 1 or height < 1:
        raise InputError(f"{label} is an empty image ({width}×{height}); use a photo.")
    if width * height > MAX_DECODE_PIXELS:
        raise InputError(f"{label} is {width}×{height} pixels ({width * height / 1e6:.0f} megapixels); at most "
                         f"{MAX_DECODE_PIXELS // 1_000_000} megapixels can be used — scale the photo down first.")
    return width, height


def decode_image(data: bytes, label: str) -> np.ndarray:
    """Image bytes → RGB uint8, header checked before decoding; photos larger than MAX_PORTRAIT_SIDE are scaled
    down (keeping the aspect ratio), so a 50-megapixel photo costs a 4096-pixel image in every later stage."""
    from modules.face.image import to_rgb_uint8

    image_header(data, label)
    buffer = np.frombuffer(data, dtype=np.uint8)
    img = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED) if buffer.size else None
    if img is None:
        raise InputError(f"{label} is not a readable image; use a PNG or JPEG file.")
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA if img.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    rgb = to_rgb_uint8(img)
    height, width = rgb.shape[:2]
    if max(height, width) > MAX_PORTRAIT_SIDE:
        scale = MAX_PORTRAIT_SIDE / max(height, width)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        rgb = np.ascontiguousarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA))
    return rgb


def read_image(path: str | os.PathLike[str], label: str | None = None) -> np.ndarray:
    """Any image file → RGB uint8 (greyscale/RGBA/16-bit normalised). InputError naming `label` (default: the
    file's name) when it cannot be read."""
    from .inputs import read_bounded

    p = Path(path)
    label = label or f"The portrait {p.name}"
    if not p.exists():
        raise InputError(f"{label} does not exist; upload it again or choose another.")
    try:
        data = read_bounded(p, MAX_PORTRAIT_BYTES, "portrait")
    except InputError as err:
        raise InputError(f"{label}: {err}") from None
    return decode_image(data, label)


def add_portrait_upload(project, source: str | os.PathLike[str] | bytes, label: str, name: str = "") -> str:
    """Store a portrait in the project's uploads — only once it is known to be a usable image (so no other file
    is ever copied in); `source`: a path or the uploaded bytes. Returns the stored name. Used by the CLI's cast
    files and the studio's uploads alike."""
    from .inputs import read_bounded

    if isinstance(source, bytes):
        data = source
        if len(data) > MAX_PORTRAIT_BYTES:
            raise InputError(f"{label} is {len(data) / 2 ** 20:.0f} MB; portraits up to "
                             f"{MAX_PORTRAIT_BYTES // 2 ** 20} MB are supported.")
    else:
        path = Path(source)
        label = f"{label} ({path})"
        data = read_bounded(path, MAX_PORTRAIT_BYTES, "portrait")
        name = name or path.name
    decode_image(data, label)       # header first, then the pixels: a damaged image is refused here, not mid-render
    return project.add_upload(data, name)


def load_portrait(ref: str, project_uploads_dir: str | os.PathLike[str] | None = None,
                  label: str | None = None) -> np.ndarray:
    """`builtin:<id>` or an uploaded file's name (inside `project_uploads_dir`) or path → RGB uint8;
    `label` names the portrait in messages (e.g. "The portrait of 'Alice'"), never the stored hashed name."""
    if ref.startswith(BUILTIN_PREFIX):
        pid = ref[len(BUILTIN_PREFIX):]
        if pid not in _BUILDERS:
            raise InputError(f"There is no built-in portrait '{pid}'; choose one of {', '.join(sorted(_BUILDERS))}.")
        return read_image(_ensure(pid), label)
    path = Path(project_uploads_dir) / Path(ref).name if project_uploads_dir is not None else Path(ref)
    return read_image(path, label)
