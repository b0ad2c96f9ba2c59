"""Autoregressive DCTTS synthesis: text → mel frames (Text2Mel) → linear magnitudes (SSRN) → int16 waveform.

The original (`voice.py`) re-ran Text2Mel on the whole prefix at every step and applied the monotonic attention
rule with a Python loop over all previous steps — quadratic in the utterance length. Every network in the decoding
path is causal, so step t of the original only ever changes frame t (earlier frames are recomputed to the same
values up to float rounding). Here the text is encoded once and each step pushes one frame through the causal
stacks (`Text2MelStream`), which gives the same frames (to ~1e-6) in linear time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from deepstory_kernel.device import inference

from .griffin_lim import spectrogram_to_wav
from .hparams import DEFAULT_HPARAMS, HParams
from .ssrn import SSRN
from .text import text_to_ids
from .text2mel import Text2Mel

ORIGINAL_TIMEOUT = 10000  # the original's step limit


def default_max_steps(n_symbols: int) -> int:
    """Length cap in mel frames: ~6x a normal speaking rate (≈1.3 frames of 50 ms per character), at most the
    original's 10000, so a model that never attends to the end symbol stops within seconds, not minutes."""
    return min(ORIGINAL_TIMEOUT, 20 + 8 * n_symbols)


@dataclass(frozen=True)
class MelSynthesis:
    mel: torch.Tensor          # (1, f, steps + 1): a zero frame, then one predicted frame per step (SSRN input)
    attention: torch.Tensor    # (1, N, steps): softmax attention of each step
    attended: list[int]        # text position attended at each step
    reached_eos: bool          # False when the length cap stopped the loop


@inference
def synthesize_mel(text2mel: Text2Mel, L: torch.Tensor, max_steps: int | None = None, stop_at_eos: bool = True,
                   eos_index: int = DEFAULT_HPARAMS.eos_index) -> MelSynthesis:
    """Decode mel frames for ids L (1, N) until the attention reaches the end symbol (or `max_steps`).

    Same stopping rule as the original: after each step, if the last attention column peaks on an `eos_index`
    symbol, stop (that step's frame is kept).
    """
    if L.dim() != 2 or L.shape[0] != 1:
        raise ValueError(f"synthesis decodes one sentence at a time: L must be (1, N), got {tuple(L.shape)}")
    n_symbols = L.shape[1]
    steps_cap = default_max_steps(n_symbols) if max_steps is None else max_steps
    if steps_cap < 1:
        raise ValueError("max_steps must be at least 1")
    is_eos = (L[0] == eos_index).cpu()
    stream = text2mel.start(L, monotonic_attention=True)
    device, dtype = L.device, stream.V.dtype
    mel = torch.zeros(1, text2mel.n_mels, steps_cap + 1, device=device, dtype=dtype)
    attention = torch.zeros(1, n_symbols, steps_cap, device=device, dtype=dtype)
    attended: list[int] = []
    reached_eos = False
    steps = 0
    for t in range(steps_cap):
        _, frame, column = stream.step(mel[:, :, t:t + 1])
        mel[:, :, t + 1:t + 2] = frame
        attention[:, :, t:t + 1] = column
        position = int(column[0, :, 0].argmax())
        attended.append(position)
        steps = t + 1
        if stop_at_eos and bool(is_eos[position]):
            reached_eos = True
            break
    return MelSynthesis(mel[:, :, :steps + 1].clone(), attention[:, :, :steps].clone(), attended, reached_eos)


@inference
def mel_to_magnitude(ssrn: SSRN, mel: torch.Tensor) -> np.ndarray:
    """SSRN on the decoded mels → linear magnitudes (T·4, F) float32 on the CPU, laid out like the original's Z[0].T."""
    _, Z = ssrn(mel)
    return Z[0].T.float().cpu().numpy()


def synthesize_wav(text2mel: Text2Mel, ssrn: SSRN, text: str, hp: HParams = DEFAULT_HPARAMS,
                   max_steps: int | None = None) -> np.ndarray:
    """Text → int16 waveform at hp.sr (before the voice's loudness normalisation)."""
    device = next(text2mel.parameters()).device
    L = text_to_ids(text, hp.vocab).to(device)
    result = synthesize_mel(text2mel, L, max_steps=max_steps, eos_index=hp.eos_index)
    return spectrogram_to_wav(mel_to_magnitude(ssrn, result.mel), hp)
