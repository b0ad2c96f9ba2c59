"""Text2Mel (Tachibana et al., DCTTS) as in pytorch-dc-tts: text encoder, causal audio encoder, dot-product
attention with the optional monotonic rule, causal audio decoder.

`forward` is the original full-sequence computation (teacher forcing, one call per sequence). `start` returns a
`Text2MelStream` that produces one mel frame per call with the same result, for autoregressive synthesis.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from .hparams import DEFAULT_HPARAMS, HParams
from .layers import CausalStream, Conv, Embedding, GatedConvBlock

_FORCED_OFF = -(2.0 ** 20)  # score the monotonic rule gives every position it rules out


def _conv(i: int, o: int, k: int, dilation: int, causal: bool = False, relu: bool = False) -> Conv:
    return Conv(i, o, k, dilation, causal=causal, normalization="layer", relu=relu)


def _block(d: int, k: int, dilation: int, causal: bool = False) -> GatedConvBlock:
    return GatedConvBlock(d, k, dilation, causal=causal, normalization="layer")


class TextEnc(nn.Module):
    """Characters (B, N) → keys K and values V, each (B, d, N)."""

    def __init__(self, vocab_size: int, e: int, d: int):
        super().__init__()
        self.d = d
        self.embedding = Embedding(vocab_size, e)
        w = 2 * d
        self.layers = nn.Sequential(
            _conv(e, w, 1, 1, relu=True), _conv(w, w, 1, 1),
            *(_block(w, 3, dilation) for dilation in (1, 3, 9, 27, 1, 3, 9, 27)),
            _block(w, 3, 1), _block(w, 3, 1),
            _block(w, 1, 1), _block(w, 1, 1),
        )

    def forward(self, L: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.layers(self.embedding(L).permute(0, 2, 1))
        return out[:, :self.d, :], out[:, self.d:, :]


class AudioEnc(nn.Module):
    """Mel frames (B, f, T) → queries Q (B, d, T); causal, so frame t sees frames ≤ t only."""

    def __init__(self, d: int, n_mels: int):
        super().__init__()
        self.layers = nn.Sequential(
            _conv(n_mels, d, 1, 1, causal=True, relu=True), _conv(d, d, 1, 1, causal=True, relu=True),
            _conv(d, d, 1, 1, causal=True),
            *(_block(d, 3, dilation, causal=True) for dilation in (1, 3, 9, 27, 1, 3, 9, 27, 3, 3)),
        )

    def forward(self, S: torch.Tensor) -> torch.Tensor:
        return self.layers(S)


class AudioDec(nn.Module):
    """[attended values, queries] (B, 2d, T) → mel logits (B, f, T); causal."""

    def __init__(self, d: int, n_mels: int):
        super().__init__()
        self.layers = nn.Sequential(
            _conv(2 * d, d, 1, 1, causal=True),
            *(_block(d, 3, dilation, causal=True) for dilation in (1, 3, 9, 27, 1, 1)),
            _block(d, 1, 1, causal=True),
            _conv(d, d, 1, 1, causal=True, relu=True),
            _conv(d, n_mels, 1, 1, causal=True),
        )

    def forward(self, R_prime: torch.Tensor) -> torch.Tensor:
        return self.layers(R_prime)


def apply_monotonic_rule(scores: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
    """The original's monotonic attention for one decoder step, for all batch items at once (in place).

    scores: (B, N) attention logits of this step; previous: (B,) int64 position attended at the previous step
    (-1 before the first). Where the best position jumps back more than 1 or ahead more than 3, the step is forced
    onto previous+1 (capped at N-1). Returns the position attended now.
    """
    N = scores.shape[1]
    best = scores.argmax(dim=1)
    jump = best - previous
    off = (jump < -1) | (jump > 3)
    if bool(off.any()):
        rows = off.nonzero(as_tuple=True)[0]
        scores[rows] = _FORCED_OFF
        scores[rows, torch.clamp(previous[rows] + 1, max=N - 1)] = 1.0
        best = scores.argmax(dim=1)
    return best


class Text2Mel(nn.Module):
    def __init__(self, vocab_size: int, e: int, d: int, n_mels: int):
        super().__init__()
        self.d, self.n_mels = d, n_mels
        self.text_enc = TextEnc(vocab_size, e, d)
        self.audio_enc = AudioEnc(d, n_mels)
        self.audio_dec = AudioDec(d, n_mels)

    @classmethod
    def from_hparams(cls, hp: HParams = DEFAULT_HPARAMS) -> Text2Mel:
        return cls(len(hp.vocab), hp.e, hp.d, hp.n_mels)

    def scores(self, K: torch.Tensor, Q: torch.Tensor) -> torch.Tensor:
        """Scaled dot-product scores (B, N, T) = Kᵀ Q / sqrt(d)."""
        return torch.bmm(K.permute(0, 2, 1), Q) / math.sqrt(self.d)

    def forward(self, L: torch.Tensor, S: torch.Tensor, monotonic_attention: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """L (B, N) ids, S (B, f, T) mel frames → (Y_logit, Y, A): mel logits, mels (B, f, T), attention (B, N, T)."""
        K, V = self.text_enc(L)
        Q = self.audio_enc(S)
        A = self.scores(K, Q)
        if monotonic_attention:
            previous = torch.full((A.shape[0],), -1, dtype=torch.int64, device=A.device)
            for t in range(A.shape[2]):
                column = A[:, :, t]  # a view: the rule rewrites A in place, like the original
                previous = apply_monotonic_rule(column, previous)
        A = torch.softmax(A, dim=1)
        R = torch.bmm(V, A)
        Y_logit = self.audio_dec(torch.cat((R, Q), 1))
        return Y_logit, torch.sigmoid(Y_logit), A

    def start(self, L: torch.Tensor, monotonic_attention: bool = True) -> Text2MelStream:
        """Begin autoregressive decoding of text L (B, N): the text is encoded once, here."""
        return Text2MelStream(self, L, monotonic_attention)


class Text2MelStream:
    """One Text2Mel decoder step per call, equal (to float rounding) to column t of `Text2Mel.forward`."""

    def __init__(self, model: Text2Mel, L: torch.Tensor, monotonic_attention: bool):
        self.model = model
        self.monotonic_attention = monotonic_attention
        K, V = model.text_enc(L)
        self.K_t = K.permute(0, 2, 1).contiguous()  # (B, N, d)
        self.V = V
        B = L.shape[0]
        self.previous = torch.full((B,), -1, dtype=torch.int64, device=L.device)
        self.encoder = CausalStream(model.audio_enc.layers, B, L.device, K.dtype)
        self.decoder = CausalStream(model.audio_dec.layers, B, L.device, K.dtype)

    def step(self, frame: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """frame: (B, f, 1), the newest input mel frame → (Y_logit, Y) (B, f, 1) and attention column A (B, N, 1)."""
        q = self.encoder.step(frame)                                     # (B, d, 1)
        scores = torch.bmm(self.K_t, q) / math.sqrt(self.model.d)          # (B, N, 1)
        if self.monotonic_attention:
            self.previous = apply_monotonic_rule(scores[:, :, 0], self.previous)
        A = torch.softmax(scores, dim=1)
        r = torch.bmm(self.V, A)
        y_logit = self.decoder.step(torch.cat((r, q), 1))
        return y_logit, torch.sigmoid(y_logit), A
