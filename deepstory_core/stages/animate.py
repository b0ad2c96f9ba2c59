"""Animate stage: one chunk's base frames (memory-mapped) → the speaker's portrait animated → an H.264 clip.

Why frames stream: the base is read in batches from its memory-mapped `.npy`, each batch goes through the motion
transfer and straight into the encoder (`ClipWriter`), so a chunk of any length costs one batch of RAM. Every clip
of an export is written with the same encoder settings and the same frame size, so the export can join them by
stream copy; frames of another size (full-frame portraits of different sizes) are fitted into the export size.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from deepstory_kernel.contracts import MotionTransfer
from deepstory_kernel.errors import InputError
from deepstory_kernel.media import CLIP_SIZE

from .. import integrity
from ..artifacts import ArtifactStore, artifact_key
from ..backends import BackendSpec
from ..progress import Cancelled, CancelToken, ProgressCallback
from ..video import ENCODER_VERSION, ClipWriter
from . import base as base_stage
from .runner import StageCount, run_chunks

if TYPE_CHECKING:
    from ..chunk_jobs import ChunkJob

NAME = "animate"
STAGE = "clip"      # the artifact kind this stage writes (its folder in the store: `clip/<key>.mp4`)
EXT = "mp4"
BATCH = 16
MAX_EXPORT_SIDE = 1920


def clip_key(*, backend_id: str, weights_checksum: str, base_key: str, portrait_hash: str,
             size: tuple[int, int], full_frame: bool, params: dict[str, Any] | None = None) -> str:
    """Everything that determines a chunk's clip (the base key already carries the seed and the audio)."""
    return artifact_key(STAGE, backend=backend_id, weights=weights_checksum, base=base_key, portrait=portrait_hash,
                        size=list(size), full_frame=bool(full_frame), encoder=ENCODER_VERSION, params=params or {})


def even_size(width: int, height: int, max_side: int = MAX_EXPORT_SIDE) -> tuple[int, int]:
    """(width, height) scaled down to at most `max_side` and rounded down to even numbers (yuv420p)."""
    scale = min(1.0, max_side / max(width, height))
    w, h = max(2, int(width * scale)), max(2, int(height * scale))
    return w - w % 2, h - h % 2


def export_size(portrait_sizes: Iterable[tuple[int, int]], full_frame: bool) -> tuple[int, int]:
    """The one frame size of every clip of an export: 256×256, or with full-frame paste-back the largest
    portrait's (width, height) made even; smaller or differently shaped portraits are fitted into it."""
    if not full_frame:
        return CLIP_SIZE, CLIP_SIZE
    sizes = list(portrait_sizes)
    if not sizes:
        return CLIP_SIZE, CLIP_SIZE
    width, height = max(sizes, key=lambda s: (s[0] * s[1], s))
    return even_size(width, height)


def fit_frames(batch: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize each frame to fit (width, height) keeping its aspect ratio, centred on black."""
    width, height = size
    if batch.shape[1:3] == (height, width):
        return batch
    in_h, in_w = batch.shape[1:3]
    scale = min(width / in_w, height / in_h)
    new_w, new_h = max(1, round(in_w * scale)), max(1, round(in_h * scale))
    left, top = (width - new_w) // 2, (height - new_h) // 2
    out = np.zeros((len(batch), height, width, 3), np.uint8)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    for index, frame in enumerate(batch):
        out[index, top:top + new_h, left:left + new_w] = cv2.resize(frame, (new_w, new_h), interpolation=interpolation)
    return out


def _batches(frames: np.ndarray, cancel: CancelToken | None) -> Iterator[np.ndarray]:
    for start in range(0, len(frames), BATCH):
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        yield np.ascontiguousarray(frames[start:start + BATCH])


def write_animated_clip(
    destination: str | os.PathLike[str],
    base_frames: np.ndarray,
    motion: MotionTransfer,
    portrait: np.ndarray,
    size: tuple[int, int] = (CLIP_SIZE, CLIP_SIZE),
    full_frame: bool = False,
    cancel: CancelToken | None = None,
    geometry: Any = None,
    on_frames: Callable[[int], None] | None = None,
) -> int:
    """Animate `portrait` with `base_frames` (T, 128, 96, 3) — e.g. a memmap — into an mp4 at `destination`.
    `geometry`: the face placed by hand (backends that take one, like the built-in transfer, use it)."""
    batches = motion.transfer(portrait, _batches(base_frames, cancel), full_frame=full_frame, geometry=geometry)
    with ClipWriter(destination, size) as writer:
        for batch in batches:
            batch = np.asarray(batch, dtype=np.uint8)
            batch = batch if batch.ndim == 4 else batch[None]
            writer.write(fit_frames(batch, size))
            if on_frames is not None:
                on_frames(len(batch))
    if writer.frames_written != len(base_frames):
        Path(destination).unlink(missing_ok=True)
        raise RuntimeError(f"motion transfer gave {writer.frames_written} frames for {len(base_frames)} base frames")
    return writer.frames_written


def render_clip(store: ArtifactStore, key: str, base_frames: np.ndarray, motion: MotionTransfer,
                portrait: np.ndarray, size: tuple[int, int], full_frame: bool = False,
                cancel: CancelToken | None = None, geometry: Any = None,
                on_frames: Callable[[int], None] | None = None) -> Path:
    """Compute one chunk's clip into the store under `key` (callers check `exists` first)."""
    path = store.path(STAGE, key, EXT)
    write_animated_clip(path, base_frames, motion, portrait, size, full_frame, cancel, geometry, on_frames)
    return path


def run(project, jobs: Sequence[ChunkJob], spec: BackendSpec, progress: ProgressCallback,
        cancel: CancelToken | None = None) -> StageCount:
    """The animate stage of a render: every job's clip that is not on disk yet, the model loaded once."""
    store = project.store

    def render_one(motion: Any, job: ChunkJob, on_frames: Callable[[int], None]) -> None:
        if not base_stage.base_ready(store, job):
            raise InputError(f"The base of chunk {job.index + 1} is missing; render the base stage first.")
        render_clip(store, job.clip_key, base_stage.read_base(store, job.base_key), motion, job.face.portrait,
                    job.size, job.full_frame, cancel, geometry=job.face.face(), on_frames=on_frames)
        integrity.seal(store, STAGE, job.clip_key, EXT, job.num_frames)

    return run_chunks(NAME, spec, jobs, lambda job: clip_ready(store, job), render_one, progress, cancel,
                      base_stage.describe)


def clip_ready(store: ArtifactStore, job: ChunkJob) -> bool:
    """The chunk's clip is on disk and intact — its seal's hash and frame count match (a damaged or exchanged clip
    is moved aside: False, render it again)."""
    from ..video import count_frames

    return integrity.verified(store, STAGE, job.clip_key, EXT, job.num_frames, f"The clip of chunk {job.index + 1}",
                              count_frames=count_frames)
