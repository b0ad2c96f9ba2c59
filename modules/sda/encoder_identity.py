"""SDA identity encoder: strided convs over the aligned face; the intermediate maps are the generator's skips.

State-dict names match the original image `Encoder` (`cl.<i>.0` conv, `cl.<i>.1` batch norm).
"""

from __future__ import annotations

import torch
from torch import nn

from .config import SdaConfig


class IdentityEncoder(nn.Module):
    def __init__(self, config: SdaConfig, kernel_size: int = 4, num_input_channels: int = 3) -> None:
        super().__init__()
        self.code_size = config.id_enc_dim
        self.channels = config.identity_channels
        self.cl = nn.ModuleList()
        channels_in = num_input_channels
        for channels_out in self.channels:
            self.cl.append(nn.Sequential(
                nn.Conv2d(channels_in, channels_out, kernel_size, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(channels_out),
                nn.ReLU(inplace=True)))
            channels_in = channels_out
        self.cl.append(nn.Sequential(
            nn.Conv2d(channels_in, self.code_size, config.identity_final_kernel, stride=1, padding=0, bias=False),
            nn.Tanh()))

    def forward(self, frame: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(1, 3, H, W) in [-1, 1] → (z_id (1, id_enc_dim), skips in encoder order, shallowest first)."""
        skips = []
        x = frame
        for layer in self.cl[:-1]:
            x = layer(x)
            skips.append(x)
        z_id = self.cl[-1](x).view(-1, self.code_size)
        return z_id, skips
