"""Reading what a torch checkpoint contains — key names, tensor shapes, plain values — WITHOUT reading its weights.

Used by the model registry, whose checks must be cheap on 200–700 MB files. Both torch formats are handled:
the zip format (`archive/data.pkl` + one record per storage) and the legacy format (pickles followed by the raw
storages, as 2019-era checkpoints like `grid.dat` and `vox-cpk.pth.tar` are written). Unpickling goes through an
allow-list close to `torch.load(weights_only=True)`; tensors come back as `TensorMeta`. Truncation is detected by
checking that every storage the pickle refers to lies inside the file.
"""

from __future__ import annotations

import codecs
import collections
import io
import os
import pickle
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LFS_PREFIX = b"version https://git-lfs.github.com/spec/v1"
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C

_STORAGE_DTYPES = {
    "FloatStorage": ("float32", 4), "DoubleStorage": ("float64", 8), "HalfStorage": ("float16", 2),
    "BFloat16Storage": ("bfloat16", 2), "LongStorage": ("int64", 8), "IntStorage": ("int32", 4),
    "ShortStorage": ("int16", 2), "CharStorage": ("int8", 1), "ByteStorage": ("uint8", 1),
    "BoolStorage": ("bool", 1),
}


class CheckpointCorrupt(Exception):
    """Not a readable torch file (truncated, damaged, not a checkpoint at all)."""


class CheckpointUnsafe(Exception):
    """The pickle asks for a global (class/function) that `weights_only=True` refuses."""

    def __init__(self, global_name: str) -> None:
        super().__init__(global_name)
        self.global_name = global_name


@dataclass(frozen=True)
class TensorMeta:
    shape: tuple[int, ...]
    dtype: str


@dataclass(frozen=True)
class _StorageType:
    name: str

    @property
    def dtype(self) -> str:
        return _STORAGE_DTYPES[self.name][0]

    @property
    def element_size(self) -> int:
        return _STORAGE_DTYPES[self.name][1]


@dataclass(frozen=True)
class _StorageRef:
    key: str
    dtype: str
    element_size: int
    numel: int | None


_SAFE_BUILTINS = {"builtins.set": set, "builtins.frozenset": frozenset, "builtins.slice": slice,
                  "builtins.complex": complex}


def _rebuild_tensor(storage: _StorageRef, offset: int, size: Any, stride: Any, *_: Any) -> TensorMeta:
    return TensorMeta(tuple(int(s) for s in size), storage.dtype)


def _rebuild_parameter(data: Any, *_: Any) -> Any:
    return data


def _numpy_global(name: str) -> Any:
    import numpy as np
    from numpy._core import multiarray

    return {"_reconstruct": multiarray._reconstruct, "ndarray": np.ndarray, "dtype": np.dtype,
            "scalar": multiarray.scalar}.get(name) or getattr(np.dtypes, name, None)


class _MetaUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, storages: dict[str, _StorageRef], allow_numpy: bool) -> None:
        super().__init__(file, encoding="latin1")
        self.storages = storages
        self.allow_numpy = allow_numpy

    def find_class(self, module: str, name: str) -> Any:
        full = f"{module}.{name}"
        if full in ("torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor"):
            return _rebuild_tensor
        if full in ("torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state"):
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if full == "collections.OrderedDict":
            return collections.OrderedDict
        if full in _SAFE_BUILTINS:
            return _SAFE_BUILTINS[full]
        if full == "_codecs.encode":
            return codecs.encode
        if full == "torch.device":
            return lambda *a: f"device({', '.join(map(str, a))})"
        if self.allow_numpy and module in ("numpy.core.multiarray", "numpy._core.multiarray", "numpy",
                                           "numpy.dtypes"):
            found = _numpy_global(name)
            if found is not None:
                return found
        raise CheckpointUnsafe(full)

    def persistent_load(self, pid: Any) -> Any:
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            raise CheckpointCorrupt(f"unknown persistent id {pid!r}")
        storage_type, key = pid[1], str(pid[2])
        numel = int(pid[4]) if len(pid) > 4 else None
        if not isinstance(storage_type, _StorageType):
            raise CheckpointCorrupt(f"unknown storage type {storage_type!r}")
        ref = _StorageRef(key, storage_type.dtype, storage_type.element_size, numel)
        self.storages.setdefault(key, ref)
        return ref


