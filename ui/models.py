"""The studio's model loaders: one `st.cache_resource` function per stage, evicted before another stage runs.

The render engine asks a model cache for `get(key, loader)` / `evict(keep=...)`; `StreamlitModelCache` answers
with these cached functions, so loaded models are shared by every browser session of this server and survive
reruns, while a stage change clears the other stages' loaders and releases memory (gc + CUDA cache).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import streamlit as st

from deepstory_core.device import release_memory

_STAGE_OF_PREFIX = {"voice": "voice", "base": "base", "motion": "animate"}


@st.cache_resource(show_spinner="Loading voice model…", max_entries=4)
def load_voice_model(key: str, _loader: Callable[[], Any]) -> Any:
    return _loader()


@st.cache_resource(show_spinner="Loading base animator…", max_entries=2)
def load_base_model(key: str, _loader: Callable[[], Any]) -> Any:
    return _loader()


@st.cache_resource(show_spinner="Loading motion transfer…", max_entries=2)
def load_motion_model(key: str, _loader: Callable[[], Any]) -> Any:
    return _loader()


_LOADERS = {"voice": load_voice_model, "base": load_base_model, "animate": load_motion_model}


class StreamlitModelCache:
    """Engine-facing adapter: keys look like `base:sda`, `motion:fom`, `voice:dctts:LJ`."""

    def __init__(self) -> None:
        self._loaded: set[str] = set()

    @staticmethod
    def _stage(key: str) -> str:
        return _STAGE_OF_PREFIX.get(key.split(":", 1)[0], "base")

    def get(self, key: str, loader: Callable[[], Any]) -> Any:
        model = _LOADERS[self._stage(key)](key, loader)
        self._loaded.add(key)
        return model

    def evict(self, keep: Iterable[str] = ()) -> None:
        keep_stages = {self._stage(k) for k in keep}
        for stage, function in _LOADERS.items():
            if stage not in keep_stages:
                function.clear()
        self._loaded = {k for k in self._loaded if self._stage(k) in keep_stages}
        release_memory()

    def loaded(self) -> list[str]:
        return sorted(self._loaded)


@st.cache_resource
def model_cache() -> StreamlitModelCache:
    """One adapter per server process, installed into the engine by `studio.py`."""
    return StreamlitModelCache()
