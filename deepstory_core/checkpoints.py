"""Loading checkpoint files safely: always `weights_only=True`, with an explicit allow-list per format."""

from __future__ import annotations

import os
from typing import Any, Iterable

import torch


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
