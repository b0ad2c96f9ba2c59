"""Base stage: one chunk's audio → base frames uint8 (T, 128, 96, 3) on disk.

Why a memory-mapped `.npy`: a long chunk's frames never need to sit in RAM — the animator's batches are written
straight into an `np.lib.format.open_memmap` temp file beside the artifact, which is moved into place only when
complete (a killed render leaves no half artifact), and the animate stage reads it back memory-mapped.

An animator that knows exactly what it did to the face (the built-in one: `track()`) leaves its `FaceTrack` beside
the frames (`<key>.track.npy`, written first, so frames on disk always have theirs); a transfer that follows
tracks re-enacts those numbers instead of measuring them again from the pixels.
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from deepstory_kernel.contracts import BaseAnimator, FaceTrack, MotionStyle, PhonemeEvent
from deepstory_kernel.errors import InputError
from deepstory_kernel.media import BASE_SHAPE, SAMPLES_PER_FRAME

from .. import integrity
from ..artifacts import ArtifactStore, artifact_key
from ..atomic import atomic_path
from ..backends import BackendSpec
from ..progress import Cancelled, CancelToken, ProgressCallback
from .runner import StageCount, run_chunks
from .voice import load_chunk_audio, load_chunk_phonemes

if TYPE_CHECKING:
    from ..chunk_jobs import ChunkJob

STAGE = "base"
EXT = "npy"
TRACK_EXT = "track.npy"


def image_hash(image: np.ndarray) -> str:
    """Content hash of an image array (shape + pixels): a changed portrait or template gives a new key."""
    image = np.ascontiguousarray(image)
    digest = hashlib.sha256(f"{image.dtype}{image.shape}".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()[:24]


def base_key(*, backend_id: str, weights_checksum: str, audio_key: str, identity_hash: str, seed: int,
             params: dict[str, Any] | None = None) -> str:
    """Everything that determines a chunk's base frames."""
    return artifact_key(STAGE, backend=backend_id, weights=weights_checksum, audio=audio_key,
                        identity=identity_hash, seed=int(seed), params=params or {})


def write_base_frames(
    destination: str | os.PathLike[str],
    animator: BaseAnimator,
    audio: np.ndarray,
    identity: np.ndarray,
    seed: int,
    phonemes: Sequence[PhonemeEvent] = (),
    samples_per_frame: int = SAMPLES_PER_FRAME,
    cancel: CancelToken | None = None,
    on_frames: Callable[[int], None] | None = None,
    style: MotionStyle | None = None,
) -> int:
    """Stream the animator's batches into `destination` (atomic); returns the number of frames (T).
    `on_frames(n)` is told after each batch (frame-level progress inside a chunk)."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1 or len(audio) == 0 or len(audio) % samples_per_frame:
        raise InputError(f"Chunk audio must be mono with a whole number of {samples_per_frame}-sample frames; "
                         f"got {audio.shape} samples.")
    identity = np.ascontiguousarray(identity, dtype=np.uint8)
    if identity.shape != (*BASE_SHAPE, 3):
        raise InputError(f"The base identity image must be {BASE_SHAPE[0]}×{BASE_SHAPE[1]} RGB; got {identity.shape}.")
    total = len(audio) // samples_per_frame
    destination = Path(destination)
    _write_track(destination, animator, audio, identity, seed, phonemes, style, total)
    with atomic_path(destination) as tmp:        # an OSError inside (full disk) becomes a StorageError there
        frames = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(total, *BASE_SHAPE, 3))
        _reserve_space(tmp)
        try:
            done = 0
            batches = (animator.animate(audio, identity, seed, phonemes) if style is None else
                       animator.animate(audio, identity, seed, phonemes, style=style))
            for batch in batches:
                if cancel is not None and cancel.is_set():
                    raise Cancelled()
                batch = np.asarray(batch)
                if batch.ndim == 3:
                    batch = batch[None]
                if done + len(batch) > total:
                    raise RuntimeError(f"base animator yielded more than the {total} frames its audio allows")
                frames[done:done + len(batch)] = batch
                done += len(batch)
                if on_frames is not None:
                    on_frames(len(batch))
            if done != total:
                raise RuntimeError(f"base animator yielded {done} frames for audio of {total} frames")
            frames.flush()
        finally:
            del frames
    return total


def track_path(frames_path: str | os.PathLike[str]) -> Path:
    """Where the face track of a base's frames file lives: `<key>.npy` → `<key>.track.npy`."""
    path = Path(frames_path)
    return path.with_name(path.name.removesuffix(".npy") + "." + TRACK_EXT)


