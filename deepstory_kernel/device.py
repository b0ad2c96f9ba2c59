"""The one place that decides where tensors live and in which precision.

CUDA when present, else CPU; `DEEPSTORY_DEVICE=cpu|cuda` overrides. On CPU everything stays float32 (bfloat16 is
7–9× slower on the CPUs we measured); reduced precision (bf16/fp16 autocast) is the default only on CUDA
(`DEEPSTORY_PRECISION=fp32|bf16|fp16` overrides), and a model asks for it only where its outputs stay within
its reference tolerance. Batch sizes on CUDA come from the free memory (`batch_for_free_memory`).

torch is imported on first use, not with this module: the model cache and a render of the built-in backends (or
a Ray worker of them) import this module but never need torch.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import torch

PRECISIONS = ("fp32", "bf16", "fp16")


@functools.lru_cache(maxsize=1)
def get_device() -> torch.device:
    import torch

    requested = os.environ.get("DEEPSTORY_DEVICE", "").strip().lower()
    if requested:
        return torch.device(requested)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def default_precision(device: torch.device | None = None) -> str:
    """fp32 on CPU; fp16 on CUDA, unless `DEEPSTORY_PRECISION` says otherwise. Why fp16, not bf16: measured on
    the reference models, bf16 (8 mantissa bits) moves SDA's frames by 8 levels of 255 and FOM's decoder by 12,
    fp16 (11 bits) by at most 1–2 — within the tolerance; each model applies it only where that holds."""
    requested = os.environ.get("DEEPSTORY_PRECISION", "").strip().lower()
    if requested:
        if requested not in PRECISIONS:
            raise ValueError(f"DEEPSTORY_PRECISION={requested!r}: choose one of {', '.join(PRECISIONS)}")
        return requested
    device = device or get_device()
    return "fp16" if device.type == "cuda" else "fp32"


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """Autocast to `precision` ("bf16" | "fp16") on `device`; "fp32": nothing. Honoured on any device when asked
    (tests check the numerics on CPU); `default_precision` decides what is asked."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    if precision == "fp32":
        return contextlib.nullcontext()
    import torch

    return torch.autocast(device.type, dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


def strict_fp32(device: torch.device) -> contextlib.AbstractContextManager:
    """On CUDA, convolutions without TF32 (10 mantissa bits, like fp16): FOM's keypoints and dense motion move
    far beyond the tolerance in fp16, so they must not silently run in TF32 on Ampere and later GPUs."""
    if device.type != "cuda":
        return contextlib.nullcontext()
    import torch

    cudnn = torch.backends.cudnn
    return cudnn.flags(enabled=cudnn.enabled, benchmark=cudnn.benchmark, deterministic=cudnn.deterministic,
                       allow_tf32=False)


def inference_context(device: torch.device | None = None, precision: str = "fp32") -> contextlib.AbstractContextManager:
    """`torch.inference_mode()`, plus autocast to `precision` ("bf16" | "fp16"; "fp32" = none), honoured on any
    device (tests check CPU numerics)."""
    device = device or get_device()
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: choose one of {', '.join(PRECISIONS)}")

    @contextlib.contextmanager
    def _ctx() -> Iterator[None]:
        import torch

        with torch.inference_mode(), autocast(device, precision):
            yield

    return _ctx()


F = TypeVar("F", bound=Callable[..., Any])


def inference(fn: F) -> F:
    """The inference context as a decorator, for every network's forward code (functions and generators; a
    generator runs each step under it, never holding it across a `yield`). FOM and SDA, which may add fp16
    autocast on CUDA, enter `autocast` per step themselves; both are `torch.inference_mode()` underneath."""
    import torch

    return torch.inference_mode()(fn)


def batch_for_free_memory(device: torch.device, bytes_per_item: float, *, fraction: float = 0.6,
                          limit: int = 64, default: int = 4) -> int:
    """How many items (frames) fit in `fraction` of the free CUDA memory, `bytes_per_item` each (measured by the
    caller on a first small batch); `default` on other devices. At least 1, at most `limit`."""
    if device.type != "cuda" or bytes_per_item <= 0:
        return default
    import torch

    free, _ = torch.cuda.mem_get_info(device)
    return max(1, min(limit, int(free * fraction / bytes_per_item)))


def release_memory() -> None:
    """Called after models are evicted: return freed memory to the OS / the CUDA driver."""
    import gc

    gc.collect()
    torch = sys.modules.get("torch")      # nothing of torch's to release if it was never imported
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
