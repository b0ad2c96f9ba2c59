"""`python -m deepstory_core base AUDIO.wav --face IMAGE -o OUT.(mp4|npy) [--backend builtin|sda] [--seed N]`

The base stage alone: speech → a 128×96 talking face at 25 fps. `--face` takes any portrait (its face is found
and aligned) or an image already 128×96 (H×W), used as the aligned face as it is (like SDA's templates).
`.npy` output: uint8 (T, 128, 96, 3); `.mp4` output: the frames as H.264 with the speech as AAC.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from deepstory_kernel.errors import InputError
from deepstory_kernel.media import BASE_SHAPE, SAMPLE_RATE, SAMPLES_PER_FRAME

from ..backends import BASE_BACKENDS, make_base_animator
from ..identities import aligned_identity
from ..inputs import refuse_outputs_that_are_inputs
from ..progress import ProgressEvent, StderrProgressBar, no_progress
from ..stages.base import write_base_frames
from .common import check_writable


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "base", help="speech audio + a face → base frames (.npy) or a base video (.mp4)",
        description="Animate a 128×96 face from speech (the base stage alone).",
    )
    parser.add_argument("audio", type=Path, help="speech audio (a WAV file: PCM or float, any rate and channels)")
    parser.add_argument("--face", type=Path, required=True, help="a portrait, or an aligned 128×96 face image")
    parser.add_argument("-o", "--output", type=Path, required=True, help="OUT.npy (uint8 T×128×96×3) or OUT.mp4")
    parser.add_argument("--backend", choices=sorted(BASE_BACKENDS), default="builtin")
    parser.add_argument("--seed", type=int, default=0, help="blinks and head motion (default 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def read_image(path: Path) -> np.ndarray:
    """Any image file → uint8 RGB (grayscale, RGBA and 16-bit converted)."""
    from ..portraits import read_image as read_portrait

    return read_portrait(path)


def load_speech(path: Path) -> np.ndarray:
    """Audio file → mono float32 at the project rate, padded with silence to whole video frames."""
    from ..audio import load_audio_file, resample

    audio, rate = load_audio_file(path)
    audio = resample(np.asarray(audio, dtype=np.float32), rate, SAMPLE_RATE) if rate != SAMPLE_RATE else audio
    padded = max(SAMPLES_PER_FRAME, -(-len(audio) // SAMPLES_PER_FRAME) * SAMPLES_PER_FRAME)
    return np.pad(np.asarray(audio, dtype=np.float32), (0, padded - len(audio)))


def run(args: argparse.Namespace) -> int:
    out = Path(args.output)
    suffix = out.suffix.lower()
    if suffix not in (".npy", ".mp4"):
        raise InputError(f"The output {out} must end in .npy (frames) or .mp4 (video).")
    check_writable(out, example=f"base{suffix}")
    refuse_outputs_that_are_inputs([out], [args.audio, args.face])
    audio = load_speech(args.audio)
    face = read_image(args.face)
    identity = aligned_identity(face, args.face.name)   # an already aligned 128×96 face is used as it is
    animator = make_base_animator(args.backend)
    progress = no_progress if args.quiet else StderrProgressBar()
    total = len(audio) // SAMPLES_PER_FRAME
    if suffix == ".npy":
        write_base_frames(out, _Reporting(animator, total, progress), audio, identity, args.seed)
    else:
        write_base_video(out, _Reporting(animator, total, progress), audio, identity, args.seed)
    print(f"wrote {out} ({total} frames, {total / 25:.2f} s)", file=sys.stderr)
    return 0


def write_base_video(out: Path, animator, audio: np.ndarray, identity: np.ndarray, seed: int) -> None:
    """Frames → a temp video-only mp4 → muxed with the speech (AAC) into `out`, atomically."""
    import tempfile

    from ..video import mux, write_clip
    from ..wavio import WavWriter

    with tempfile.TemporaryDirectory(prefix=".deepstory-base-", dir=out.parent) as folder:
        frames_path, wav_path = Path(folder) / "frames.mp4", Path(folder) / "speech.wav"
        write_clip(frames_path, animator.animate(audio, identity, seed), size=(BASE_SHAPE[1], BASE_SHAPE[0]))
        with WavWriter(wav_path, SAMPLE_RATE) as wav:
            wav.write(audio)
        mux(frames_path, wav_path, out)


class _Reporting:
    """Wraps an animator so each batch it yields reports progress."""

    def __init__(self, animator, total: int, progress) -> None:
        self._animator, self._total, self._progress = animator, total, progress

    def animate(self, audio, identity, seed, phonemes=()):
        done = 0
        for batch in self._animator.animate(audio, identity, seed, phonemes):
            done += len(batch)
            self._progress(ProgressEvent("base", done, self._total))
            yield batch
