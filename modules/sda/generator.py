"""SDA frame generator: latent (audio, noise, identity) → U-Net decoder with the identity skips → frame in [-1, 1].

State-dict names match the original `Generator` (`rnn_noise`, `dcl.0.{0,1}`, `dcl.<i>.dcl1/dcl2/activation1/2`,
final `dcl.<n>`). Unlike the original, the skips are never copied once per frame up front: each block broadcasts the
single identity map over the current window of frames only.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .config import SdaConfig


class UnetBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, skip_channels: int, in_size: tuple[int, int]) -> None:
        super().__init__()
        self.dcl1 = nn.ConvTranspose2d(in_channels + skip_channels, in_channels, 3, padding=1, bias=False)
        self.dcl2 = nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1, bias=False)
        self.activation1 = nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(inplace=True))
        self.activation2 = nn.Sequential(nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))
        self.out_channels = out_channels
        self.out_size = (in_size[0] * 2, in_size[1] * 2)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """`skip` is (1, C, H, W) (shared by all frames) or (B, C, H, W)."""
        x = torch.cat([x, skip.expand(x.shape[0], -1, -1, -1)], 1)
        x = self.activation1(self.dcl1(x))
        x = self.dcl2(x, output_size=[x.shape[0], self.out_channels, *self.out_size])
        return self.activation2(x)


class FrameGenerator(nn.Module):
    def __init__(self, config: SdaConfig) -> None:
        super().__init__()
        self.img_size = config.img_size
        self.aux_size = config.aux_latent
        self.total_latent_size = config.latent_size
        self.rnn_noise: nn.GRU | None = None
        if self.aux_size > 0 and config.sequential_noise:
            self.rnn_noise = nn.GRU(self.aux_size, self.aux_size, batch_first=True)
        skip_channels = list(reversed(config.identity_channels))
        channels = skip_channels[0]
        in_size = config.generator_init_size
        self.dcl = nn.ModuleList()
        self.dcl.append(nn.Sequential(
            nn.ConvTranspose2d(self.total_latent_size, channels, in_size, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True)))
        for i in range(config.generator_num_layers - 2):
            self.dcl.append(UnetBlock(channels, channels // 2, skip_channels[i], in_size))
            channels //= 2
            in_size = (in_size[0] * 2, in_size[1] * 2)
        self.dcl.append(nn.ConvTranspose2d(channels, 3, 4, stride=2, padding=1, bias=False))

    def noise_codes(self, noise: torch.Tensor, hidden: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(1, T, aux) raw noise → (noise after GRU + tanh, hidden state to carry on); identity if not sequential."""
        if self.rnn_noise is None:
            return noise, hidden
        out, h = self.rnn_noise(noise, hidden)
        return torch.tanh(out), h

    def frames(self, latent: torch.Tensor, skips_deepest_first: Sequence[torch.Tensor]) -> torch.Tensor:
        """(B, latent_size) → (B, 3, H, W) tanh frames; the skips are (1, C, h, w) maps shared by the batch."""
        x = self.dcl[0](latent.view(-1, self.total_latent_size, 1, 1))
        for block, skip in zip(self.dcl[1:-1], skips_deepest_first):
            x = block(x, skip)
        x = self.dcl[-1](x, output_size=[x.shape[0], 3, *self.img_size])
        return torch.tanh(x)
