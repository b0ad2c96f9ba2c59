"""Cheap but real base/animate backends for the render-engine tests (the built-ins are tested elsewhere).

They honour the stage contracts exactly — frame counts from the audio, output depends on audio, identity, seed
and portrait — at a tiny fraction of the built-ins' cost, so a story of 150+ chunks renders in seconds.
Also importable by the kill-test's subprocess (`python -m tests.render_backends PROJECT OUT`).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator, Sequence

import cv2
import numpy as np

from deepstory_core.backends import BackendSpec, register_backend
from deepstory_kernel.contracts import MotionStyle, Speech
from deepstory_kernel.media import BASE_SHAPE, CLIP_SIZE, SAMPLES_PER_FRAME

LOADS = {"base": 0, "animate": 0}


class CheapBase:
    """Frame t = identity brightened by the audio's RMS in frame t (× the style's mouth amplitude), plus a seeded
    per-chunk offset."""

    def animate(self, audio: np.ndarray, identity: np.ndarray, seed: int, phonemes: Sequence = (),
                style: MotionStyle | None = None) -> Iterator[np.ndarray]:
        mouth = 1.0 if style is None else style.mouth
        delay = float(os.environ.get("DEEPSTORY_TEST_BATCH_DELAY", "0"))
        frames = len(audio) // SAMPLES_PER_FRAME
        offset = np.random.default_rng(seed).integers(0, 40)
        for start in range(0, frames, 8):
            stop = min(frames, start + 8)
            block = np.asarray(audio[start * SAMPLES_PER_FRAME: stop * SAMPLES_PER_FRAME]).reshape(stop - start, -1)
            rms = np.sqrt((block.astype(np.float32) ** 2).mean(axis=1))
            lift = (np.minimum(rms * 600 * mouth, 120) + offset).astype(np.int16)
            batch = np.clip(identity[None].astype(np.int16) + lift[:, None, None, None], 0, 255).astype(np.uint8)
            if delay:
                time.sleep(delay)
            yield batch


class CheapMotion:
    """Base frame scaled ×2 into a 256×256 canvas (FOM's padding) blended with the portrait's mean colour."""

    def transfer(self, portrait: np.ndarray, driving: Iterable[np.ndarray], full_frame: bool = False,
                 geometry: object = None) -> Iterator[np.ndarray]:
        delay = float(os.environ.get("DEEPSTORY_TEST_BATCH_DELAY", "0"))
        tint = np.asarray(portrait, dtype=np.float32).reshape(-1, 3).mean(axis=0).astype(np.uint8)
        for batch in driving:
            if full_frame:  # the portrait at its own size, brightened by the driving frame's mean
                lift = batch.reshape(len(batch), -1).mean(axis=1).astype(np.int16) // 4
                yield np.clip(portrait[None].astype(np.int16) + lift[:, None, None, None], 0, 255).astype(np.uint8)
                continue
            out = np.empty((len(batch), CLIP_SIZE, CLIP_SIZE, 3), np.uint8)
            out[:] = tint
            for index, frame in enumerate(batch):  # (128, 96) → (256, 192), padded 32 px left and right
                out[index, :, 32:224] = cv2.resize(frame, (192, 256), interpolation=cv2.INTER_NEAREST)
            if delay:
                time.sleep(delay)
            yield out


class CheapVoice:
    """A tone whose length depends on the text (odd sample counts): fast, and every sentence differs."""

    def __init__(self, voice_id: str) -> None:
        self.voice_id = voice_id
        self.pitch = 180.0 + 40 * (sum(map(ord, voice_id)) % 5)

    def synthesize(self, text: str) -> Speech:
        samples = 3001 + 887 * (len(text) % 7) + sum(map(ord, text)) % 331
        t = np.arange(samples) / 22050
        audio = (0.3 * np.sin(2 * np.pi * self.pitch * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
        return Speech(audio, 22050)


def _load_base() -> CheapBase:
    LOADS["base"] += 1
    return CheapBase()


def _load_motion() -> CheapMotion:
    LOADS["animate"] += 1
    return CheapMotion()


def register() -> None:
    register_backend(BackendSpec("base", "cheap", _load_base, lambda: "cheap-base-1", honours_style=True))
    register_backend(BackendSpec("animate", "cheap", _load_motion, lambda: "cheap-motion-1", supports_full_frame=True))


def png_bytes(image: np.ndarray) -> bytes:
    """An RGB image as PNG bytes (what an upload holds)."""
    ok, data = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]))
    assert ok
    return data.tobytes()


def face_image(seed: int) -> np.ndarray:
    """A 128×96 'aligned face' test image (used as is: no face detection needed)."""
    rng = np.random.default_rng(seed)
    image = np.zeros((*BASE_SHAPE, 3), np.uint8)
    image[:] = rng.integers(40, 120, 3)
    image[40:90, 20:76] = rng.integers(120, 200, 3)
    return image


if __name__ == "__main__":  # the kill test's render process
    from deepstory_core.project import Project
    from deepstory_core.render import render_story

    register()
    project = Project.open(sys.argv[1])
    render_story(project, base_backend="cheap", animate_backend="cheap", out=sys.argv[2], voice_factory=CheapVoice)
