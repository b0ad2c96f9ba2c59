"""Incremental 16-bit PCM WAV files, so a story's soundtrack is written chunk by chunk and never held whole.

`WavWriter` appends blocks to a temp file beside the destination, fixes the RIFF header sizes at `close()` and
moves the file into place (`os.replace`): a reader never sees a half-written story.wav, and an aborted write
(exception inside the `with`) leaves the previous file untouched.
"""

from __future__ import annotations

import contextlib
import os
import sys
import wave
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import numpy as np

from deepstory_kernel.errors import InputError, StorageError

from .atomic import atomic_path, describe_os_error


def float_to_int16(audio: np.ndarray) -> np.ndarray:
    """float in [-1, 1] → int16 (clipped, rounded); int16 input passes through."""
    if audio.dtype == np.int16:
        return audio
    return np.round(np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0) * 32767.0).astype(np.int16)


class WavWriter:
    """`with WavWriter(path, 22050) as w: w.write(block) ...` — mono or interleaved int16 PCM, written atomically."""

    def __init__(self, path: str | os.PathLike[str], sample_rate: int, channels: int = 1) -> None:
        self.path = Path(path)
        self.sample_rate = sample_rate
        self.channels = channels
        self.frames_written = 0
        self._stack = contextlib.ExitStack()
        tmp = self._stack.enter_context(atomic_path(self.path))
        try:
            self._file: BinaryIO = self._stack.enter_context(open(tmp, "wb"))
            self._wave = wave.open(self._file, "wb")
            self._wave.setnchannels(channels)
            self._wave.setsampwidth(2)
            self._wave.setframerate(sample_rate)
        except BaseException:
            self._stack.__exit__(*sys.exc_info())
            raise
        self._closed = False

    def write(self, block: np.ndarray) -> None:
        """Append samples: float32 in [-1, 1] or int16; shape (n,) or (n, channels)."""
        data = float_to_int16(np.asarray(block))
        if data.ndim == 1 and self.channels != 1:
            raise ValueError("mono block written to a multi-channel file")
        try:
            self._wave.writeframesraw(np.ascontiguousarray(data, dtype="<i2").tobytes())
        except OSError as err:
            self.abort()
            raise StorageError(describe_os_error(err, self.path)) from err
        self.frames_written += data.shape[0]

    def close(self) -> None:
        """Fix the header and move the finished file into place."""
        if self._closed:
            return
        self._closed = True
        try:
            self._wave.close()  # patches the RIFF/data sizes
        except OSError as err:
            self._stack.__exit__(type(err), err, err.__traceback__)
            raise StorageError(describe_os_error(err, self.path)) from err
        self._stack.close()

    def abort(self) -> None:
        """Drop the temp file; the destination keeps whatever it held before."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self._wave.close()
        err = RuntimeError("write aborted")
        with contextlib.suppress(RuntimeError):
            self._stack.__exit__(RuntimeError, err, None)

    def __enter__(self) -> WavWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def wav_info(path: str | os.PathLike[str]) -> tuple[int, int, int]:
    """(sample_rate, channels, frames) of a 16-bit PCM WAV file."""
    with _open_pcm16(path) as w:
        return w.getframerate(), w.getnchannels(), w.getnframes()


def read_wav_frames(path: str | os.PathLike[str], block_frames: int = 1 << 16) -> Iterator[np.ndarray]:
    """Stream a 16-bit PCM WAV as int16 blocks of shape (n,) (mono) or (n, channels)."""
    with _open_pcm16(path) as w:
        channels = w.getnchannels()
        while True:
            raw = w.readframes(block_frames)
            if not raw:
                return
            block = np.frombuffer(raw, dtype="<i2").astype(np.int16)
            yield block if channels == 1 else block.reshape(-1, channels)


def read_wav(path: str | os.PathLike[str]) -> tuple[int, np.ndarray]:
    """Whole file as (sample_rate, int16 array) — for short files and tests."""
    rate, _, _ = wav_info(path)
    blocks = list(read_wav_frames(path))
    return rate, (np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.int16))


@contextlib.contextmanager
def _open_pcm16(path: str | os.PathLike[str]) -> Iterator[wave.Wave_read]:
    try:
        w = wave.open(str(path), "rb")
    except FileNotFoundError as err:
        raise InputError(f"Audio file {path} does not exist.") from err
    except (wave.Error, EOFError) as err:
        raise InputError(f"{path} is not a readable PCM WAV file ({err}).") from err
    try:
        if w.getsampwidth() != 2:
            raise InputError(f"{path} is {8 * w.getsampwidth()}-bit; only 16-bit PCM WAV is supported here.")
        yield w
    finally:
        w.close()
