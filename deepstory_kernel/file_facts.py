"""Facts about large files (a content hash, a scan result), computed once and remembered across processes.

Why: hashing 700 MB of weights on every render is too slow, remembering the hash by name alone is wrong. A fact is
kept with the file's full identity — resolved path, device, inode, size, mtime AND ctime (which no user tool can
set back) — and used only while all of them still match, so a file replaced or edited in place (even to the same
size and mtime) is always computed afresh. The cache is a small JSON file under the user's cache folder, written
atomically; when it cannot be read or written the facts are simply computed again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

CACHE_FILE = "file-facts.json"
MAX_ENTRIES = 500
_LOCK = threading.Lock()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """sha256 of a file's whole content, read in 4 MiB blocks (never held whole)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_dir() -> Path:
    """$DEEPSTORY_CACHE_DIR, else $XDG_CACHE_HOME/deepstory, else ~/.cache/deepstory."""
    explicit = os.environ.get("DEEPSTORY_CACHE_DIR", "").strip()
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "deepstory"


def _identity(path: Path) -> tuple[str, list[int]]:
    info = os.stat(path)
    return str(path.resolve()), [info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns]


def _load() -> dict[str, Any]:
    try:
        data = json.loads((cache_dir() / CACHE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _store(data: dict[str, Any]) -> None:
    folder = cache_dir()
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{CACHE_FILE}.", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f)
            os.replace(tmp, folder / CACHE_FILE)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def file_fact(path: str | os.PathLike[str], name: str, compute: Callable[[Path], Any]) -> Any:
    """`compute(path)` (JSON-able), remembered for this exact file; recomputed whenever the file changed."""
    path = Path(path)
    key, identity = _identity(path)
    with _LOCK:
        entry = _load().get(key)
    if isinstance(entry, dict) and entry.get("identity") == identity and name in entry.get("facts", {}):
        return entry["facts"][name]
    value = compute(path)
    if _identity(path)[1] != identity:   # changed while we read it: do not remember a mixed result
        return value
    with _LOCK:
        data = _load()
        entry = data.get(key)
        facts = entry["facts"] if isinstance(entry, dict) and entry.get("identity") == identity else {}
        facts[name] = value
        data.pop(key, None)
        data[key] = {"identity": identity, "facts": facts}
        while len(data) > MAX_ENTRIES:
            data.pop(next(iter(data)))
        _store(data)
    return value
