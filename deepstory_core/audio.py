"""Sentence-audio DSP and WAV reading: everything the voice stage does between a backend and the project rate.

All audio in the studio is mono float32 in [-1, 1]. No librosa: scipy's polyphase resampler and a small RMS-frame
trimmer are enough and keep lengths exact (the chunk planner and subtitles count samples).
"""

from __future__ import annotations

import os
import wave
from math import gcd
from pathlib import Path

import numpy as np

from deepstory_kernel.errors import InputError

DEFAULT_TOP_DB = 40.0          # frames quieter than (loudest frame − this) count as silence
DEFAULT_TARGET_RMS_DB = -20.0  # speech loudness after normalisation (dBFS RMS)
DEFAULT_PEAK_LIMIT = 0.95      # never push a peak above this
MAX_UNMAPPED_BYTES = 512 << 20 # WAV variants read whole (24-bit, odd headers) are limited to this


def as_mono_float32(audio: np.ndarray) -> np.ndarray:
    """Any (n,) or (n, channels) numeric array → (n,) float32 (integers scaled to [-1, 1])."""
    a = np.asarray(audio)
    if a.dtype == np.int16:
        a = a.astype(np.float32) / 32768.0
    elif a.dtype == np.int32:
        a = (a.astype(np.float64) / 2147483648.0).astype(np.float32)
    elif a.dtype == np.uint8:
        a = (a.astype(np.float32) - 128.0) / 128.0
    elif np.issubdtype(a.dtype, np.integer):
        a = (a.astype(np.float64) / float(np.iinfo(a.dtype).max + 1)).astype(np.float32)
    else:
        a = a.astype(np.float32, copy=False)
    if a.ndim == 2:
        a = a.mean(axis=1, dtype=np.float32)
    elif a.ndim != 1:
        raise ValueError(f"audio must be 1-D or 2-D (samples, channels), got shape {a.shape}")
    return np.ascontiguousarray(a, dtype=np.float32)


def resampled_length(n: int, sr_from: int, sr_to: int) -> int:
    """The exact output length `resample` gives: round(n · to / from), computed in integers (half rounds up)."""
    return (2 * n * sr_to + sr_from) // (2 * sr_from)


