"""The studio's model loaders: one `st.cache_resource` function per stage, evicted before another stage runs.

The render engine asks its model cache for `get(key, loader)` / `evict(except_stage=...)` / `loaded()` (the same
interface as `deepstory_core.models.ModelCache`); `StreamlitModelCache` answers with these cached functions, so
loaded models are shared by every browser session of this server and survive reruns, while a stage change clears
the other stages' loaders and releases memory (gc + CUDA cache).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import streamlit as st

from deepstory_core.models import stage_of
from deepstory_kernel.device import release_memory

# Spinners are off: the engine loads models from background job threads, which have no page to draw on.


@st.cache_resource(show_spinner=False, max_entries=4)
def load_voice_model(key: str, _loader: Callable[[], Any]) -> Any:
    return _loader()


@st.cache_resource(show_spinner=False, max_entries=2)
def load_base_model(key: str, _loader: Callable[[], Any]) -> Any:
    return _loader()


@st.cache_resource(show_spinner=False, max_entries=2)
def load_motion_model(key: str, _loader: Callable[[], Any]) -> Any:
    return _loader()


_LOADERS = {"voice": load_voice_model, "base": load_base_model, "motion": load_motion_model}


def _stage(key: str) -> str:
    """`sda` → base, `fom` → motion, `base:builtin` → base, `dctts:x` → voice; anything else counts as base."""
    stage = stage_of(key)
    return stage if stage in _LOADERS else "base"


class StreamlitModelCache:
    """Engine-facing adapter over the cached loaders; remembers which keys are loaded for the memory panel."""

    def __init__(self) -> None:
        self._loaded: set[str] = set()
        self._lock = threading.Lock()

    def get(self, key: str, loader: Callable[[], Any]) -> Any:
        model = _LOADERS[_stage(key)](key, loader)
        with self._lock:
            self._loaded.add(key)
        return model

    def evict(self, except_stage: str | None = None) -> list[str]:
        """Clear every stage's loader but `except_stage`; returns the keys that were loaded and are gone."""
        for stage, function in _LOADERS.items():
            if stage != except_stage:
                function.clear()
        with self._lock:
            gone = sorted(k for k in self._loaded if _stage(k) != except_stage)
            self._loaded -= set(gone)
        release_memory()
        return gone

    def loaded(self) -> list[str]:
        with self._lock:
            return sorted(self._loaded)


@st.cache_resource
def model_cache() -> StreamlitModelCache:
    """One adapter per server process, installed into the engine by `studio.py`."""
    return StreamlitModelCache()
