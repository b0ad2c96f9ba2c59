"""Audio DSP: exact resampled lengths, trimming, loudness, int16 conversion, WAV reading and its errors."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

from deepstory_core.audio import (
    load_audio_file,
    normalize_loudness,
    resample,
    resampled_length,
    rms_db,
    trim_bounds,
)
from deepstory_kernel.errors import InputError


def _tone(freq: float, seconds: float, sr: int, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("n, sr_from, sr_to", [(16000, 16000, 22050), (44100, 44100, 22050), (12345, 24000, 22050),
                                               (1, 16000, 22050), (999, 22050, 22050), (7, 48000, 22050)])
def test_resample_length_is_exact(n: int, sr_from: int, sr_to: int) -> None:
    out = resample(np.zeros(n, np.float32), sr_from, sr_to)
    assert out.dtype == np.float32
    assert len(out) == round(n * sr_to / sr_from) == resampled_length(n, sr_from, sr_to)


def test_resample_keeps_the_frequency() -> None:
    out = resample(_tone(440, 1.0, 16000), 16000, 22050)
    spectrum = np.abs(np.fft.rfft(out))
    peak_hz = np.argmax(spectrum) * 22050 / len(out)
    assert abs(peak_hz - 440) < 2
    assert abs(rms_db(out) - rms_db(_tone(440, 1.0, 22050))) < 0.2


def test_trim_removes_silence_and_keeps_the_sound() -> None:
    sr = 22050
    audio = np.concatenate([np.zeros(sr // 2), _tone(200, 1.0, sr), np.zeros(sr)]).astype(np.float32)
    start, end = trim_bounds(audio, sr)
    # frame-based (~46 ms frames): the bounds may keep up to one frame of lead-in/out, never cut the sound
    assert 0 <= sr // 2 - start < 0.06 * sr
    assert 0 <= end - (sr // 2 + sr) < 0.06 * sr
    assert trim_bounds(np.zeros(1000, np.float32), sr) == (0, 0)


def test_normalize_reaches_the_target_and_respects_the_peak_limit() -> None:
    quiet = _tone(300, 1.0, 22050, amp=0.01)
    out = normalize_loudness(quiet, target_rms_db=-20.0, peak_limit=0.95)
    assert abs(rms_db(out) - (-20.0)) < 0.05
    spiky = np.zeros(22050, np.float32)
    spiky[100] = 0.5
    spiky[200:300] = 0.001
    out = normalize_loudness(spiky, target_rms_db=-10.0, peak_limit=0.9)
    assert np.max(np.abs(out)) == pytest.approx(0.9, abs=1e-6)
    silent = np.zeros(100, np.float32)
    assert np.array_equal(normalize_loudness(silent), silent)


@pytest.mark.parametrize("dtype, scale", [(np.int16, 32767), (np.int32, 2**31 - 1), (np.float32, 1.0)])
def test_load_wav_formats_and_stereo_to_mono(tmp_path: Path, dtype, scale) -> None:
    left = _tone(220, 0.2, 16000, amp=0.5)
    right = np.zeros_like(left)
    stereo = np.stack([left, right], axis=1)
    data = (stereo * scale).astype(dtype) if dtype != np.float32 else stereo.astype(np.float32)
    path = tmp_path / "x.wav"
    wavfile.write(path, 16000, data)
    audio, sr = load_audio_file(path)
    assert sr == 16000 and audio.dtype == np.float32 and audio.shape == (len(left),)
    assert np.allclose(audio, left / 2, atol=1e-3)


def test_load_24_bit_wav_via_the_stdlib_reader(tmp_path: Path) -> None:
    samples = (np.array([0.5, -0.25, 0.0]) * 2**23).astype(np.int32)
    raw = b"".join(int(s).to_bytes(3, "little", signed=True) for s in samples)
    path = tmp_path / "x24.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(3)
        w.setframerate(8000)
        w.writeframes(raw)
    audio, sr = load_audio_file(path)
    assert sr == 8000
    assert np.allclose(audio, [0.5, -0.25, 0.0], atol=1e-6)


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_audio_file(tmp_path / "missing.wav")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"this is not a wav file at all")
    with pytest.raises(InputError, match="Cannot read .*junk.wav"):
        load_audio_file(junk)
    empty = tmp_path / "empty.wav"
    wavfile.write(empty, 22050, np.zeros(0, np.int16))
    with pytest.raises(InputError, match="no samples"):
        load_audio_file(empty)
