"""Atomic file writes: a temp file in the destination folder, then `os.replace`.

A killed process therefore leaves either the old file or the new one, never half a file. Used for every write
the project makes (project.json, artifacts, exports).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

from deepstory_kernel.errors import StorageError


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_SHORT_WRITE = re.compile(r"\d+ requested and \d+ written")

# mkstemp creates 0600 files; finished files get the permissions a plain open() would give them (the umask is read
# once, at import: reading it means setting it, which is not safe while job threads create files).
FILE_MODE = 0o666 & ~_current_umask()


@contextlib.contextmanager
def atomic_path(destination: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temp path beside `destination`; on success move it into place, on error delete it.

    `suffix` defaults to the destination's own suffix, so tools that infer a format from the extension
    (ffmpeg, numpy) still work on the temp file.
    """
    destination = Path(destination)
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=temp_prefix(destination), suffix=destination.suffix if suffix is None else suffix,
            dir=destination.parent,
        )
        os.close(fd)
        os.chmod(tmp_name, FILE_MODE)
    except OSError as err:
        raise StorageError(_describe_os_error(err, destination)) from err
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, destination)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise StorageError(_describe_os_error(err, destination)) from err
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(destination: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(destination) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def atomic_write_text(destination: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(destination, text.encode("utf-8"))


def temp_prefix(destination: str | os.PathLike[str]) -> str:
    """`.<stem>.~<pid>~`: a temp file is hidden, names what it will become, and says which process writes it — so
    the temp files of a killed process can be found and removed later (`remove_orphan_temp_files`) while those of
    a running one are never touched."""
    return f".{Path(destination).stem[:40]}.~{os.getpid()}@{_HOST}~"


# Which machine wrote a temp file: a project folder shared by several machines (a Ray cluster) holds temp files
# of processes that are alive elsewhere — only this machine's dead processes' files are ever removed.
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]
_TEMP_PID = re.compile(r"^\..*?\.~(\d+)@([0-9a-f]{6})~")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_orphan_temp_files(folder: str | os.PathLike[str]) -> int:
    """Delete the temp files (and temp folders) in `folder` whose writing process no longer runs — what a process
    killed mid-write leaves behind. Returns how many were removed."""
    import shutil

    removed = 0
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return 0
    for entry in entries:
        match = _TEMP_PID.match(entry.name)
        if match is None or match.group(2) != _HOST or _alive(int(match.group(1))):
            continue
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed += 1
        except OSError:
            continue
    return removed


def describe_os_error(err: OSError, destination: str | os.PathLike[str]) -> str:
    """One line for an OSError while writing `destination` (a full disk says so, whatever layer noticed it)."""
    return _describe_os_error(err, Path(destination))


def disk_full_message(destination: str | os.PathLike[str]) -> str:
    return f"The disk is full: could not write {destination}. Free some space and try again; nothing finished was lost."


def _describe_os_error(err: OSError, destination: Path) -> str:
    if err.errno in (errno.ENOSPC, errno.EDQUOT) or _SHORT_WRITE.search(str(err)):
        # numpy's tofile reports a full disk as a short write ("85760 requested and 56288 written", no errno)
        return disk_full_message(destination)
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"No permission to write {destination}. Choose another location."
    return f"Could not write {destination}: {err.strerror or err}."
