"""Backends for bench_ray.py: a sleep-based stand-in for a model of known per-frame cost, and a silent voice whose
sentence lengths are written in the text. Importable by Ray workers (`bench.ray_sim_backends`, the checkout is on
their code search path), so the executor ships them like any backend spec.

A sleeping worker uses no CPU, so a 2-core machine can host 8 of them and measure the scheduling itself.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from deepstory_core.backends import BackendSpec
from deepstory_kernel.contracts import Speech
from deepstory_kernel.media import BASE_SHAPE, CLIP_SIZE, SAMPLE_RATE, SAMPLES_PER_FRAME

BATCH = 8


class SleepBase:
    """Base frames (the identity, unchanged) after sleeping `seconds_per_frame` per frame, batch by batch."""

    def __init__(self, seconds_per_frame: float) -> None:
        self.seconds_per_frame = seconds_per_frame

    def animate(self, audio: np.ndarray, identity: np.ndarray, seed: int, phonemes: Sequence = (),
                style: object = None) -> Iterator[np.ndarray]:
        frames = len(audio) // SAMPLES_PER_FRAME
        for start in range(0, frames, BATCH):
            count = min(BATCH, frames - start)
            time.sleep(count * self.seconds_per_frame)
            yield np.broadcast_to(identity, (count, *BASE_SHAPE, 3)).copy()


class SleepMotion:
    """256×256 frames (a grey square) after sleeping `seconds_per_frame` per frame, batch by batch."""

    def __init__(self, seconds_per_frame: float) -> None:
        self.seconds_per_frame = seconds_per_frame

    def transfer(self, portrait: np.ndarray, driving: Iterable[np.ndarray], *, full_frame: bool = False,
                 geometry: object = None) -> Iterator[np.ndarray]:
        for batch in driving:
            time.sleep(len(batch) * self.seconds_per_frame)
            yield np.full((len(batch), CLIP_SIZE, CLIP_SIZE, 3), 128, np.uint8)


def sleep_specs(base_s: float, animate_s: float, name: str = "sleep") -> tuple[BackendSpec, BackendSpec]:
    """Base and animate specs of the given per-frame costs (their closures travel to the workers by value)."""

    def load_base() -> SleepBase:
        return SleepBase(base_s)

    def load_motion() -> SleepMotion:
        return SleepMotion(animate_s)

    return (BackendSpec("base", name, load_base, lambda: f"{name}-base-{base_s}"),
            BackendSpec("animate", name, load_motion, lambda: f"{name}-animate-{animate_s}"))


class FramesVoice:
    """Silent sentences whose length in frames is the number in the text ("[37]" → 37 frames)."""

    def __init__(self, voice_id: str) -> None:
        self.voice_id = voice_id

    def synthesize(self, text: str) -> Speech:
        match = re.search(r"\[(\d+)\]", text)
        frames = int(match.group(1)) if match else 1
        t = np.arange(frames * SAMPLES_PER_FRAME) / SAMPLE_RATE
        return Speech((0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), SAMPLE_RATE)   # nothing to trim
