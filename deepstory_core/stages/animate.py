"""Animate stage: one chunk's base frames (memory-mapped) → the speaker's portrait animated → an H.264 clip.

Why frames stream: the base is read in batches from its memory-mapped `.npy`, each batch goes through the motion
transfer and straight into the encoder (`ClipWriter`), so a chunk of any length costs one batch of RAM. Every clip
of an export is written with the same encoder settings and the same frame size, so the export can join them by
stream copy. Full-frame (the default): each portrait is scaled once to fit the story's canvas (512², 720p,
1080p), animated at that size, and laid over a blurred, enlarged copy of itself that fills the rest of the
canvas — no black bars, whatever the portrait's shape.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from deepstory_kernel.contracts import FaceTrack, MotionTransfer
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
CANVAS_SIZES: dict[str, tuple[int, int]] = {"512": (512, 512), "720p": (1280, 720), "1080p": (1920, 1080)}


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


def canvas_size(canvas: str) -> tuple[int, int]:
    """(width, height) of a canvas setting; InputError naming the choices for another value."""
    if canvas not in CANVAS_SIZES:
        raise InputError(f"Unknown output canvas {canvas!r}; choose one of {', '.join(CANVAS_SIZES)}.")
    return CANVAS_SIZES[canvas]


def export_size(full_frame: bool, canvas: str = "720p") -> tuple[int, int]:
    """The one frame size of every clip of an export: the story's canvas, or 256×256 face crops."""
    return canvas_size(canvas) if full_frame else (CLIP_SIZE, CLIP_SIZE)


@dataclass(frozen=True)
class CanvasFit:
    """A portrait fitted into a canvas: where it goes, at what scale, over which background."""

    background: np.ndarray            # uint8 (H, W, 3): the blurred fill, the portrait's place left as is
    scale: float                      # portrait pixel → canvas pixel
    offset: tuple[int, int]           # (left, top) of the fitted portrait in the canvas
    fitted: tuple[int, int]           # (width, height) of the fitted portrait
    _buffer: dict[str, np.ndarray] = dataclasses.field(default_factory=dict, repr=False, compare=False)

    def compose(self, batch: np.ndarray) -> np.ndarray:
        """(B, h, w, 3) fitted-portrait frames → (B, H, W, 3) canvas frames.

        The result is a buffer the next call reuses (the fill around the portrait is written into it once):
        consume it — e.g. hand it to the encoder — before composing the next batch."""
        w, h = self.fitted
        if batch.shape[1:3] == self.background.shape[:2]:
            return batch
        if batch.shape[1:3] != (h, w):
            raise RuntimeError(f"animated frames are {batch.shape[2]}×{batch.shape[1]}, expected {w}×{h}")
        buffer = self._buffer.get("frames")
        if buffer is None or len(buffer) < len(batch):
            buffer = np.repeat(self.background[None], len(batch), axis=0)
            self._buffer["frames"] = buffer
        left, top = self.offset
        out = buffer[:len(batch)]
        out[:, top:top + h, left:left + w] = batch
        return out


