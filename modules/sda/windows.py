"""Audio windowing: one overlapping window of `audio_feat_samples` per video frame, centred on the frame.

The original grows the window stack with `torch.cat` in a Python loop (quadratic copying). Here the padded signal
is viewed with `unfold` (a strided view, no copy), so cutting is linear; values and window count are identical.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import signal

INT16_MAX = 32767  # the original divides by np.iinfo(int16).max on the way in


def pad_for_windows(speech: torch.Tensor, window: int, stride: int) -> torch.Tensor:
    """1-D speech → zero-padded 1-D signal (pad = window − stride, split left // 2, rest right), as the original."""
    pad = window - stride
    return torch.nn.functional.pad(speech.reshape(-1), (pad // 2, pad - pad // 2))


def cut_windows(speech: torch.Tensor, window: int, stride: int) -> torch.Tensor:
    """(N,) or (N, 1) speech → (T, window) strided VIEW, T = (N + pad − window) // stride + 1."""
    padded = pad_for_windows(speech, window, stride)
    if padded.numel() < window:
        raise ValueError(f"audio too short for one {window}-sample window")
    return padded.unfold(0, window, stride)


def window_count(num_samples: int, window: int, stride: int) -> int:
    return (num_samples + (window - stride) - window) // stride + 1


def resampled_length(num_samples: int, rate_in: int, rate_out: int) -> int:
    """The original's target length: `int(N * rate_out / float(rate_in))`."""
    return int(num_samples * rate_out / float(rate_in))


def speech_from_int16(audio: np.ndarray, fs: int, model_rate: int) -> torch.Tensor:
    """The original's input conversion (for reference checks): int16 → resample if needed → /32767 → float32 (N,)."""
    if fs != model_rate:
        resampled = signal.resample(audio, resampled_length(audio.shape[0], fs, model_rate))
        return torch.from_numpy(resampled / float(INT16_MAX)).float()
    return torch.from_numpy(audio / float(INT16_MAX)).float()


def speech_from_float(audio: np.ndarray, fs: int, model_rate: int) -> torch.Tensor:
    """Product path: float audio in [-1, 1] (= int16 / 32767) → model rate, same resampler, float32 (N,)."""
    audio64 = np.asarray(audio, dtype=np.float64).reshape(-1)
    if fs != model_rate:
        audio64 = signal.resample(audio64, resampled_length(audio64.shape[0], fs, model_rate))
    return torch.from_numpy(audio64).float()
