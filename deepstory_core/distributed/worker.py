"""The stage actor: one per worker (per GPU, or a share of one), holding the stage's model for the whole stage.

A task gets one chunk's inputs and returns the artifact's bytes: the worker writes them with the same stage code as
a single-process render (`write_base_frames`, `write_animated_clip`) into a temp folder of its own, reads them back
and deletes them. Nothing a worker does touches the project, unless the project is on a path every node shares
(then it writes the artifact in place, atomically, like the single process). A worker killed mid-chunk leaves at
most a temp file; the chunk is run again by Ray on the restarted worker.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import socket
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepstory_kernel.errors import DeepstoryError, ModelUnavailableError, StorageError
from deepstory_kernel.file_facts import sha256_file

from ..artifacts import ArtifactStore
from ..stages import animate as animate_stage
from ..stages import base as base_stage

REPORT_INTERVAL_S = 0.2   # a worker reports (and learns about a cancel) at most this often, and at each chunk's end


@dataclass(frozen=True)
class ChunkArtifact:
    """A finished chunk: its bytes (None when the worker wrote it in place), their sha256, its frame count, and for
    a base the face track its animator left beside it (bytes of `<key>.track.npy`, when not written in place)."""

    key: str
    data: bytes | None
    sha256: str
    frames: int
    track: bytes | None = None


class _Reporter:
    """The worker side of `RenderControl`: counts frames, reports them, and is the chunk's cancel token."""

    def __init__(self, control: Any, key: str, total: int) -> None:
        import ray

        self._ray, self._control, self._key, self._total = ray, control, key, total
        self.done = 0
        self._last = time.monotonic()
        self._cancelled = bool(ray.get(control.start.remote(key, os.getpid())))

    def add(self, frames: int) -> None:
        self.done += frames
        now = time.monotonic()
        if now - self._last >= REPORT_INTERVAL_S or self.done >= self._total:
            self._last = now
            self._cancelled = bool(self._ray.get(self._control.report.remote(self._key, self.done)))

    def is_set(self) -> bool:
        return self._cancelled


class StageWorker:
    """One per worker for a whole render; holds the current stage's model (loaded once per stage). Wrapped by
    `ray.remote` in the executor. Every task names its backend, so a worker Ray restarted after a crash loads the
    model again before it runs the chunk it lost."""

    def __init__(self, control_name: str, store_root: str | None = None) -> None:
        import ray

        self._control = ray.get_actor(control_name)
        self._store = ArtifactStore(store_root) if store_root else None
        self._identities: dict[str, np.ndarray] = {}
        self._model: Any = None
        self._loaded: tuple[str, str] | None = None

    def load(self, spec: Any, fingerprint: str) -> tuple[int, str | None, float]:
        """Load `spec`'s model (the previous stage's is dropped first): (pid, the error as one line or None, s)."""
        started = time.monotonic()
        try:
            if self._store is not None and not self._store.root.is_dir():
                raise StorageError(f"Ray worker {socket.gethostname()} does not see the project folder "
                                   f"{self._store.root}: it is not shared; render without --ray-shared-project.")
            self._ensure(spec, fingerprint)
            error = None
        except DeepstoryError as err:
            error = str(err)
        except Exception as err:   # reported to the driver as one line, with the worker's name
            error = f"Ray worker {socket.gethostname()} could not load {spec.backend_id}: {type(err).__name__}: {err}"
        return os.getpid(), error, time.monotonic() - started

    def _ensure(self, spec: Any, fingerprint: str) -> None:
        if self._loaded == (spec.backend_id, fingerprint):
            return
        self.release()                    # the previous stage's model first
        found = spec.fingerprint()
        if found != fingerprint:   # the same key must mean the same bytes: refuse other weights or other code
            raise ModelUnavailableError(
                f"Ray worker {socket.gethostname()} has other {spec.backend_id} weights or code than this machine "
                f"({found[:12]} vs {fingerprint[:12]}); install the same version and weights on every node.")
        self._model = spec.load()
        self._loaded = (spec.backend_id, fingerprint)

    def release(self) -> None:
        """Drop the model (the render is over, or the next stage runs elsewhere)."""
        from deepstory_kernel.device import release_memory

        self._model, self._loaded, self._identities = None, None, {}
        release_memory()

    def base(self, spec: Any, fingerprint: str, key: str, frames: int, face: Any, audio: np.ndarray,
             phonemes: Sequence, seed: int, style: Any) -> ChunkArtifact:
        """One chunk's base frames (`.npy` bytes), as `stages.base.write_base_frames` writes them."""
        self._ensure(spec, fingerprint)
        reporter = _Reporter(self._control, key, frames)
        identity = self._identity(face)
        with self._destination(base_stage.STAGE, key, base_stage.EXT) as path:
            base_stage.write_base_frames(path, self._model, audio, identity, seed, phonemes, cancel=reporter,
                                         on_frames=reporter.add, style=style)
            artifact = self._artifact(key, path, frames)
            track = base_stage.track_path(path)
            if artifact.data is not None and track.is_file():
                artifact = dataclasses.replace(artifact, track=track.read_bytes())
            return artifact

    def clip(self, spec: Any, fingerprint: str, key: str, frames: int, base_frames: np.ndarray, track: Any,
             face: Any, size: tuple[int, int], full_frame: bool) -> ChunkArtifact:
        """One chunk's clip (`.mp4` bytes), as `stages.animate.write_animated_clip` writes it."""
        self._ensure(spec, fingerprint)
        reporter = _Reporter(self._control, key, frames)
        with self._destination(animate_stage.STAGE, key, animate_stage.EXT) as path:
            animate_stage.write_animated_clip(path, base_frames, self._model, face.portrait,
                                              (int(size[0]), int(size[1])), full_frame, reporter, face.face(),
                                              on_frames=reporter.add, track=track)
            return self._artifact(key, path, frames)

    def _identity(self, face: Any) -> np.ndarray:
        """The speaker's base identity, made once per worker (the model may align faces its own way)."""
        if face.identity_hash not in self._identities:
            self._identities[face.identity_hash] = face.identity(self._model)
        return self._identities[face.identity_hash]

    def _destination(self, stage: str, key: str, ext: str) -> Any:
        import contextlib

        @contextlib.contextmanager
        def where() -> Iterator[Path]:
            if self._store is not None:        # shared project path: the stage code writes in place, atomically
                yield self._store.path(stage, key, ext)
                return
            with tempfile.TemporaryDirectory(prefix="deepstory-") as folder:
                yield Path(folder) / f"{key}.{ext}"

        return where()

    def _artifact(self, key: str, path: Path, frames: int) -> ChunkArtifact:
        data = None if self._store is not None else path.read_bytes()
        return ChunkArtifact(key, data, hashlib.sha256(data).hexdigest() if data is not None else sha256_file(path), frames)
