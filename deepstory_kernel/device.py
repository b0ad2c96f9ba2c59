"""The one place that decides where tensors live and in which precision.

CUDA when present, else CPU; `DEEPSTORY_DEVICE=cpu|cuda` overrides. On CPU everything stays float32 (bfloat16 is
7–9× slower on the CPUs we measured); autocast to bfloat16 is only offered on CUDA.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import torch


@functools.lru_cache(maxsize=1)
def get_device() -> torch.device:
    requested = os.environ.get("DEEPSTORY_DEVICE", "").strip().lower()
    if requested:
        return torch.device(requested)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def inference_context(device: torch.device | None = None, fast_precision: bool = False) -> contextlib.AbstractContextManager:
    """`torch.inference_mode()`, plus bfloat16 autocast on CUDA when `fast_precision` is asked for."""
    device = device or get_device()

    @contextlib.contextmanager
    def _ctx() -> Iterator[None]:
        with torch.inference_mode():
            if fast_precision and device.type == "cuda":
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    yield
            else:
                yield

    return _ctx()


F = TypeVar("F", bound=Callable[..., Any])


def inference(fn: F) -> F:
    """The inference context as a decorator, for every network's forward code (functions and generators; a
    generator runs each step under it, never holding it across a `yield`). FOM, which may add bfloat16 autocast
    on CUDA, enters `inference_context` per step itself; both are `torch.inference_mode()` underneath."""
    return torch.inference_mode()(fn)


def release_memory() -> None:
    """Called after models are evicted: return freed memory to the OS / the CUDA driver."""
    import gc

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
