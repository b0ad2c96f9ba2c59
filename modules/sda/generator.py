"""SDA frame generator: latent (audio, noise, identity) → U-Net decoder with the identity skips → frame in [-1, 1].

State-dict names match the original `Generator` (`rnn_noise`, `dcl.0.{0,1}`, `dcl.<i>.dcl1/dcl2/activation1/2`,
final `dcl.<n>`). Unlike the original, the skips are never copied once per frame up front: each block broadcasts the
single identity map over the current window of frames only.

Two equal ways to run the decoder: `frames()` uses the original's ops (reference checks); `frames_fast()` (the
product path) computes the same linear maps cheaper on CPU, equal up to float rounding (~1e-6):
* the identity part of the first deconv and the skip half of every 3×3 deconv depend only on the identity, so they
  are computed once per clip (`prepare_identity`) instead of once per frame;
* the 3×3 stride-1 transposed convs run as ordinary convs with flipped kernels (faster on CPU), the first
  deconv (1×1 → 4×3) as one matrix product, and everything after it in channels-last layout (oneDNN's transposed
  convs run 1.3–2.5× faster in it on our CPUs).
(Splitting the 4×4 stride-2 deconvs into four 2×2 phase convs was measured slower on CPU and is not used.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F
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


# --------------------------------------------------------------------------------------------------------------
# Fast path

@dataclass
class IdentityContext:
    """Everything of the decoder that depends only on the identity, computed once per clip."""

    dcl0_identity: torch.Tensor          # (1, C0·h0·w0) identity share of the first deconv
    skip_terms: list[torch.Tensor]       # per U-Net block: (1, C, h, w) skip half of its 3×3 deconv


def _first_block(gen: FrameGenerator) -> nn.Sequential:
    return cast(nn.Sequential, gen.dcl[0])


def _unet_blocks(gen: FrameGenerator) -> list[UnetBlock]:
    return [cast(UnetBlock, block) for block in list(gen.dcl)[1:-1]]


def _final(gen: FrameGenerator) -> nn.ConvTranspose2d:
    return cast(nn.ConvTranspose2d, gen.dcl[-1])


def _flipped(weight: torch.Tensor) -> torch.Tensor:
    """ConvTranspose weight (in, out, k, k) → the conv2d weight (out, in, k, k) computing the same stride-1 map."""
    return weight.flip(2, 3).transpose(0, 1).contiguous()


class _FastWeights:
    def __init__(self, gen: FrameGenerator, identity_size: int) -> None:
        w0 = cast(nn.ConvTranspose2d, _first_block(gen)[0]).weight       # (latent, C0, h0, w0)
        flat = w0.reshape(w0.shape[0], -1)
        self.dcl0_dynamic = flat[: flat.shape[0] - identity_size].contiguous()
        self.dcl0_identity = flat[flat.shape[0] - identity_size:].contiguous()
        self.dcl0_shape = tuple(w0.shape[1:])
        self.blocks: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        for block in _unet_blocks(gen):
            flipped = _flipped(block.dcl1.weight)              # (C, C + S, 3, 3)
            channels = block.dcl1.out_channels
            self.blocks.append((flipped[:, :channels].contiguous(memory_format=torch.channels_last),
                                flipped[:, channels:].contiguous(),
                                block.dcl2.weight.contiguous(memory_format=torch.channels_last)))
        self.final = _final(gen).weight.contiguous(memory_format=torch.channels_last)


def _fast_weights(gen: FrameGenerator, identity_size: int) -> _FastWeights:
    """Derived weights, rebuilt whenever a source weight changed (moved, reloaded in place: `_version` counts that)."""
    cached = gen.__dict__.get("_fast_cache")
    sources = [cast(nn.ConvTranspose2d, _first_block(gen)[0]).weight] + [block.dcl1.weight for block in _unet_blocks(gen)]
    key = (identity_size, tuple((w.data_ptr(), w._version, str(w.device)) for w in sources))
    if cached is None or cached[0] != key:
        with torch.no_grad():
            gen.__dict__["_fast_cache"] = (key, _FastWeights(gen, identity_size))
    return gen.__dict__["_fast_cache"][1]


def prepare_identity(gen: FrameGenerator, z_id: torch.Tensor, skips_deepest_first: Sequence[torch.Tensor]) -> IdentityContext:
    fast = _fast_weights(gen, z_id.shape[1])
    skip_terms = [F.conv2d(skip, w_skip, padding=1).contiguous(memory_format=torch.channels_last)
                  for skip, (_, w_skip, _) in zip(skips_deepest_first, fast.blocks)]
    return IdentityContext(z_id @ fast.dcl0_identity, skip_terms)


def frames_fast(gen: FrameGenerator, dynamic_latent: torch.Tensor, ctx: IdentityContext) -> torch.Tensor:
    """(B, rnn_gen_dim + aux) audio+noise latent → (B, 3, H, W) tanh frames; same result as `frames()`."""
    fast = _fast_weights(gen, gen.total_latent_size - dynamic_latent.shape[1])
    x = torch.addmm(ctx.dcl0_identity, dynamic_latent, fast.dcl0_dynamic).view(-1, *fast.dcl0_shape)
    x = _first_block(gen)[1:](x).contiguous(memory_format=torch.channels_last)  # batch norm + ReLU
    for block, (w_x, _, w_up), skip_term in zip(_unet_blocks(gen), fast.blocks, ctx.skip_terms):
        x = block.activation1(F.conv2d(x, w_x, padding=1).add_(skip_term))
        x = block.activation2(F.conv_transpose2d(x, w_up, stride=2, padding=1))  # = 2× size, as output_size asks
    return torch.tanh(F.conv_transpose2d(x, fast.final, stride=2, padding=1))
