"""Loading checkpoint files safely: always `weights_only=True`, with an explicit allow-list per format.

torch is imported when a checkpoint is loaded, not with this module: fingerprinting weights (what every render
does to key its artifacts) must not cost a torch import — a built-in-only render, or a Ray worker of the
built-in backends, never needs torch."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

from .errors import ModelUnavailableError
from .file_facts import file_fact, sha256_file


def file_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 of the whole file, remembered per exact file (`file_facts`): a file changed anywhere, even in the
    middle to the same size and mtime, gets a new hash."""
    return str(file_fact(path, "sha256", sha256_file))


def weights_fingerprint(paths: Iterable[str | os.PathLike[str]]) -> str:
    """What identifies weight files: per file its name and the hash of its whole content (cached, see
    `file_sha256`). Part of every artifact key made with those weights, so a changed file re-renders its work."""
    digest = hashlib.sha256()
    for path in map(Path, paths):
        digest.update(f"{path.name}:{path.stat().st_size}:{file_sha256(path)}".encode())
    return digest.hexdigest()[:24]


def nonfinite_tensors(obj: Any, prefix: str = "") -> list[str]:
    """Names of the floating-point tensors/arrays inside a loaded checkpoint that hold NaN or infinite values."""
    import torch

    if isinstance(obj, torch.Tensor):
        if obj.is_floating_point() and obj.numel() and not bool(torch.isfinite(obj).all()):
            return [prefix or "<tensor>"]
        return []
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind == "f" and obj.size and not bool(np.isfinite(obj).all()):
            return [prefix or "<array>"]
        return []
    if isinstance(obj, Mapping):
        return [name for key, value in obj.items() for name in nonfinite_tensors(value, f"{prefix}.{key}" if prefix else str(key))]
    if isinstance(obj, (list, tuple)):
        return [name for i, value in enumerate(obj) for name in nonfinite_tensors(value, f"{prefix}[{i}]")]
    return []


def load_checkpoint(path: str | os.PathLike[str], allowed_globals: Iterable[Any] = (), map_location: str | torch.device = "cpu") -> Any:
    """`torch.load(path, weights_only=True)`; `allowed_globals` are the only extra types unpickling may build.

    Raises whatever torch raises (`pickle.UnpicklingError` for a forbidden global, `RuntimeError`/`EOFError` for a
    truncated file); the model registry turns those into messages for the user. Weights holding NaN or infinite
    values (a damaged file that still unpickles) raise ModelUnavailableError naming the tensors.
    """
    import torch

    allowed = list(allowed_globals)
    if allowed:
        with torch.serialization.safe_globals(allowed):
            loaded = torch.load(path, map_location=map_location, weights_only=True)
    else:
        loaded = torch.load(path, map_location=map_location, weights_only=True)
    damaged = nonfinite_tensors(loaded)
    if damaged:
        shown = ", ".join(damaged[:3]) + (f" and {len(damaged) - 3} more" if len(damaged) > 3 else "")
        raise ModelUnavailableError(f"{path} is damaged: NaN or infinite weights in {shown}; replace the file with "
                                    "a good copy.")
    return loaded