def sniff(path: str | os.PathLike[str]) -> str:
    """'missing' | 'empty' | 'lfs-pointer' | 'zip' | 'legacy' | 'unknown' from at most the first 64 bytes."""
    p = Path(path)
    if not p.is_file():
        return "missing"
    with open(p, "rb") as f:
        head = f.read(64)
    if not head:
        return "empty"
    if head.startswith(LFS_PREFIX):
        return "lfs-pointer"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head[:1] == b"\x80":  # pickle protocol marker: legacy torch.save
        return "legacy"
    return "unknown"


def read_lfs_pointer(path: str | os.PathLike[str]) -> dict[str, str]:
    """The `oid` / `size` lines of a git-LFS pointer file."""
    fields = {}
    for line in Path(path).read_text(errors="replace").splitlines()[:10]:
        key, _, value = line.partition(" ")
        fields[key] = value.strip()
    return fields


def read_metadata(path: str | os.PathLike[str], allow_numpy: bool = False) -> Any:
    """The unpickled checkpoint with every tensor replaced by `TensorMeta`. Reads only the pickle and the file's
    index, never the tensor bytes. Raises CheckpointCorrupt or CheckpointUnsafe."""
    kind = sniff(path)
    try:
        if kind == "zip":
            return _read_zip(Path(path), allow_numpy)
        if kind == "legacy":
            return _read_legacy(Path(path), allow_numpy)
    except (CheckpointCorrupt, CheckpointUnsafe):
        raise
    except (pickle.UnpicklingError, EOFError, zipfile.BadZipFile, struct.error, ValueError, KeyError,
            IndexError, TypeError, AttributeError, UnicodeDecodeError, OSError) as err:
        raise CheckpointCorrupt(f"{type(err).__name__}: {err}") from err
    raise CheckpointCorrupt(f"not a torch checkpoint (file starts as {kind})")


def _read_zip(path: Path, allow_numpy: bool) -> Any:
    size = path.stat().st_size
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        pkl = [i for i in infos if i.filename.endswith("/data.pkl") or i.filename == "data.pkl"]
        if not pkl:
            raise CheckpointCorrupt("zip archive without data.pkl")
        prefix = pkl[0].filename[: -len("data.pkl")]
        storages: dict[str, _StorageRef] = {}
        obj = _MetaUnpickler(io.BytesIO(archive.read(pkl[0])), storages, allow_numpy).load()
        records = {i.filename[len(prefix) + len("data/"):]: i for i in infos if i.filename.startswith(prefix + "data/")}
        for key, ref in storages.items():
            info = records.get(key)
            if info is None:
                raise CheckpointCorrupt(f"storage record {key} missing")
            if info.header_offset + info.compress_size > size:
                raise CheckpointCorrupt(f"storage record {key} extends past the end of the file (truncated)")
            if ref.numel is not None and info.file_size < ref.numel * ref.element_size:
                raise CheckpointCorrupt(f"storage record {key} is shorter than its tensor")
    return obj