def _write_track(destination: Path, animator: BaseAnimator, audio: np.ndarray, identity: np.ndarray, seed: int,
                 phonemes: Sequence[PhonemeEvent], style: MotionStyle | None, total: int) -> None:
    """The animator's face track (if it gives one) beside the frames — before them, atomically."""
    make = getattr(animator, "track", None)
    path = track_path(destination)
    track = make(audio, identity, seed, phonemes, style=style) if callable(make) else None
    if track is None or len(track) != total:
        path.unlink(missing_ok=True)        # a stale track must not outlive the frames it described
        return
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, track.to_array(), allow_pickle=False)


def read_track(frames_path: str | os.PathLike[str], frames: int) -> FaceTrack | None:
    """The face track beside a base's frames; None when there is none or it does not fit them (then the transfer
    measures the motion from the frames, as for any base)."""
    try:
        track = FaceTrack.from_array(np.load(track_path(frames_path), allow_pickle=False))
    except (OSError, ValueError):
        return None
    return track if len(track) == frames else None


def render_base(store: ArtifactStore, key: str, animator: BaseAnimator, audio: np.ndarray, identity: np.ndarray,
                seed: int, phonemes: Sequence[PhonemeEvent] = (), cancel: CancelToken | None = None,
                on_frames: Callable[[int], None] | None = None, style: MotionStyle | None = None) -> Path:
    """Compute one chunk's base frames into the store under `key` (callers check `exists` first)."""
    path = store.path(STAGE, key, EXT)
    write_base_frames(path, animator, audio, identity, seed, phonemes, cancel=cancel, on_frames=on_frames,
                      style=style)
    return path


def run(project, jobs: Sequence[ChunkJob], spec: BackendSpec, progress: ProgressCallback,
        cancel: CancelToken | None = None) -> StageCount:
    """The base stage of a render: every job's base frames that are not on disk yet, the model loaded once."""
    store = project.store

    def render_one(animator: Any, job: ChunkJob, on_frames: Callable[[int], None]) -> None:
        render_base(store, job.base_key, animator, load_chunk_audio(project, job.chunk), job.face.identity(animator),
                    job.seed, load_chunk_phonemes(project, job.chunk), cancel, on_frames, job.style)
        integrity.seal(store, STAGE, job.base_key, EXT, job.num_frames)

    return run_chunks(STAGE, spec, jobs, lambda job: base_ready(store, job), render_one, progress, cancel, describe)


def base_ready(store: ArtifactStore, job: ChunkJob) -> bool:
    """The chunk's base is on disk and intact (a damaged one is moved aside: False, render it again)."""
    return integrity.verified(store, STAGE, job.base_key, EXT, job.num_frames, f"The base of chunk {job.index + 1}",
                              count_frames=integrity.frames_in_npy)


def describe(job: ChunkJob) -> str:
    return f"chunk {job.index + 1} ({job.speaker[:20]})"


def read_base(store: ArtifactStore, key: str) -> np.ndarray:
    """Base frames, memory-mapped read-only."""
    return store.read_npy(STAGE, key, mmap=True)


def read_base_track(store: ArtifactStore, key: str, frames: int) -> FaceTrack | None:
    """The face track of a stored base (None: measure the motion from its frames)."""
    return read_track(store.path(STAGE, key, EXT), frames)


def _reserve_space(path: Path) -> None:
    """Allocate the sparse memmap file's blocks now: a full disk then raises ENOSPC here, instead of SIGBUS
    when a page of the mapping is written later."""
    with open(path, "r+b") as f:
        size = os.fstat(f.fileno()).st_size
        try:
            os.posix_fallocate(f.fileno(), 0, size)
        except OSError as err:
            if err.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                raise