def resample(audio: np.ndarray, sr_from: int, sr_to: int) -> np.ndarray:
    """Polyphase resampling to `sr_to`, float32, length exactly `resampled_length(len(audio), sr_from, sr_to)`."""
    if sr_from <= 0 or sr_to <= 0:
        raise ValueError(f"sample rates must be positive, got {sr_from} → {sr_to}")
    a = as_mono_float32(audio)
    if sr_from == sr_to or len(a) == 0:
        return a.copy()
    from scipy.signal import resample_poly

    g = gcd(int(sr_from), int(sr_to))
    out = resample_poly(a, sr_to // g, sr_from // g).astype(np.float32, copy=False)
    n = resampled_length(len(a), sr_from, sr_to)
    if len(out) >= n:
        return np.ascontiguousarray(out[:n])
    return np.concatenate([out, np.zeros(n - len(out), np.float32)])


def _frame_rms_db(audio: np.ndarray, frame: int, hop: int) -> np.ndarray:
    n_frames = max(1, 1 + (len(audio) - frame) // hop) if len(audio) >= frame else 1
    padded = audio if len(audio) >= frame else np.pad(audio, (0, frame - len(audio)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, frame)[::hop][:n_frames]
    rms = np.empty(n_frames, np.float64)
    block = 256     # frames at a time: the float64 windows of a long sentence never exist all at once
    for start in range(0, n_frames, block):
        part = windows[start:start + block].astype(np.float64)
        rms[start:start + block] = np.sqrt(np.mean(part * part, axis=1))
    return 20.0 * np.log10(np.maximum(rms, 1e-10))


def trim_bounds(audio: np.ndarray, sr: int, top_db: float = DEFAULT_TOP_DB) -> tuple[int, int]:
    """(start, end) of the non-silent part: frames (~46 ms, hop ~12 ms) within `top_db` of the loudest frame.

    Fully silent audio gives (0, 0).
    """
    a = as_mono_float32(audio)
    if len(a) == 0 or not np.any(a):
        return 0, 0
    frame = max(16, int(round(sr * 1024 / 22050)))
    hop = max(4, frame // 4)
    db = _frame_rms_db(a, frame, hop)
    loud = np.flatnonzero(db > db.max() - top_db)
    start = int(loud[0]) * hop
    end = min(len(a), int(loud[-1]) * hop + frame)
    return start, end


def rms_db(audio: np.ndarray) -> float:
    """RMS level in dBFS (−inf for silence)."""
    a = as_mono_float32(audio)
    if len(a) == 0:
        return float("-inf")
    rms = float(np.sqrt(np.mean(a.astype(np.float64) ** 2)))
    return 20.0 * np.log10(rms) if rms > 0 else float("-inf")


def normalize_loudness(
    audio: np.ndarray, target_rms_db: float = DEFAULT_TARGET_RMS_DB, peak_limit: float = DEFAULT_PEAK_LIMIT
) -> np.ndarray:
    """Scale to `target_rms_db` RMS, but never so far that a peak exceeds `peak_limit` (voices sound equally loud)."""
    a = as_mono_float32(audio)
    level = rms_db(a)
    if not np.isfinite(level):
        return a.copy()
    gain = 10.0 ** ((target_rms_db - level) / 20.0)
    peak = float(np.max(np.abs(a)))
    if peak * gain > peak_limit:
        gain = peak_limit / peak
    return (a * np.float32(gain)).astype(np.float32)


def load_audio_file(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """A WAV file (int16/int32/uint8/float, any channels) → (mono float32, sample rate); InputError if unusable.
    Reads the whole file: for long files use `open_wav` (memory-mapped, read in blocks)."""
    stream = open_wav(path)
    audio = stream.read(0, stream.frames)
    if not np.all(np.isfinite(audio)):
        raise InputError(f"The audio file {path} contains NaN or infinite samples.")
    return audio, stream.rate


class WavStream:
    """A WAV file's samples, memory-mapped when the format allows: `read(start, stop)` gives mono float32."""

    def __init__(self, path: Path, rate: int, data: np.ndarray) -> None:
        self.path, self.rate, self._data = path, rate, data

    @property
    def frames(self) -> int:
        return int(self._data.shape[0])

    def read(self, start: int, stop: int) -> np.ndarray:
        return as_mono_float32(np.asarray(self._data[start:stop]))


def open_wav(path: str | os.PathLike[str]) -> WavStream:
    """Open a WAV file for reading in blocks; every malformed header (0 channels, truncated data, not a WAV) is an
    InputError naming the file — the parsers' own exceptions never reach the user."""
    from .inputs import regular_file_size

    p = Path(path)
    if not p.exists():
        raise InputError(f"Audio file not found: {p}; check the path.")
    regular_file_size(p, "audio file")
    try:
        import warnings

        from scipy.io import wavfile

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # scipy warns about unknown chunks (LIST, …) it skips
            sr, data = wavfile.read(str(p), mmap=True)
    except Exception as first_err:
        try:
            data, sr = _read_with_wave(p)
        except Exception:
            reason = str(first_err).splitlines()[0] if str(first_err) else type(first_err).__name__
            raise InputError(f"Cannot read {p} as a WAV file ({reason}); give a PCM or float WAV file.") from None
    _check_complete(p)
    if data.ndim not in (1, 2) or (data.ndim == 2 and data.shape[1] == 0):
        raise InputError(f"The audio file {p} declares no channels; give a mono or stereo WAV file.")
    if data.size == 0:
        raise InputError(f"The audio file {p} contains no samples; give a file with sound in it.")
    if sr <= 0:
        raise InputError(f"The audio file {p} declares an invalid sample rate ({sr}).")
    return WavStream(p, int(sr), data)


def _check_complete(p: Path) -> None:
    """InputError when the RIFF `data` chunk announces more bytes than the file holds (a cut-off download or copy):
    the readers would silently return the part that is there."""
    import struct

    size = p.stat().st_size
    with open(p, "rb") as f:
        header = f.read(12)
        if len(header) < 12 or header[:4] not in (b"RIFF", b"RIFX") or header[8:12] != b"WAVE":
            return
        order = "<" if header[:4] == b"RIFF" else ">"
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return
            kind, length = chunk[:4], struct.unpack(order + "I", chunk[4:])[0]
            if kind == b"data":
                if length not in (0, 0xFFFFFFFF) and f.tell() + length > size:
                    raise InputError(f"The audio file {p} is truncated: its header announces {length} bytes of "
                                     f"samples, the file holds {size - f.tell()}; copy or export it again.")
                return
            f.seek(length + (length & 1), 1)


def _read_with_wave(p: Path) -> tuple[np.ndarray, int]:
    """Fallback for WAV variants scipy rejects: the stdlib reader (PCM 8/16/24/32-bit)."""
    with wave.open(str(p), "rb") as w:
        channels, width, sr, n = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
        if channels < 1:
            raise ValueError("no channels")
        if n * channels * width > MAX_UNMAPPED_BYTES:
            raise ValueError(f"a {width * 8}-bit WAV larger than {MAX_UNMAPPED_BYTES >> 20} MB")
        raw = w.readframes(n)
    if width == 1:
        data = np.frombuffer(raw, np.uint8)
    elif width == 2:
        data = np.frombuffer(raw, "<i2")
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        data = ((b[:, 0] << 8) | (b[:, 1] << 16) | (b[:, 2] << 24)).astype(np.int32)
    elif width == 4:
        data = np.frombuffer(raw, "<i4")
    else:
        raise ValueError(f"unsupported sample width {width}")
    if channels > 1:
        data = data[: len(data) // channels * channels].reshape(-1, channels)
    return data, sr
