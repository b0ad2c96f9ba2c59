"""Reading the user's input files safely: only regular files, never more than a stated number of bytes.

Why: a story or cast path may name anything — `/dev/zero` (endless), a FIFO (an open() that never returns), a
folder, a 2 GB file. Each is refused in one line before any memory is spent on it. Paths that are outputs of a
command are compared with its inputs here too, so no command ever overwrites what it reads.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from deepstory_kernel.errors import InputError


def regular_file_size(path: str | os.PathLike[str], what: str) -> int:
    """Size of `path`; InputError unless it is an existing regular file (a FIFO or device is never opened)."""
    p = Path(path)
    try:
        info = os.stat(p)
    except FileNotFoundError:
        raise InputError(f"The {what} {p} was not found; check the path.") from None
    except OSError as err:
        raise InputError(f"Cannot read the {what} {p}: {err.strerror or err}.") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"The {what} {p} is a folder; give the path of a file.")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"The {what} {p} is not a regular file (a device, pipe or socket); give a saved file.")
    return info.st_size


def read_bounded(path: str | os.PathLike[str], limit: int, what: str) -> bytes:
    """The whole file when it is a regular file of at most `limit` bytes (checked while reading, too)."""
    p = Path(path)
    size = regular_file_size(p, what)
    too_big = InputError(f"The {what} {p} is {_megabytes(size)}; at most {_megabytes(limit)} is supported.")
    if size > limit:
        raise too_big
    try:
        with open(p, "rb") as f:
            data = f.read(limit + 1)
    except OSError as err:
        raise InputError(f"Cannot read the {what} {p}: {err.strerror or err}.") from None
    if len(data) > limit:   # the file grew since stat
        raise too_big
    return data


def _megabytes(size: int) -> str:
    return f"{size / 2 ** 20:.1f} MB" if size >= 2 ** 20 else f"{size} bytes"


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def refuse_outputs_that_are_inputs(outputs: Iterable[str | os.PathLike[str] | None],
                                   inputs: Iterable[str | os.PathLike[str] | None]) -> None:
    """InputError when a file a command writes (the output, or a file written beside it such as the .srt) is one
    of the files it reads — writing it would destroy the user's input."""
    sources = [Path(i) for i in inputs if i is not None]
    for output in outputs:
        if output is None:
            continue
        out = Path(output)
        for source in sources:
            if _same_file(out, source):
                raise InputError(f"The output {out} is also an input ({source}); writing it would replace your "
                                 "file. Choose another output name.")
