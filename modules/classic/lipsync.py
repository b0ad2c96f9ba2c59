"""The built-in base animator: chunk audio → the aligned identity face talking, 25 fps, no model download.

Controls for the whole chunk are computed first (tiny per-frame arrays: mouth opening/width from the audio,
visemes from espeak phoneme events when given, seeded blinks and head motion); frames are then rendered and
yielded batch by batch, so memory is bounded by one batch whatever the chunk length.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from deepstory_kernel.contracts import PhonemeEvent
from deepstory_kernel.errors import InputError
from deepstory_kernel.media import FPS, SAMPLE_RATE
from modules.classic.audio_features import mouth_drive, smooth3
from modules.classic.blinks import blink_closure
from modules.classic.face_renderer import FaceRenderer
from modules.classic.head_motion import head_motion
from modules.classic.visemes import viseme_tracks

VISEME_WEIGHT = 0.7        # share of the mouth shape taken from phoneme events when they are known


class BuiltinLipSync:
    """`deepstory_kernel.contracts.BaseAnimator` without weights: warps the identity's mouth, eyes and pose."""

    def __init__(self, batch_size: int = 64, sample_rate: int = SAMPLE_RATE, fps: int = FPS) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.batch_size = batch_size
        self.sample_rate = sample_rate
        self.fps = fps
        self.samples_per_frame = sample_rate // fps

    def controls(self, audio: np.ndarray, seed: int, phonemes: Sequence[PhonemeEvent] = ()) -> dict[str, np.ndarray]:
        """Per-frame controls for the chunk: opening, width, blink (each (T,)) and motion (T, 3)."""
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        n = len(audio) // self.samples_per_frame
        drive = mouth_drive(audio, self.samples_per_frame, self.sample_rate)
        opening, width = drive.opening, drive.width
        if phonemes:
            v_open, v_width, v_closure = viseme_tracks(phonemes, n, self.samples_per_frame, len(audio))
            v_open, v_width = smooth3(v_open), smooth3(v_width)
            opening = opening * (0.3 + 0.7 * v_open)
            opening = opening * (1.0 - np.clip(1.5 * v_closure, 0.0, 1.0))
            width = VISEME_WEIGHT * v_width + (1.0 - VISEME_WEIGHT) * width
            opening = np.minimum(opening / 0.85, 1.0)     # visemes rarely reach 1: keep the full range in use
        width = width * np.clip(opening * 4.0, 0.0, 1.0)     # no pursed or spread lips in silence
        blink_seed, motion_seed = np.random.SeedSequence([int(seed) % 2**64, 0x11B5]).spawn(2)
        blink = blink_closure(n, self.fps, np.random.default_rng(blink_seed))
        motion = head_motion(n, self.fps, np.random.default_rng(motion_seed), drive.loudness)
        return {"opening": opening.astype(np.float32), "width": width.astype(np.float32),
                "blink": blink, "motion": motion}

    def animate(
        self,
        audio: np.ndarray,
        identity: np.ndarray,
        seed: int,
        phonemes: Sequence[PhonemeEvent] = (),
    ) -> Iterator[np.ndarray]:
        """Yield uint8 (B, 128, 96, 3) batches, exactly `len(audio) // 882` frames in total.

        Inputs are checked here, before the first frame is asked for, so a bad call fails where it is made.
        """
        audio = np.asarray(audio)
        if audio.ndim != 1:
            raise InputError(f"Chunk audio must be mono (one dimension), got shape {audio.shape}; mix it down first.")
        renderer = FaceRenderer(np.asarray(identity))
        controls = self.controls(audio, seed, phonemes)
        return self._frames(renderer, controls)

    def _frames(self, renderer: FaceRenderer, c: dict[str, np.ndarray]) -> Iterator[np.ndarray]:
        n = len(c["opening"])
        for start in range(0, n, self.batch_size):
            part = slice(start, min(n, start + self.batch_size))
            yield renderer.render(c["opening"][part], c["width"][part], c["blink"][part], c["motion"][part])
