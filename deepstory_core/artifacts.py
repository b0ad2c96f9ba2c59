"""Content-addressed artifact store: `artifacts/<stage>/<key>.<ext>`.

An artifact's key is a hash of everything that determines it (stage, backend id, weights checksum, input keys,
parameters, seed), so the same inputs find the same file and nothing is computed twice, and a changed input simply
gets a new key. Files are written atomically: a killed run leaves finished artifacts intact and no half files.
Keys are hex digests, stage and extension names are checked: no user text ever reaches a path.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from deepstory_kernel.errors import StorageError

from .atomic import atomic_path

KEY_HEX_DIGITS = 24   # 96 bits: collisions are not a concern for a project's few thousand artifacts

_STAGE_RE = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
_KEY_RE = re.compile(r"^[0-9a-f]{8,64}$")
_EXT_RE = re.compile(r"^[a-z0-9]{1,8}(\.[a-z0-9]{1,8})?$")


def _canonical(value: Any) -> Any:
    """JSON-able, order-independent form of a key part (tuples → lists, numpy scalars → Python numbers)."""
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"artifact key part of type {type(value).__name__} has no canonical form")


def artifact_key(stage: str, **parts: Any) -> str:
    """Short hex sha256 of the canonical JSON of `stage` and `parts` (backend id, weights checksum, inputs, ...)."""
    payload = json.dumps({"stage": stage, **_canonical(parts)}, sort_keys=True, separators=(",", ":"),
                         ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:KEY_HEX_DIGITS]


class ArtifactStore:
    """Files under `root/<stage>/<key>.<ext>`; every write atomic, every read of a missing file a StorageError."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    # -- paths -------------------------------------------------------------------------------------------------
    def path(self, stage: str, key: str, ext: str) -> Path:
        if not _STAGE_RE.match(stage):
            raise ValueError(f"invalid stage name {stage!r}")
        if not _KEY_RE.match(key):
            raise ValueError(f"invalid artifact key {key!r}")
        if not _EXT_RE.match(ext):
            raise ValueError(f"invalid artifact extension {ext!r}")
        return self.root / stage / f"{key}.{ext}"

    def exists(self, stage: str, key: str, ext: str) -> bool:
        return self.path(stage, key, ext).is_file()

    def keys(self, stage: str, ext: str | None = None) -> list[str]:
        """Keys present for `stage` (optionally only those with extension `ext`), sorted."""
        folder = self.root / stage
        if not _STAGE_RE.match(stage) or not folder.is_dir():
            return []
        found = set()
        for entry in folder.iterdir():
            if entry.name.startswith("."):
                continue  # temp files of writes in progress
            key, _, entry_ext = entry.name.partition(".")
            if _KEY_RE.match(key) and (ext is None or entry_ext == ext):
                found.add(key)
        return sorted(found)

    def remove_except(self, stage: str, keep: set[str]) -> int:
        """Garbage collection: delete the stage's artifacts whose key is not in `keep`; returns files removed."""
        folder = self.root / stage
        if not _STAGE_RE.match(stage) or not folder.is_dir():
            return 0
        removed = 0
        for entry in folder.iterdir():
            key = entry.name.partition(".")[0]
            if not entry.name.startswith(".") and _KEY_RE.match(key) and key not in keep and entry.is_file():
                entry.unlink(missing_ok=True)
                removed += 1
        return removed

    # -- writing -----------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def writing(self, stage: str, key: str, ext: str) -> Iterator[Path]:
        """`with store.writing(stage, key, "mp4") as tmp:` write `tmp` any way you like; it appears on success."""
        with atomic_path(self.path(stage, key, ext)) as tmp:
            yield tmp

    def write_npy(self, stage: str, key: str, array: np.ndarray) -> Path:
        with self.writing(stage, key, "npy") as tmp:
            with open(tmp, "wb") as f:
                np.save(f, np.ascontiguousarray(array), allow_pickle=False)
        return self.path(stage, key, "npy")

    def write_json(self, stage: str, key: str, data: Any) -> Path:
        with self.writing(stage, key, "json") as tmp:
            tmp.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
        return self.path(stage, key, "json")

    # -- reading -----------------------------------------------------------------------------------------------
    def read_npy(self, stage: str, key: str, mmap: bool = True) -> np.ndarray:
        """The array, memory-mapped read-only by default so a large artifact costs no RAM until touched."""
        path = self.path(stage, key, "npy")
        try:
            return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
        except FileNotFoundError as err:
            raise StorageError(f"Artifact {stage}/{key}.npy is missing; run the {stage} stage again.") from err
        except (ValueError, OSError) as err:   # numpy's own text (its allow_pickle hint) is no help to the user
            raise StorageError(f"Artifact {path} is damaged (not a readable array); delete it and run the {stage} "
                               "stage again.") from err

    def read_json(self, stage: str, key: str) -> Any:
        path = self.path(stage, key, "json")
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as err:
            raise StorageError(f"Artifact {stage}/{key}.json is missing; run the {stage} stage again.") from err
        except (ValueError, OSError) as err:
            raise StorageError(f"Artifact {path} is damaged ({err}); delete it and run the {stage} stage again.") from err
