"""The one cache of loaded models: every network (SDA, FOM, DC-TTS voices, Piper voices, the face model) is loaded
through `load(model_id, loader)` and dropped by `evict(except_stage=...)`, and the studio's memory panel lists
`loaded()`. Ids are the registry's (`deepstory_core.registry`): `base:sda`, `animate:fom`, `dctts:<voice>`, … and
the stage a model serves (what eviction groups by) is the registry's too, never guessed from the id here.

Why evict by stage: a render is stage-major (all voices, then all bases, then all clips), so the models of one
stage are loaded once per render and the previous stage's are dropped before the next loads (a GPU holds one
stage's models at a time).

Adding a model (see also the registry's docstring for its files):
    from deepstory_core import models
    model = models.load("piper:joe", lambda: PiperVoice.load(path, device=models.device()))
The loader runs once; later calls return the same object until the stage is evicted. `limit` caps how many
models of one stage stay loaded (least recently used dropped first) — voices use it, a story may cast many.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from deepstory_kernel.device import get_device, release_memory

# How many models of one stage may stay loaded at once (DC-TTS voices are ~550 MB each at the published sizes).
STAGE_LIMITS = {"voice": 2}
# Stages whose models serve every other stage (the face model finds faces for both base and animate): a stage
# change keeps them; only a full eviction (`evict()`, the memory panel's "Unload models") drops them.
SHARED_STAGES = ("face",)


_FAMILY_STAGES: dict[str, str] = {}   # id prefix → stage; filled by `registry.register_family`


def register_stage(prefix: str, stage: str) -> None:
    _FAMILY_STAGES[prefix] = stage


def stage_of(model_id: str) -> str:
    """The stage a model serves, from the registry's families (`dctts:x` → voice, `animate:fom` → animate);
    ids of unknown families are filed under their prefix."""
    prefix = model_id.split(":", 1)[0]
    return _FAMILY_STAGES.get(prefix, prefix)


class ModelCache:
    """model id → loaded model, least recently used last; `evict()` drops references and returns the memory."""

    def __init__(self, limits: dict[str, int] | None = None) -> None:
        self._models: OrderedDict[str, Any] = OrderedDict()
        self._limits = dict(STAGE_LIMITS if limits is None else limits)
        self._lock = threading.RLock()

    def get(self, model_id: str, loader: Callable[[], Any]) -> Any:
        with self._lock:
            if model_id in self._models:
                self._models.move_to_end(model_id)
                return self._models[model_id]
            model = loader()
            self._models[model_id] = model
            self._enforce_limit(stage_of(model_id))
            return model

    def _enforce_limit(self, stage: str) -> None:
        limit = self._limits.get(stage)
        if limit is None:
            return
        same_stage = [m for m in self._models if stage_of(m) == stage]
        for model_id in same_stage[:max(0, len(same_stage) - limit)]:
            del self._models[model_id]

    def drop(self, model_id: str) -> bool:
        """Forget one model (e.g. its weights changed on disk); True if it was loaded."""
        with self._lock:
            found = self._models.pop(model_id, None) is not None
        if found:
            release_memory()
        return found

    def evict(self, except_stage: str | None = None) -> list[str]:
        """Drop every model not serving `except_stage`; returns the evicted ids."""
        keep = () if except_stage is None else (except_stage, *SHARED_STAGES)
        with self._lock:
            gone = [m for m in self._models if stage_of(m) not in keep]
            for model_id in gone:
                del self._models[model_id]
        if gone:
            release_memory()
        return gone

    def loaded(self) -> list[str]:
        with self._lock:
            return list(self._models)


MODELS = ModelCache()  # the process-wide cache: the CLI, the studio (all its sessions) and the stages share it


def install_cache(cache: ModelCache) -> None:
    """Make `cache` the one the library loads into. The studio passes a cache held by `st.cache_resource`, so its
    models live in Streamlit's resource cache (shared by every session, kept across reruns and page switches) while
    loading and eviction still go through this module's single API."""
    global MODELS
    MODELS = cache


def load(model_id: str, loader: Callable[[], Any]) -> Any:
    """The loaded model `model_id`, loading it with `loader()` on first use."""
    return MODELS.get(model_id, loader)


def evict_models(except_stage: str | None = None) -> list[str]:
    """Drop every loaded model not serving `except_stage` (None: all of them)."""
    return MODELS.evict(except_stage)


def loaded_models() -> list[str]:
    return MODELS.loaded()


def device() -> Any:
    """The device every model is loaded onto (picked once, in deepstory_kernel.device); passed to modules."""
    return get_device()


def memory_report(loaded: list[str] | None = None) -> dict[str, Any]:
    """Process RSS (psutil), the loaded model ids and, with CUDA, allocated / reserved device memory, in MB."""
    import psutil
    import torch

    report: dict[str, Any] = {"rss_mb": psutil.Process(os.getpid()).memory_info().rss / 2 ** 20,
                              "device": str(get_device()),
                              "loaded": list(loaded) if loaded is not None else loaded_models()}
    if torch.cuda.is_available():
        report["cuda_allocated_mb"] = torch.cuda.memory_allocated() / 2 ** 20
        report["cuda_reserved_mb"] = torch.cuda.memory_reserved() / 2 ** 20
    return report
