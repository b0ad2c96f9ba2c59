"""Building blocks of the First Order Motion Model (Siarohin et al., "First Order Motion Model for Image
Animation", NeurIPS 2019); reference code: AliaksandrSiarohin/first-order-model, `modules/util.py`.

Submodule and parameter names equal the reference (`conv`, `norm`, `down_blocks`, …) so published checkpoints load
with `strict=True`. The reference's SynchronizedBatchNorm2d is a plain `_BatchNorm` in eval mode, so
`nn.BatchNorm2d` (eps 1e-5) has the same state-dict keys and the same arithmetic.
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn


def make_coordinate_grid(spatial_size: tuple[int, int], dtype: torch.dtype = torch.float32,
                         device: torch.device | str | None = None) -> torch.Tensor:
    """(h, w, 2) grid in [-1, 1], x (width) first then y, computed as `2 * (i / (n - 1)) - 1` like the reference."""
    h, w = int(spatial_size[0]), int(spatial_size[1])
    x = torch.arange(w, device=device).to(dtype)
    y = torch.arange(h, device=device).to(dtype)
    x = 2 * (x / (w - 1)) - 1
    y = 2 * (y / (h - 1)) - 1
    yy = y.view(-1, 1).expand(h, w)
    xx = x.view(1, -1).expand(h, w)
    return torch.stack([xx, yy], dim=2)


def kp2gaussian(kp_value: torch.Tensor, spatial_size: tuple[int, int], kp_variance: float) -> torch.Tensor:
    """Keypoints (..., K, 2) → Gaussians (..., K, h, w): exp(-0.5 |z - kp|² / variance)."""
    grid = make_coordinate_grid(spatial_size, kp_value.dtype, kp_value.device)      # (h, w, 2)
    mean = kp_value.unsqueeze(-2).unsqueeze(-2)                                     # (..., K, 1, 1, 2)
    mean_sub = grid - mean                                                          # (..., K, h, w, 2)
    return torch.exp(-0.5 * (mean_sub ** 2).sum(-1) / kp_variance)


class ResBlock2d(nn.Module):
    """Pre-activation residual block (BN, ReLU, conv, BN, ReLU, conv, + input); keeps the resolution."""

    def __init__(self, in_features: int, kernel_size: int | tuple[int, int] = 3, padding: int | tuple[int, int] = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_features, in_features, kernel_size=kernel_size, padding=padding)
        self.conv2 = nn.Conv2d(in_features, in_features, kernel_size=kernel_size, padding=padding)
        self.norm1 = nn.BatchNorm2d(in_features, affine=True)
        self.norm2 = nn.BatchNorm2d(in_features, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(F.relu(self.norm1(x)))
        out = self.conv2(F.relu(self.norm2(out)))
        return out + x


class UpBlock2d(nn.Module):
    """Decoder block: nearest ×2, conv, BN, ReLU.

    (Computing the 4 output phases as 2×2 convs of the low-res input needs 4/9 of the multiply-adds but measured
    2× slower on CPU with oneDNN, so the direct form stays.)
    """

    def __init__(self, in_features: int, out_features: int, kernel_size: int | tuple[int, int] = 3,
                 padding: int | tuple[int, int] = 1, groups: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(in_features, out_features, kernel_size=kernel_size, padding=padding, groups=groups)
        self.norm = nn.BatchNorm2d(out_features, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.interpolate(x, scale_factor=2)                                         # nearest
        return F.relu(self.norm(self.conv(out)))


class DownBlock2d(nn.Module):
    """Encoder block: conv, BN, ReLU, 2×2 average pool."""

    def __init__(self, in_features: int, out_features: int, kernel_size: int | tuple[int, int] = 3,
                 padding: int | tuple[int, int] = 1, groups: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(in_features, out_features, kernel_size=kernel_size, padding=padding, groups=groups)
        self.norm = nn.BatchNorm2d(out_features, affine=True)
        self.pool = nn.AvgPool2d(kernel_size=(2, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(F.relu(self.norm(self.conv(x))))


class SameBlock2d(nn.Module):
    """conv, BN, ReLU at the same resolution."""

    def __init__(self, in_features: int, out_features: int, groups: int = 1,
                 kernel_size: int | tuple[int, int] = 3, padding: int | tuple[int, int] = 1):
        super().__init__()
        self.conv = nn.Conv2d(in_features, out_features, kernel_size=kernel_size, padding=padding, groups=groups)
        self.norm = nn.BatchNorm2d(out_features, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.norm(self.conv(x)))


def _features(block_expansion: int, max_features: int, i: int) -> int:
    return min(max_features, block_expansion * (2 ** i))


class Encoder(nn.Module):
    """Hourglass encoder: `num_blocks` DownBlock2d; returns every intermediate (input first) for the skips."""

    def __init__(self, block_expansion: int, in_features: int, num_blocks: int = 3, max_features: int = 256):
        super().__init__()
        self.down_blocks = nn.ModuleList(
            DownBlock2d(in_features if i == 0 else _features(block_expansion, max_features, i),
                        _features(block_expansion, max_features, i + 1), kernel_size=3, padding=1)
            for i in range(num_blocks))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = [x]
        for block in self.down_blocks:
            outs.append(block(outs[-1]))
        return outs


class Decoder(nn.Module):
    """Hourglass decoder: UpBlock2d per level, each output concatenated with the matching encoder skip."""

    def __init__(self, block_expansion: int, in_features: int, num_blocks: int = 3, max_features: int = 256):
        super().__init__()
        blocks = []
        for i in reversed(range(num_blocks)):
            in_filters = (1 if i == num_blocks - 1 else 2) * _features(block_expansion, max_features, i + 1)
            blocks.append(UpBlock2d(in_filters, _features(block_expansion, max_features, i), kernel_size=3, padding=1))
        self.up_blocks = nn.ModuleList(blocks)
        self.out_filters = block_expansion + in_features

    def forward(self, skips: list[torch.Tensor]) -> torch.Tensor:
        skips = list(skips)
        out = skips.pop()
        for block in self.up_blocks:
            out = torch.cat([block(out), skips.pop()], dim=1)
        return out


class Hourglass(nn.Module):
    """U-Net style encoder/decoder; output has `block_expansion + in_features` channels at the input size."""

    def __init__(self, block_expansion: int, in_features: int, num_blocks: int = 3, max_features: int = 256):
        super().__init__()
        self.encoder = Encoder(block_expansion, in_features, num_blocks, max_features)
        self.decoder = Decoder(block_expansion, in_features, num_blocks, max_features)
        self.out_filters = self.decoder.out_filters

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class AntiAliasInterpolation2d(nn.Module):
    """Band-limited downsampling: depthwise Gaussian blur (sigma (1/scale - 1)/2) then stride-(1/scale) subsampling.

    The Gaussian is a buffer named `weight` because the reference stores it in the state dict (and checkpoints).
    """

    def __init__(self, channels: int, scale: float):
        super().__init__()
        sigma = (1 / scale - 1) / 2
        kernel_size = 2 * round(sigma * 4) + 1
        self.ka = kernel_size // 2
        self.kb = self.ka - 1 if kernel_size % 2 == 0 else self.ka
        coords = torch.arange(kernel_size, dtype=torch.float32)
        mean = (kernel_size - 1) / 2
        g = torch.exp(-(coords - mean) ** 2 / (2 * sigma ** 2))
        kernel = g.view(-1, 1) * g.view(1, -1)                                          # separable product
        kernel = kernel / torch.sum(kernel)
        self.register_buffer("weight", kernel.view(1, 1, kernel_size, kernel_size).repeat(channels, 1, 1, 1))
        self.groups = channels
        self.scale = scale
        self.int_inv_scale = int(1 / scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.scale == 1.0:
            return x
        out = F.pad(x, (self.ka, self.kb, self.ka, self.kb))
        out = F.conv2d(out, weight=cast(torch.Tensor, self.weight), groups=self.groups)
        return out[:, :, ::self.int_inv_scale, ::self.int_inv_scale]
