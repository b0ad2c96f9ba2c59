"""The contracts between stages and the things that compute them (docs/ARCHITECTURE.md, *Stage contracts*).

Voice, base and motion backends are interchangeable behind these protocols: the built-in base can feed FOM and
SDA's base can feed the built-in transfer. Arrays only — no file paths — so `modules/` stays layout-free.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


@dataclass(frozen=True)
class PhonemeEvent:
    """A phoneme starting at `sample` (project rate) — from espeak's events, used for visemes and timing."""

    sample: int
    phoneme: str


@dataclass(frozen=True)
class Speech:
    """What a voice returns: mono float32 audio at `sample_rate`, plus phoneme events when the voice knows them."""

    audio: np.ndarray
    sample_rate: int
    phonemes: tuple[PhonemeEvent, ...] = ()


class VoiceBackend(Protocol):
    voice_id: str

    def synthesize(self, text: str) -> Speech: ...


class BaseAnimator(Protocol):
    """Chunk audio → template-face frames (uint8, (B, 128, 96, 3)) at 25 fps.

    Must yield exactly `len(audio) // samples_per_frame` frames in total (audio is padded to whole frames).
    """

    def animate(
        self,
        audio: np.ndarray,                 # float32 mono at the project rate, len multiple of 882
        identity: np.ndarray,              # uint8 (128, 96, 3) aligned face
        seed: int,
        phonemes: Sequence[PhonemeEvent] = (),
        *,
        style: MotionStyle | None = None,  # per-speaker controls; backends that cannot honour them ignore them
    ) -> Iterator[np.ndarray]: ...


@dataclass(frozen=True)
class FaceTrack:
    """What a base animator did to its face in each frame, exactly: a motion transfer that follows tracks
    re-enacts these numbers instead of measuring them again from 128×96 pixels (where teeth appearing next to a
    lip can hide how far it moved). Stored beside the base frames; a base without one is measured.
    """

    mouth: np.ndarray     # (T, 5) float: jaw drop, upper-lip raise, spread, round, lower lip tucked — mouth widths
    blink: np.ndarray     # (T,) eyelid closure 0 open … 1 shut
    head: np.ndarray      # (T, 2, 3) similarity: the face at rest → frame t, in base pixels

    COLUMNS = 12

    def __len__(self) -> int:
        return len(self.blink)

    def to_array(self) -> np.ndarray:
        """(T, 12) float64: the five mouth controls, the blink, the head's 2×3 matrix row by row."""
        n = len(self)
        return np.concatenate([np.asarray(self.mouth, np.float64).reshape(n, 5),
                               np.asarray(self.blink, np.float64).reshape(n, 1),
                               np.asarray(self.head, np.float64).reshape(n, 6)], axis=1)

    @classmethod
    def from_array(cls, array: np.ndarray) -> FaceTrack:
        array = np.asarray(array, np.float64)
        if array.ndim != 2 or array.shape[1] != cls.COLUMNS or not np.isfinite(array).all():
            raise ValueError(f"a face track is a finite (T, {cls.COLUMNS}) array, got {array.shape}")
        return cls(array[:, :5], array[:, 5], array[:, 6:].reshape(-1, 2, 3))


class MotionTransfer(Protocol):
    """Driving base frames → the portrait animated, motion taken relative to the chunk's first driving frame.

    A transfer with `follows_tracks = True` also takes `track=` (a `FaceTrack` of the driving frames)."""

    def transfer(
        self,
        portrait: np.ndarray,              # uint8 (H, W, 3) RGB, any size
        driving: Iterable[np.ndarray],     # batches uint8 (B, 128, 96, 3)
        *,
        full_frame: bool = False,          # True: the animated face feathered back into the whole portrait
        geometry: Any = None,              # a face placed by hand (modules.face FaceGeometry); None = detect
    ) -> Iterator[np.ndarray]: ...        # batches uint8 (B, 256, 256, 3), or (B, H, W, 3) with full_frame
    # A backend that cannot paste back raises InputError (or ModelUnavailableError) when full_frame is asked.


@dataclass(frozen=True)
class MotionStyle:
    """Per-speaker animation controls (the cast's sliders). 1.0 is the default look; 0 switches a motion off.

    Base animators that can honour a control do; the others ignore it. Part of the base artifact key, so moving a
    slider re-renders only that speaker's chunks.
    """

    mouth: float = 1.0        # mouth opening amplitude
    head: float = 1.0         # head-motion amount (nods, drift)
    blink_rate: float = 1.0   # blinks per minute relative to the default rate
    expression: float = 1.0   # brows / cheeks / eye intensity

    def to_dict(self) -> dict[str, float]:
        return {"mouth": self.mouth, "head": self.head, "blink_rate": self.blink_rate, "expression": self.expression}
