"""The contracts between stages and the things that compute them (DESIGN.md, *Stage contracts*).

Voice, base and motion backends are interchangeable behind these protocols: the built-in base can feed FOM and
SDA's base can feed the built-in transfer. Arrays only — no file paths — so `modules/` stays layout-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Protocol, Sequence

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
    ) -> Iterator[np.ndarray]: ...


class MotionTransfer(Protocol):
    """Driving base frames → the portrait animated, motion taken relative to the chunk's first driving frame."""

    def transfer(
        self,
        portrait: np.ndarray,              # uint8 (H, W, 3) RGB, any size
        driving: Iterable[np.ndarray],     # batches uint8 (B, 128, 96, 3)
        *,
        full_frame: bool = False,          # True: the animated face feathered back into the whole portrait
        geometry: Any = None,              # a face placed by hand (modules.face FaceGeometry); None = detect
    ) -> Iterator[np.ndarray]: ...        # batches uint8 (B, 256, 256, 3), or (B, H, W, 3) with full_frame
    # A backend that cannot paste back raises InputError (or ModelUnavailableError) when full_frame is asked.
