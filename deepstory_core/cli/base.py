"""`python -m deepstory_core base AUDIO.wav --face IMAGE -o OUT.(mp4|npy) [--backend builtin|sda] [--seed N]`

The base stage alone: speech → a 128×96 talking face at 25 fps. `--face` takes any portrait (its face is found
and aligned) or an image already 128×96 (H×W), used as the aligned face as it is (like SDA's templates).
`.npy` output: uint8 (T, 128, 96, 3); `.mp4` output: the frames as H.264 with the speech as AAC.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from deepstory_kernel.errors import InputError
from deepstory_kernel.media import BASE_SHAPE, SAMPLE_RATE, SAMPLES_PER_FRAME

from ..backends import BASE_BACKENDS, make_base_animator
from ..identities import aligned_identity
from ..inputs import refuse_outputs_that_are_inputs
from ..progress import StageProgress, StderrProgressBar, no_progress
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


SEGMENT_SECONDS = 30   # long audio is animated in pieces of this length: memory stays that of one piece


def speech_segments(path: Path) -> tuple[int, Iterator[np.ndarray]]:
    """(total frames, segments): the file's speech as mono float32 at the project rate, read in pieces of
    SEGMENT_SECONDS (a whole number of video frames each; the last padded with silence to whole frames), so a
    two-hour recording is never held whole."""
    from ..audio import open_wav, resample, resampled_length

    stream = open_wav(path)
    total_samples = resampled_length(stream.frames, stream.rate, SAMPLE_RATE)
    total_frames = max(1, -(-total_samples // SAMPLES_PER_FRAME))
    step = SEGMENT_SECONDS * stream.rate

    def segments() -> Iterator[np.ndarray]:
        for start in range(0, stream.frames, step):
            block = stream.read(start, start + step)
            if not np.all(np.isfinite(block)):
                raise InputError(f"The audio file {path} contains NaN or infinite samples.")
            if stream.rate != SAMPLE_RATE:
                block = resample(block, stream.rate, SAMPLE_RATE)
            padded = max(SAMPLES_PER_FRAME, -(-len(block) // SAMPLES_PER_FRAME) * SAMPLES_PER_FRAME)
            yield np.pad(block, (0, padded - len(block)))

    return total_frames, segments()


def run(args: argparse.Namespace) -> int:
    out = Path(args.output)
    suffix = out.suffix.lower()
    if suffix not in (".npy", ".mp4"):
        raise InputError(f"The output {out} must end in .npy (frames) or .mp4 (video).")
    check_writable(out, example=f"base{suffix}")
    refuse_outputs_that_are_inputs([out], [args.audio, args.face])
    total, segments = speech_segments(args.audio)
    face = read_image(args.face)
    identity = aligned_identity(face, args.face.name)   # an already aligned 128×96 face is used as it is
    animator = make_base_animator(args.backend)
    progress = no_progress if args.quiet else StderrProgressBar()
    frames = _segment_frames(_Reporting(animator, total, progress), segments, identity, args.seed)
    if suffix == ".npy":
        write_frames_npy(out, frames, total)
    else:
        write_base_video(out, frames)
    print(f"wrote {out} ({total} frames, {total / 25:.2f} s)", file=sys.stderr)
    return 0


def _segment_frames(animator, segments: Iterator[np.ndarray], identity: np.ndarray,
                    seed: int) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """(frame batch, the speech of the segment when its first batch comes) for each segment in turn; segment k is
    animated with seed + k (the first exactly as a one-piece render)."""
    for index, audio in enumerate(segments):
        first = True
        for batch in animator.animate(audio, identity, seed + index):
            yield np.asarray(batch, dtype=np.uint8), (audio if first else None)
            first = False


def write_frames_npy(out: Path, frames: Iterator[tuple[np.ndarray, np.ndarray | None]], total: int) -> None:
    """Frame batches straight into a memory-mapped .npy beside `out`, moved into place when complete."""
    from ..atomic import atomic_path

    with atomic_path(out) as tmp:
        array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(total, *BASE_SHAPE, 3))
        done = 0
        for batch, _ in frames:
            array[done:done + len(batch)] = batch
            done += len(batch)
        if done != total:
            raise RuntimeError(f"base animator yielded {done} frames for audio of {total} frames")
        array.flush()
        del array


def write_base_video(out: Path, frames: Iterator[tuple[np.ndarray, np.ndarray | None]]) -> None:
    """Frames → a temp video-only mp4 (and the speech → a temp wav), muxed (AAC) into `out`, atomically."""
    import tempfile

    from ..video import ClipWriter, mux
    from ..wavio import WavWriter

    with tempfile.TemporaryDirectory(prefix=".deepstory-base-", dir=out.parent) as folder:
        frames_path, wav_path = Path(folder) / "frames.mp4", Path(folder) / "speech.wav"
        with ClipWriter(frames_path, (BASE_SHAPE[1], BASE_SHAPE[0])) as writer, \
                WavWriter(wav_path, SAMPLE_RATE) as wav:
            for batch, audio in frames:
                if audio is not None:
                    wav.write(audio)
                writer.write(batch)
        mux(frames_path, wav_path, out)


class _Reporting:
    """Wraps an animator so each batch it yields reports progress; one tracker across all the segments, so the
    count runs once from 0 to the total."""

    def __init__(self, animator, total: int, progress) -> None:
        self._animator = animator
        self._tracker = StageProgress(progress, "base", total, "frames")   # frames, with the time left

    def animate(self, audio, identity, seed, phonemes=(), *, style=None):
        for batch in self._animator.animate(audio, identity, seed, phonemes, style=style):
            self._tracker.advance(len(batch))
            yield batch
