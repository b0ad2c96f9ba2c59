"""`python -m deepstory_core animate BASE.(mp4|npy) --portrait IMAGE -o OUT.mp4 [--backend builtin|fom] [--full-frame]`

The animate stage alone: a base (frames or video, e.g. from the `base` command or from SDA) drives a portrait.
Output: 256×256 face-centred clip, or with `--full-frame` the whole portrait with the animated face pasted back.
When the base is a video with sound, the sound is kept.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from deepstory_kernel.errors import InputError
from deepstory_kernel.media import BASE_SHAPE, CLIP_SIZE

from ..backends import ANIMATE_BACKENDS, make_animator, require_full_frame
from ..inputs import refuse_outputs_that_are_inputs
from ..progress import StageProgress, StderrProgressBar, no_progress
from ..stages.animate import even_size, fit_portrait
from ..video import ClipWriter, mux, open_frames_npy, read_frames_any, stream_kinds
from .base import read_image
from .common import check_writable


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "animate", help="base frames/video + a portrait → animated portrait video",
        description="Transfer the motion of a 128×96 base onto a portrait (the animate stage alone).",
    )
    parser.add_argument("base", type=Path, help="BASE.npy (uint8 T×128×96×3) or a base video")
    parser.add_argument("--portrait", type=Path, required=True, help="the portrait to animate")
    parser.add_argument("-o", "--output", type=Path, required=True, help="OUT.mp4")
    parser.add_argument("--backend", choices=sorted(ANIMATE_BACKENDS), default="builtin")
    parser.add_argument("--full-frame", action="store_true",
                        help="paste the animated face back into the full-resolution portrait (built-in backend)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def _base_batches(path: Path):
    """Base frames in batches, brought to 128×96 when a base video has another size."""
    height, width = BASE_SHAPE
    for batch in read_frames_any(path, batch=16):
        if batch.shape[1:3] != (height, width):
            batch = np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in batch])
        yield batch


def _frame_count(path: Path) -> int:
    if path.suffix.lower() == ".npy":
        return len(open_frames_npy(path))
    from ..video import count_frames

    return count_frames(path)


def run(args: argparse.Namespace) -> int:
    out, base = Path(args.output), Path(args.base)
    if out.suffix.lower() != ".mp4":
        raise InputError(f"The output {out} must end in .mp4.")
    if not base.is_file():
        raise InputError(f"The base {base} does not exist.")
    check_writable(out, example="animated.mp4")
    refuse_outputs_that_are_inputs([out], [base, args.portrait])
    if args.full_frame:
        require_full_frame(args.backend)
    total = _frame_count(base)        # a bad base is refused before the portrait or a model is loaded
    portrait = read_image(args.portrait)
    motion = make_animator(args.backend)
    size = even_size(portrait.shape[1], portrait.shape[0]) if args.full_frame else (CLIP_SIZE, CLIP_SIZE)
    progress = no_progress if args.quiet else StderrProgressBar()
    has_audio = base.suffix.lower() != ".npy" and "audio" in stream_kinds(base)
    with tempfile.TemporaryDirectory(prefix=".deepstory-animate-", dir=out.parent) as folder:
        target = Path(folder) / "video.mp4" if has_audio else out
        driving = _base_batches(base)
        fit = None
        if args.full_frame:   # the portrait at its own size (made even for the encoder)
            portrait, fit = fit_portrait(portrait, size)
        batches = motion.transfer(portrait, driving, full_frame=args.full_frame)
        tracker = StageProgress(progress, "animate", total, "frames")   # frames, with the time left
        with ClipWriter(target, size) as writer:
            for batch in batches:
                batch = np.asarray(batch, dtype=np.uint8)
                writer.write(fit.compose(batch) if fit is not None else batch)
                tracker.advance(len(batch))
        if has_audio:
            mux_audio_from(base, target, out, Path(folder))
    print(f"wrote {out} ({writer.frames_written} frames, {size[0]}×{size[1]})", file=sys.stderr)
    return 0


def mux_audio_from(source: Path, video_path: Path, out: Path, folder: Path) -> None:
    """Keep the base video's sound: extract it as wav, mux it with the animated video."""
    from ..video import _run_ffmpeg

    wav = folder / "sound.wav"
    _run_ffmpeg(["-loglevel", "error", "-y", "-i", str(source), "-map", "0:a:0", "-c:a", "pcm_s16le", str(wav)],
                "write", wav)
    mux(video_path, wav, out)
