"""Model lifetime: loaded models are cached by backend id and evicted before another stage needs the memory.

Plain Python on purpose: the CLI uses `ModelCache` directly; the studio wraps its own `st.cache_resource` loaders
around the same plain loader functions (`load_sda(path, device)`, …) and calls `evict` / `memory_report` from here.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deepstory_kernel.device import get_device, release_memory


def stage_of(backend_id: str) -> str:
    """The pipeline stage a backend serves (voices are `dctts:<name>`, models `sda` / `fom`)."""
    if backend_id.startswith("dctts:") or backend_id.endswith(":voice"):
        return "voice"
    named = {"sda": "base", "fom": "motion", "face-alignment": "faces"}
    return named.get(backend_id, backend_id.split(":", 1)[0])   # "base:builtin" → "base"


class ModelCache:
    """backend id → loaded model. `evict()` drops the references and returns the memory to the OS / driver."""

    def __init__(self) -> None:
        self._models: dict[str, Any] = {}
        self._lock = threading.RLock()

    def get(self, backend_id: str, loader: Callable[[], Any]) -> Any:
        with self._lock:
            if backend_id not in self._models:
                self._models[backend_id] = loader()
            return self._models[backend_id]

    def evict(self, except_stage: str | None = None) -> list[str]:
        """Drop every model not serving `except_stage`; returns the evicted ids."""
        with self._lock:
            gone = [b for b in self._models if except_stage is None or stage_of(b) != except_stage]
            for backend_id in gone:
                del self._models[backend_id]
        if gone:
            release_memory()
        return gone

    def loaded(self) -> list[str]:
        with self._lock:
            return list(self._models)

    def memory_report(self) -> dict[str, Any]:
        return memory_report(self.loaded())


def memory_report(loaded: list[str] | None = None) -> dict[str, Any]:
    """Process RSS (psutil) and, with CUDA, allocated / reserved device memory, in MB."""
    import psutil
    import torch

    report: dict[str, Any] = {"rss_mb": psutil.Process(os.getpid()).memory_info().rss / 2 ** 20,
                              "device": str(get_device())}
    if loaded is not None:
        report["loaded"] = list(loaded)
    if torch.cuda.is_available():
        report["cuda_allocated_mb"] = torch.cuda.memory_allocated() / 2 ** 20
        report["cuda_reserved_mb"] = torch.cuda.memory_reserved() / 2 ** 20
    return report


# Plain loaders (path → ready model on the project device), shared by the CLI's cache and the studio's.

def load_sda(path: str | os.PathLike[str], device: Any = None) -> Any:
    """grid.dat → `SdaAnimator`; ModelUnavailableError (saying which file to put where) if the file is unusable."""
    from modules.sda.animator import load_sda as _load

    from . import registry

    registry.require_ready(registry.sda_entry(path=Path(path)))
    return _load(Path(path), device if device is not None else get_device())


def load_fom(checkpoint_path: str | os.PathLike[str], config_path: str | os.PathLike[str], device: Any = None) -> Any:
    from modules.fom.loader import load_fom as _load

    return _load(checkpoint_path, config_path, device if device is not None else get_device())


MODELS = ModelCache()  # the process-wide cache used by the CLI and stages
