"""Is a stored artifact what its key says it is? Checked before it is reused or exported.

Why: an artifact's key says what it should contain, but the file on disk can be damaged (a bad sector, a
half-copied project, a user's experiment) or exchanged for another one. Every base and clip therefore gets a
*seal* beside it when it is written — `<key>.<ext>.json` with its byte size, frame count and sha256 — and is
verified against the seal and the frame count its chunk needs before it is reused: a clip that fails is named,
moved aside into `artifacts/damaged/` (kept for inspection, never deleted) and made again, instead of failing an
ffmpeg run on a temp file or exporting two swapped clips in the wrong order. Sentence and chunk audio are checked
against the length their json records. Verified files are remembered per process by their full identity, so a
render hashes each file once.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import numpy as np

from deepstory_kernel.errors import StorageError
from deepstory_kernel.file_facts import sha256_file

from .artifacts import ArtifactStore

LOG = logging.getLogger("deepstory")
DAMAGED_FOLDER = "damaged"
_verified: set[tuple[str, int, int, int, int]] = set()


def _identity(path: Path) -> tuple[str, int, int, int, int]:
    info = path.stat()
    return str(path), info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns


def npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype] | None:
    """(shape, dtype) of a `.npy` file from its header alone, None when it has no readable header (or holds
    Python objects)."""
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(f)
            offset = f.tell()
    except (ValueError, OSError, EOFError, SyntaxError):
        return None
    if dtype.hasobject:
        return None
    expected = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if path.stat().st_size != expected:
        return None         # truncated (or trailing garbage)
    return tuple(int(s) for s in shape), dtype


def quarantine(store: ArtifactStore, stage: str, key: str, exts: tuple[str, ...], what: str, why: str) -> None:
    """Move an artifact's files aside into `artifacts/damaged/` and say so (the next step makes it again)."""
    folder = store.root / DAMAGED_FOLDER
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    moved = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for ext in exts:
            path = store.path(stage, key, ext)
            if path.exists():
                target = folder / f"{stage}-{key}.{ext}.{stamp}"
                os.replace(path, target)
                moved.append(target)
    except OSError as err:
        raise StorageError(f"{what} is damaged ({why}) and cannot be moved aside to {folder} "
                           f"({err.strerror or err}); make the project writable or delete the file.") from err
    if moved:
        LOG.warning("%s was damaged (%s): moved aside to %s; it is made again.", what, why, moved[0].parent)


def seal_path(store: ArtifactStore, stage: str, key: str, ext: str) -> Path:
    return store.path(stage, key, f"{ext}.json")


def seal(store: ArtifactStore, stage: str, key: str, ext: str, frames: int, sha256: str | None = None) -> None:
    """Record what a just-written artifact is: size, frame count, sha256 (atomic; written after the artifact).
    `sha256`: the digest when the caller has just checked the very bytes it wrote (not read again)."""
    path = store.path(stage, key, ext)
    record = {"bytes": path.stat().st_size, "frames": int(frames), "sha256": sha256 or sha256_file(path)}
    _verified.add(_identity(path))
    try:
        with store.writing(stage, key, f"{ext}.json") as tmp:
            tmp.write_text(json.dumps(record), encoding="utf-8")
    except StorageError:
        if not os.access(path.parent, os.W_OK):
            return       # a read-only project: verified now, sealed by the next run that may write
        raise


def _read_seal(store: ArtifactStore, stage: str, key: str, ext: str) -> dict | None:
    try:
        data = json.loads(seal_path(store, stage, key, ext).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def verified(store: ArtifactStore, stage: str, key: str, ext: str, frames: int, what: str,
             count_frames=None) -> bool:
    """True when the artifact exists and is what it should be: its seal's size and sha256 match the file and the
    frame count is `frames`. A damaged or exchanged file is moved aside (False: make it again). An artifact from
    before seals existed is checked by its frame count (`count_frames(path)`) and sealed."""
    path = store.path(stage, key, ext)
    if not path.is_file():
        return False
    identity = _identity(path)
    if identity in _verified:
        return True
    record = _read_seal(store, stage, key, ext)
    if record is None:
        try:
            counted = count_frames(path) if count_frames is not None else None
        except Exception:  # an unreadable file: whatever the reader raised, it is damaged
            counted = -1
        if counted is not None and counted != frames:
            quarantine(store, stage, key, (ext, f"{ext}.json"), what, f"it holds {max(counted, 0)} frames, "
                       f"the chunk needs {frames}")
            return False
        seal(store, stage, key, ext, frames)
        return True
    if record.get("frames") != frames:
        problem = f"it was made for {record.get('frames')} frames, the chunk needs {frames}"
    elif record.get("bytes") != identity[2] or record.get("sha256") != sha256_file(path):
        problem = "its content is not what was written (changed or exchanged since)"
    else:
        _verified.add(identity)
        return True
    quarantine(store, stage, key, (ext, f"{ext}.json"), what, problem)
    return False


def frames_in_npy(path: Path) -> int:
    header = npy_header(path)
    if header is None:
        return -1
    shape, dtype = header
    return shape[0] if len(shape) == 4 and dtype == np.uint8 else -1


def audio_length(store: ArtifactStore, stage: str, key: str, what: str, expected: int | None = None,
                 repair: bool = True) -> int | None:
    """Samples of a finished audio artifact (`<key>.npy` float32 + `<key>.json` with num_samples, written last), or
    None when it is not there. A damaged pair — json without an integer num_samples, an array of another length
    or type, `expected` not matched — is moved aside when `repair` (None: make it again)."""
    if not (store.exists(stage, key, "json") and store.exists(stage, key, "npy")):
        return None
    try:
        record = json.loads(store.path(stage, key, "json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = None
    length = record.get("num_samples") if isinstance(record, dict) else None
    header = npy_header(store.path(stage, key, "npy"))
    if not isinstance(length, int) or isinstance(length, bool) or length < 0:
        problem = "its record has no sample count"
    elif not isinstance(record.get("phonemes", []), list):
        problem = "its phoneme list is damaged"
    elif header is None or header[1] != np.float32 or header[0] != (length,):
        problem = f"the audio does not hold the {length} float samples its record says"
    elif expected is not None and length != expected:
        problem = f"it holds {length} samples, {expected} are needed"
    else:
        return length
    if repair:
        quarantine(store, stage, key, ("npy", "json"), what, problem)
    return None


def clear_memory() -> None:
    """Forget which files were verified in this process (tests)."""
    _verified.clear()