def _read_legacy(path: Path, allow_numpy: bool) -> Any:
    size = path.stat().st_size
    storages: dict[str, _StorageRef] = {}
    with open(path, "rb") as f:
        magic = _MetaUnpickler(f, storages, allow_numpy).load()
        if magic != LEGACY_MAGIC:
            raise CheckpointCorrupt("not a torch checkpoint (wrong magic number)")
        _MetaUnpickler(f, storages, allow_numpy).load()  # protocol version
        _MetaUnpickler(f, storages, allow_numpy).load()  # sys info
        obj = _MetaUnpickler(f, storages, allow_numpy).load()
        keys = _MetaUnpickler(f, storages, allow_numpy).load()
        position = f.tell()
        for key in keys:
            ref = storages.get(str(key))
            if ref is None:
                raise CheckpointCorrupt(f"storage {key} listed but never used")
            f.seek(position)
            header = f.read(8)
            if len(header) < 8:
                raise CheckpointCorrupt("file ends inside the tensor data (truncated)")
            (numel,) = struct.unpack("<q", header)
            position += 8 + numel * ref.element_size
            if position > size:
                raise CheckpointCorrupt("file ends inside the tensor data (truncated)")
    return obj


_FLOAT_VIEWS = {"float32": "<f4", "float64": "<f8", "float16": "<f2"}
_SCAN_BLOCK = 1 << 22


def _block_nonfinite(data: bytes, dtype: str) -> bool:
    import numpy as np

    if dtype == "bfloat16":
        bits = np.frombuffer(data[: len(data) // 2 * 2], "<u2")
        return bool(((bits & 0x7F80) == 0x7F80).any())     # exponent all ones: inf or NaN
    view = _FLOAT_VIEWS.get(dtype)
    if view is None:
        return False
    values = np.frombuffer(data[: len(data) // np.dtype(view).itemsize * np.dtype(view).itemsize], view)
    return not bool(np.isfinite(values).all())


def _stream_nonfinite(read: Any, nbytes: int, ref: _StorageRef) -> bool:
    """Read `nbytes` of one storage through `read(n)` in blocks; True when a float value is NaN or infinite."""
    step = _SCAN_BLOCK - _SCAN_BLOCK % ref.element_size
    found = False
    while nbytes > 0:
        block = read(min(step, nbytes))
        if not block:
            break
        nbytes -= len(block)
        found = found or _block_nonfinite(block, ref.dtype)
    return found


def count_nonfinite_storages(path: str | os.PathLike[str], allow_numpy: bool = False) -> int:
    """How many floating-point storages of a checkpoint hold NaN or infinite values — read in blocks straight from
    the file (no tensors built), so a 700 MB checkpoint costs a few MiB of memory. Raises CheckpointCorrupt."""
    p = Path(path)
    kind = sniff(p)
    try:
        if kind == "zip":
            with zipfile.ZipFile(p) as archive:
                infos = archive.infolist()
                pkl = next(i for i in infos if i.filename.endswith("/data.pkl") or i.filename == "data.pkl")
                prefix = pkl.filename[: -len("data.pkl")]
                storages: dict[str, _StorageRef] = {}
                _MetaUnpickler(io.BytesIO(archive.read(pkl)), storages, allow_numpy).load()
                count = 0
                for key, ref in storages.items():
                    with archive.open(f"{prefix}data/{key}") as member:
                        count += _stream_nonfinite(member.read, archive.getinfo(f"{prefix}data/{key}").file_size, ref)
                return count
        if kind == "legacy":
            storages = {}
            with open(p, "rb") as f:
                for _ in range(4):   # magic, protocol version, sys info, the object
                    _MetaUnpickler(f, storages, allow_numpy).load()
                keys = _MetaUnpickler(f, storages, allow_numpy).load()
                count = 0
                for key in keys:
                    ref = storages[str(key)]
                    (numel,) = struct.unpack("<q", f.read(8))
                    count += _stream_nonfinite(f.read, numel * ref.element_size, ref)
                return count
    except (CheckpointCorrupt, CheckpointUnsafe):
        raise
    except (pickle.UnpicklingError, EOFError, zipfile.BadZipFile, struct.error, ValueError, KeyError, StopIteration,
            IndexError, TypeError, AttributeError, UnicodeDecodeError, OSError) as err:
        raise CheckpointCorrupt(f"{type(err).__name__}: {err}") from err
    return 0