def fit_portrait(portrait: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, CanvasFit]:
    """Scale `portrait` to fit (width, height) whole; the canvas around it is the portrait itself enlarged to cover
    the canvas, strongly blurred and dimmed (no black bars). Returns (the scaled portrait, its CanvasFit)."""
    width, height = size
    in_h, in_w = portrait.shape[:2]
    scale = min(width / in_w, height / in_h)
    new_w, new_h = min(width, max(2, round(in_w * scale))), min(height, max(2, round(in_h * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    fitted = portrait if (new_w, new_h) == (in_w, in_h) else cv2.resize(portrait, (new_w, new_h),
                                                                         interpolation=interpolation)
    cover = max(width / in_w, height / in_h)
    small = cv2.resize(portrait, (max(2, round(in_w * cover / 16)), max(2, round(in_h * cover / 16))),
                       interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), 2.5, borderType=cv2.BORDER_REFLECT)
    big = cv2.resize(small, (max(width, round(in_w * cover)), max(height, round(in_h * cover))),
                     interpolation=cv2.INTER_LINEAR)
    bx, by = (big.shape[1] - width) // 2, (big.shape[0] - height) // 2
    background = (big[by:by + height, bx:bx + width].astype(np.float32) * 0.7 + 0.5).astype(np.uint8)
    left, top = (width - new_w) // 2, (height - new_h) // 2
    background[top:top + new_h, left:left + new_w] = fitted
    return np.ascontiguousarray(fitted), CanvasFit(background, new_w / in_w, (left, top), (new_w, new_h))


def scaled_geometry(geometry: Any, scale: float) -> Any:
    """A face placed by hand (modules.face FaceGeometry), in the pixels of the portrait scaled by `scale`."""
    if geometry is None or scale == 1.0:
        return geometry
    h, w = geometry.image_size
    landmarks = None if geometry.landmarks is None else (geometry.landmarks * scale).astype(np.float32)
    return dataclasses.replace(
        geometry, image_size=(round(h * scale), round(w * scale)), box=tuple(v * scale for v in geometry.box),
        left_eye=(geometry.left_eye[0] * scale, geometry.left_eye[1] * scale),
        right_eye=(geometry.right_eye[0] * scale, geometry.right_eye[1] * scale), landmarks=landmarks)


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
    track: FaceTrack | None = None,
) -> int:
    """Animate `portrait` with `base_frames` (T, 128, 96, 3) — e.g. a memmap — into an mp4 at `destination`.
    `geometry`: the face placed by hand (backends that take one, like the built-in transfer, use it).
    `track`: what the base animator did to the face (a transfer that follows tracks re-enacts it exactly).
    Full-frame: the portrait is fitted into the canvas `size` first and animated at that scale."""
    fit: CanvasFit | None = None
    if full_frame:
        portrait, fit = fit_portrait(portrait, size)
        geometry = scaled_geometry(geometry, fit.scale)
    extra = {"track": track} if track is not None and getattr(motion, "follows_tracks", False) else {}
    batches = motion.transfer(portrait, _batches(base_frames, cancel), full_frame=full_frame, geometry=geometry,
                              **extra)
    with ClipWriter(destination, size) as writer:
        for batch in batches:
            batch = np.asarray(batch, dtype=np.uint8)
            batch = batch if batch.ndim == 4 else batch[None]
            writer.write(fit.compose(batch) if fit is not None else batch)
            if on_frames is not None:
                on_frames(len(batch))
    if writer.frames_written != len(base_frames):
        Path(destination).unlink(missing_ok=True)
        raise RuntimeError(f"motion transfer gave {writer.frames_written} frames for {len(base_frames)} base frames")
    return writer.frames_written


def render_clip(store: ArtifactStore, key: str, base_frames: np.ndarray, motion: MotionTransfer,
                portrait: np.ndarray, size: tuple[int, int], full_frame: bool = False,
                cancel: CancelToken | None = None, geometry: Any = None,
                on_frames: Callable[[int], None] | None = None, track: FaceTrack | None = None) -> Path:
    """Compute one chunk's clip into the store under `key` (callers check `exists` first)."""
    path = store.path(STAGE, key, EXT)
    write_animated_clip(path, base_frames, motion, portrait, size, full_frame, cancel, geometry, on_frames, track)
    return path


def run(project, jobs: Sequence[ChunkJob], spec: BackendSpec, progress: ProgressCallback,
        cancel: CancelToken | None = None) -> StageCount:
    """The animate stage of a render: every job's clip that is not on disk yet, the model loaded once."""
    store = project.store

    def render_one(motion: Any, job: ChunkJob, on_frames: Callable[[int], None]) -> None:
        if not base_stage.base_ready(store, job):
            raise InputError(f"The base of chunk {job.index + 1} is missing; render the base stage first.")
        render_clip(store, job.clip_key, base_stage.read_base(store, job.base_key), motion, job.face.portrait,
                    job.size, job.full_frame, cancel, geometry=job.face.face(), on_frames=on_frames,
                    track=base_stage.read_base_track(store, job.base_key, job.num_frames))
        integrity.seal(store, STAGE, job.clip_key, EXT, job.num_frames)

    return run_chunks(NAME, spec, jobs, lambda job: clip_ready(store, job), render_one, progress, cancel,
                      base_stage.describe)


def clip_ready(store: ArtifactStore, job: ChunkJob) -> bool:
    """The chunk's clip is on disk and intact — its seal's hash and frame count match (a damaged or exchanged clip
    is moved aside: False, render it again)."""
    from ..video import count_frames

    return integrity.verified(store, STAGE, job.clip_key, EXT, job.num_frames, f"The clip of chunk {job.index + 1}",
                              count_frames=count_frames)
