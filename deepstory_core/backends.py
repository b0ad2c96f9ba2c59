"""The base and animate backends: how each is loaded (through the one model cache) and what identifies its output.

A backend's id is its registry id, `<stage>:<name>` (`base:builtin`, `base:sda`, `animate:builtin`,
`animate:fom`); the same id is the model cache's key, the memory panel's line and the `backend` field of every
artifact key the backend makes. Adding a backend: `register_backend(BackendSpec("base", "mine", load,
fingerprint))`; its weights' files belong in a registry entry (`deepstory_core.registry`) so the Models page can
say which file goes where.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepstory_kernel.checkpoints import weights_fingerprint
from deepstory_kernel.contracts import BaseAnimator, MotionTransfer
from deepstory_kernel.errors import InputError, ModelUnavailableError

from . import models, registry

STAGES = ("base", "animate")


@dataclass(frozen=True)
class BackendSpec:
    """How to load a backend, and what identifies its output (id + weights checksum) without loading it."""

    stage: str                          # "base" | "animate"
    name: str                           # "builtin", "sda", "fom", ...
    load: Callable[[], Any]
    fingerprint: Callable[[], str]      # weights checksum or code version: part of every artifact key
    supports_full_frame: bool = False
    needs_weights: bool = False         # the user brings its files (the registry entry of `backend_id`)
    honours_style: bool = False         # base: `animate(..., style=MotionStyle)` follows the cast's motion sliders

    @property
    def backend_id(self) -> str:
        return f"{self.stage}:{self.name}"


def _source_hash(packages: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for package in packages:
        module_file = importlib.import_module(package).__file__
        assert module_file is not None
        for source in sorted(Path(module_file).parent.glob("*.py")):
            digest.update(source.name.encode())
            digest.update(source.read_bytes())
    return digest.hexdigest()[:24]


_SOURCE_HASHES: dict[tuple[str, ...], str] = {}   # per process: the sources do not change under a running program


def _source_fingerprint(*packages: str) -> Callable[[], str]:
    """A built-in backend's fingerprint: a hash of its packages' source files, so any change to the code that
    makes its frames (lip-sync, transfer, face alignment) gives new artifact keys — no version to forget. Read once
    per process (every plan and preview asks for it); a plain closure, so Ray can ship it to workers."""

    def fingerprint() -> str:
        if packages not in _SOURCE_HASHES:
            _SOURCE_HASHES[packages] = _source_hash(packages)
        return _SOURCE_HASHES[packages]

    return fingerprint


def require_weights(backend_id: str) -> None:
    """ModelUnavailableError with the registry's fix message when a backend's weights are missing."""
    result = registry.check(registry.entry(backend_id))
    if not result.ready:
        raise ModelUnavailableError("; ".join(part.rstrip(".") for part in (result.message, result.fix) if part) + ".")


def _registry_fingerprint(backend_id: str) -> Callable[[], str]:
    """Weights fingerprint without loading them: per file its size and a hash of its first and last MiB."""

    def fingerprint() -> str:
        require_weights(backend_id)
        return weights_fingerprint(model_file.path for model_file in registry.entry(backend_id).files)

    return fingerprint


# -- plain loaders: files → a ready model on the given device ---------------------------------------------------

def load_sda(path: str | os.PathLike[str], device: Any) -> Any:
    """grid.dat → `SdaAnimator`; ModelUnavailableError (saying which file to put where) if the file is unusable."""
    from modules.sda.animator import load_sda as _load

    registry.require_ready(registry.sda_entry(path=Path(path)))
    return _load(Path(path), device)


def load_fom(checkpoint_path: str | os.PathLike[str], config_path: str | os.PathLike[str], device: Any) -> Any:
    from modules.fom.loader import load_fom as _load

    return _load(checkpoint_path, config_path, device)


class FaceCropped:
    """FOM animates a 256×256 face crop (vox-256 framing), not a whole portrait: crop it first; for a full-frame
    export its crops are pasted back into the portrait, feathered."""

    def __init__(self, animator: Any) -> None:
        self.animator = animator

    def transfer(self, portrait: np.ndarray, driving: Iterable[np.ndarray], *,
                 full_frame: bool = False, geometry: Any = None) -> Iterator[np.ndarray]:
        from modules.face.align import crop_square_256

        if full_frame:
            from modules.classic.paste import paste_back

            crop = crop_square_256(portrait, geometry)
            return paste_back(portrait, self.animator.transfer(crop.image, driving), crop.matrix)
        if portrait.shape[:2] != (256, 256) or geometry is not None:
            portrait = crop_square_256(portrait, geometry).image
        return iter(self.animator.transfer(portrait, driving))


def _builtin_base() -> BaseAnimator:
    from modules.classic.lipsync import BuiltinLipSync

    return BuiltinLipSync()


def _builtin_animate() -> MotionTransfer:
    from modules.classic.transfer import BuiltinMotionTransfer

    return BuiltinMotionTransfer()


def _sda_base() -> BaseAnimator:
    return load_sda(registry.sda_entry().files[0].path, models.device())


def _fom_animate() -> MotionTransfer:
    require_weights("animate:fom")
    from modules.fom.animator import FomAnimator

    files = registry.fom_entry().files
    device = models.device()
    return FaceCropped(FomAnimator(*load_fom(files[0].path, files[1].path, device), device=device))


_BUILTIN_CODE = _source_fingerprint("modules.classic", "modules.face")
BASE_BACKENDS: dict[str, BackendSpec] = {
    "builtin": BackendSpec("base", "builtin", _builtin_base, _BUILTIN_CODE, honours_style=True),
    "sda": BackendSpec("base", "sda", _sda_base, _registry_fingerprint("base:sda"), needs_weights=True),
}
ANIMATE_BACKENDS: dict[str, BackendSpec] = {
    "builtin": BackendSpec("animate", "builtin", _builtin_animate, _BUILTIN_CODE, supports_full_frame=True),
    "fom": BackendSpec("animate", "fom", _fom_animate, _registry_fingerprint("animate:fom"), needs_weights=True,
                       supports_full_frame=True),
}
TABLES = {"base": BASE_BACKENDS, "animate": ANIMATE_BACKENDS}


def register_backend(spec: BackendSpec) -> None:
    """Add a backend (e.g. a cheap one for tests) under `spec.name` of its stage."""
    TABLES[spec.stage][spec.name] = spec


def backend(stage: str, name: str) -> BackendSpec:
    """The spec of `name` for `stage`; InputError naming the choices for an unknown one."""
    table = TABLES[stage]
    if name not in table:
        raise InputError(f"Unknown {stage} backend {name!r}; choose one of {', '.join(sorted(table))}.")
    return table[name]


def full_frame_problem(animate_name: str) -> str:
    """The one full-frame rule: '' when the animate backend can paste the face back into the whole portrait,
    else the sentence saying why not (shown by the studio, raised by the engine and the CLI)."""
    spec = ANIMATE_BACKENDS.get(animate_name)
    if spec is not None and spec.supports_full_frame:
        return ""
    return (f"Full-frame export needs the built-in motion transfer; the {animate_name} backend makes "
            f"256×256 clips only.")


def require_full_frame(animate_name: str) -> None:
    problem = full_frame_problem(animate_name)
    if problem:
        raise InputError(problem)


def availability(stage: str, name: str) -> tuple[bool, str]:
    """(usable, why not) from the model registry; built-in and test backends need no files."""
    spec = backend(stage, name)
    if not spec.needs_weights:
        return True, ""
    try:
        require_weights(spec.backend_id)
    except ModelUnavailableError as err:
        return False, str(err)
    return True, ""


def load_backend(spec: BackendSpec) -> Any:
    """The backend's model from the one cache, after evicting the models of the other stages."""
    models.evict_models(except_stage=spec.stage)
    return models.load(spec.backend_id, spec.load)


def make_base_animator(name: str = "builtin") -> BaseAnimator:
    return load_backend(backend("base", name))


def make_animator(name: str = "builtin") -> MotionTransfer:
    return load_backend(backend("animate", name))
