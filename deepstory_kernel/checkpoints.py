"""Loading checkpoint files safely: always `weights_only=True`, with an explicit allow-list per format."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch


def weights_fingerprint(paths: Iterable[str | os.PathLike[str]]) -> str:
    """What identifies weight files without reading them whole: per file its name, size and a hash of its first
    and last MiB. Part of every artifact key made with those weights, so replacing a file re-renders its work."""
    digest = hashlib.sha256()
    for path in map(Path, paths):
        size = path.stat().st_size
        digest.update(f"{path.name}:{size}".encode())
        with open(path, "rb") as f:
            digest.update(f.read(1 << 20))
            f.seek(max(0, size - (1 << 20)))
            digest.update(f.read(1 << 20))
    return digest.hexdigest()[:24]


def load_checkpoint(path: str | os.PathLike[str], allowed_globals: Iterable[Any] = (), map_location: str | torch.device = "cpu") -> Any:
    """`torch.load(path, weights_only=True)`; `allowed_globals` are the only extra types unpickling may build.

    Raises whatever torch raises (`pickle.UnpicklingError` for a forbidden global, `RuntimeError`/`EOFError` for a
    truncated file); the model registry turns those into messages for the user.
    """
    allowed = list(allowed_globals)
    if allowed:
        with torch.serialization.safe_globals(allowed):
            return torch.load(path, map_location=map_location, weights_only=True)
    return torch.load(path, map_location=map_location, weights_only=True)
