"""Linear magnitude spectrogram → 16-bit waveform, as DCTTS' `spectrogram2wav` (Kyubyong's dc_tts) computes it.

Steps: de-normalise the [0, 1] magnitudes to amplitude, raise to `power`, Griffin-Lim (50 iterations), undo the
pre-emphasis, trim leading/trailing silence (librosa `effects.trim`, top_db 60), scale to int16.

STFT conventions are librosa 0.7.2's (the version deepstory pinned): periodic Hann window of `win_length`
zero-padded to `n_fft`, centred frames with *reflect* padding. The phase iterations run in float64, which agrees
with the original float32 librosa computation to ~1e-5 relative.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.signal
import torch

from .hparams import DEFAULT_HPARAMS, HParams


def denormalize_magnitude(mag_TxF: np.ndarray, hp: HParams = DEFAULT_HPARAMS) -> np.ndarray:
    """[0, 1] magnitudes (T, F) → the spectrogram Griffin-Lim inverts, (F, T).

    Computed in the input's precision with numpy, like the original (float32 stays float32).
    """
    mag = np.asarray(mag_TxF).T
    mag = (np.clip(mag, 0, 1) * hp.max_db) - hp.max_db + hp.ref_db
    mag = np.power(10.0, mag * 0.05)
    return mag ** hp.power


class _Stft:
    """librosa-compatible STFT / inverse STFT pair on torch."""

    def __init__(self, hp: HParams, pad_mode: str, device: torch.device, dtype: torch.dtype):
        self.n_fft, self.hop, self.win = hp.n_fft, hp.hop_length, hp.win_length
        self.pad_mode = pad_mode
        self.window = torch.hann_window(self.win, periodic=True, dtype=dtype, device=device)

    def forward(self, signal: torch.Tensor) -> torch.Tensor:
        return torch.stft(signal, self.n_fft, self.hop, self.win, window=self.window, center=True,
                          pad_mode=self.pad_mode, normalized=False, onesided=True, return_complex=True)

    def inverse(self, spectrum: torch.Tensor) -> torch.Tensor:
        return torch.istft(spectrum, self.n_fft, self.hop, self.win, window=self.window, center=True,
                           normalized=False, onesided=True)


def griffin_lim(spectrogram: np.ndarray, hp: HParams = DEFAULT_HPARAMS, n_iter: int | None = None,
                pad_mode: str = "reflect", device: torch.device | str = "cpu",
                dtype: torch.dtype = torch.float64) -> np.ndarray:
    """Phase reconstruction of a magnitude spectrogram (F, T) → signal of hop·(T-1) samples (float64).

    Starts from zero phase; each iteration keeps the target magnitude and takes the phase of the re-analysed
    signal (|est| floored at 1e-8), as the original.
    """
    n_iter = hp.n_iter if n_iter is None else n_iter
    device = torch.device(device)
    complex_dtype = torch.complex128 if dtype == torch.float64 else torch.complex64
    stft = _Stft(hp, pad_mode, device, dtype)
    target = torch.as_tensor(np.asarray(spectrogram), device=device).to(dtype)
    best = target.to(complex_dtype)
    for _ in range(n_iter):
        estimate = stft.forward(stft.inverse(best))
        best = target * (estimate / estimate.abs().clamp_min(1e-8))
    return stft.inverse(best).cpu().numpy().astype(np.float64, copy=False)


def deemphasis(wav: np.ndarray, coefficient: float = DEFAULT_HPARAMS.preemphasis) -> np.ndarray:
    """Undo the training pre-emphasis: y[n] = x[n] + coefficient · y[n-1] (float64)."""
    return scipy.signal.lfilter([1.0], [1.0, -coefficient], wav)


def nonsilent_frames(wav: np.ndarray, top_db: float = 60, frame_length: int = 2048, hop_length: int = 512,
                     pad_mode: str = "reflect") -> np.ndarray:
    """Which centred RMS frames are within `top_db` of the loudest frame (librosa's `_signal_to_frame_nonsilent`).

    librosa 0.7.2 (deepstory's pin) padded the framing by reflection; librosa ≥ 0.10 pads with zeros
    (`pad_mode="constant"`). They differ only when the signal's edges are loud.
    """
    wav = np.asarray(wav, dtype=np.float64)
    half = frame_length // 2
    padded = np.pad(wav, half, mode=pad_mode) if pad_mode != "constant" else np.pad(wav, half)  # type: ignore[call-overload]
    n_frames = 1 + (len(padded) - frame_length) // hop_length
    frames = np.lib.stride_tricks.sliding_window_view(padded, frame_length)[::hop_length][:n_frames]
    power = np.mean(np.abs(frames) ** 2, axis=1)
    amin = 1e-10
    level_db = 10.0 * np.log10(np.maximum(amin, power)) - 10.0 * np.log10(max(amin, float(power.max())))
    return level_db > -top_db


def trim_silence(wav: np.ndarray, top_db: float = 60, frame_length: int = 2048, hop_length: int = 512,
                 pad_mode: str = "reflect") -> tuple[np.ndarray, tuple[int, int]]:
    """librosa.effects.trim: cut leading/trailing frames quieter than max − top_db → (trimmed, (start, end))."""
    if len(wav) == 0:
        return wav, (0, 0)
    loud = np.flatnonzero(nonsilent_frames(wav, top_db, frame_length, hop_length, pad_mode))
    if loud.size == 0:
        return wav[0:0], (0, 0)
    start = int(loud[0]) * hop_length
    end = min(len(wav), (int(loud[-1]) + 1) * hop_length)
    return wav[start:end], (start, end)


def to_int16(wav: np.ndarray) -> np.ndarray:
    """× 32767 and truncate towards zero like the original's `astype(int16)`; clipped first (the original wraps)."""
    return np.clip(np.asarray(wav, dtype=np.float64) * 32767, -32768, 32767).astype(np.int16)


@dataclass(frozen=True)
class WavSteps:
    """Every intermediate of `spectrogram_to_wav`, for checking against the original."""

    magnitude: np.ndarray       # (F, T) float32, Griffin-Lim input
    griffin_lim: np.ndarray     # float64
    deemphasized: np.ndarray    # float64
    trim_index: tuple[int, int]
    trimmed: np.ndarray         # float64
    wav: np.ndarray             # int16


def spectrogram_to_wav_steps(mag_TxF: np.ndarray, hp: HParams = DEFAULT_HPARAMS, pad_mode: str = "reflect",
                             device: torch.device | str = "cpu") -> WavSteps:
    magnitude = denormalize_magnitude(mag_TxF, hp)
    signal = griffin_lim(magnitude, hp, pad_mode=pad_mode, device=device)
    deemphasized = deemphasis(signal, hp.preemphasis)
    trimmed, index = trim_silence(deemphasized, pad_mode=pad_mode)
    return WavSteps(magnitude, signal, deemphasized, index, trimmed, to_int16(trimmed))


def spectrogram_to_wav(mag_TxF: np.ndarray, hp: HParams = DEFAULT_HPARAMS, pad_mode: str = "reflect",
                       device: torch.device | str = "cpu") -> np.ndarray:
    """The original `spectrogram2wav`: magnitudes (T, 1 + n_fft/2) in [0, 1] → int16 waveform at hp.sr."""
    return spectrogram_to_wav_steps(mag_TxF, hp, pad_mode, device).wav
