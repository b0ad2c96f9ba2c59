"""SSRN: spectrogram super-resolution network (mel frames → linear magnitude at 4x the frame rate).

Every conv is weight-normalised with the classic `weight_g`/`weight_v` keys of the published checkpoints.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .hparams import DEFAULT_HPARAMS, HParams
from .layers import Conv, Deconv, ResidualBlock


def _conv(i: int, o: int) -> Conv:
    return Conv(i, o, 1, 1, causal=False, normalization="weight")


def _block(d: int, k: int, dilation: int) -> ResidualBlock:
    return ResidualBlock(d, k, dilation, normalization="weight", widening=1)


class SSRN(nn.Module):
    """Y (B, f, T) mels → (Z_logit, Z), each (B, f_prime, 4T); Z = sigmoid(Z_logit) in [0, 1]."""

    def __init__(self, c: int, n_mels: int, f_prime: int):
        super().__init__()
        self.layers = nn.Sequential(
            _conv(n_mels, c),
            _block(c, 3, 1), _block(c, 3, 3),
            Deconv(c, c), _block(c, 3, 1), _block(c, 3, 3),
            Deconv(c, c), _block(c, 3, 1), _block(c, 3, 3),
            _conv(c, 2 * c),
            _block(2 * c, 3, 1), _block(2 * c, 3, 1),
            _conv(2 * c, f_prime),
            _block(f_prime, 1, 1),
            _conv(f_prime, f_prime),
        )

    @classmethod
    def from_hparams(cls, hp: HParams = DEFAULT_HPARAMS) -> SSRN:
        return cls(hp.c, hp.n_mels, hp.f_prime)

    def forward(self, Y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        Z_logit = self.layers(Y)
        return Z_logit, torch.sigmoid(Z_logit)
