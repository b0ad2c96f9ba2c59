"""Occlusion-aware generator of the First Order Motion Model (Siarohin et al., NeurIPS 2019); reference code:
AliaksandrSiarohin/first-order-model, `modules/generator.py`.

Johnson-style encoder/decoder: the source is encoded, its features are warped by the dense motion field and dimmed
by the occlusion map, then decoded to the predicted frame.

Restructured for streaming: `prepare_source` runs the source-only part once (encoder features, dense-motion source
inputs); `forward_prepared` then serves a batch of driving keypoints. `forward` keeps the reference call signature
and outputs (plus `deformation`) for the golden-vector tests.

`align_corners` (default False = what the reference code does under torch ≥ 1.3): the published checkpoints were
trained on torch 1.0, whose grid_sample behaved like align_corners=True; set it True to reproduce that behaviour.
Only grid_sample follows the switch; the bilinear resize of the deformation keeps align_corners=False.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import DownBlock2d, ResBlock2d, SameBlock2d, UpBlock2d
from .config import CommonConfig, GeneratorConfig
from .dense_motion import DenseMotionNetwork, SourceMotion


@dataclass
class PreparedSource:
    """Everything the generator needs from the source, computed once per chunk."""

    image: torch.Tensor                 # (Bs, C, H, W)
    features: torch.Tensor              # (Bs, F, H/4, W/4) encoder output
    motion: SourceMotion | None


class OcclusionAwareGenerator(nn.Module):
    def __init__(self, config: GeneratorConfig, common: CommonConfig):
        super().__init__()
        be, mf, nd = config.block_expansion, config.max_features, config.num_down_blocks
        self.dense_motion_network = (
            DenseMotionNetwork(config.dense_motion, num_kp=common.num_kp, num_channels=common.num_channels,
                               estimate_occlusion_map=config.estimate_occlusion_map)
            if config.dense_motion is not None else None)
        self.first = SameBlock2d(common.num_channels, be, kernel_size=(7, 7), padding=(3, 3))
        self.down_blocks = nn.ModuleList(
            DownBlock2d(min(mf, be * 2 ** i), min(mf, be * 2 ** (i + 1)), kernel_size=(3, 3), padding=(1, 1))
            for i in range(nd))
        self.up_blocks = nn.ModuleList(
            UpBlock2d(min(mf, be * 2 ** (nd - i)), min(mf, be * 2 ** (nd - i - 1)), kernel_size=(3, 3), padding=(1, 1))
            for i in range(nd))
        self.bottleneck = nn.Sequential()
        for i in range(config.num_bottleneck_blocks):
            self.bottleneck.add_module(f"r{i}", ResBlock2d(min(mf, be * 2 ** nd), kernel_size=(3, 3), padding=(1, 1)))
        self.final = nn.Conv2d(be, common.num_channels, kernel_size=(7, 7), padding=(3, 3))
        self.estimate_occlusion_map = config.estimate_occlusion_map
        self.num_channels = common.num_channels
        self._align_corners = False
        self.decode_precision = "fp32"      # "fp16" on CUDA, set by the animator (deepstory_kernel.device decides)
        self._compiled_decode: Callable[[torch.Tensor], torch.Tensor] | None = None

    @property
    def align_corners(self) -> bool:
        return self._align_corners

    @align_corners.setter
    def align_corners(self, value: bool) -> None:
        self._align_corners = bool(value)
        if self.dense_motion_network is not None:
            self.dense_motion_network.align_corners = bool(value)

    def deform_input(self, inp: torch.Tensor, deformation: torch.Tensor) -> torch.Tensor:
        # inp: (Bs, C, h, w), deformation: (B, h', w', 2) → (B, C, h, w)
        b, h_old, w_old, _ = deformation.shape
        h, w = inp.shape[2:]
        if (h_old, w_old) != (h, w):
            deformation = F.interpolate(deformation.permute(0, 3, 1, 2), size=(h, w), mode="bilinear",
                                        align_corners=False).permute(0, 2, 3, 1)
        if inp.shape[0] != b:
            inp = inp.expand(b, *inp.shape[1:])
        return F.grid_sample(inp.to(deformation.dtype), deformation, align_corners=self._align_corners)

    def encode_source(self, source_image: torch.Tensor) -> torch.Tensor:
        out = self.first(source_image)                                          # (Bs, be, H, W)
        for block in self.down_blocks:
            out = block(out)                                                    # halves H, W
        return out

    def prepare_source(self, source_image: torch.Tensor, kp_source: dict[str, torch.Tensor]) -> PreparedSource:
        motion = (self.dense_motion_network.prepare_source(source_image, kp_source)
                  if self.dense_motion_network is not None else None)
        return PreparedSource(image=source_image, features=self.encode_source(source_image), motion=motion)

    def forward_prepared(self, src: PreparedSource, kp_driving: dict[str, torch.Tensor],
                         with_deformed: bool = False) -> dict[str, torch.Tensor]:
        """Generate the frames of a batch of (normalised) driving keypoints (B, K, …) for one prepared source."""
        out = src.features
        output: dict[str, torch.Tensor] = {}
        if self.dense_motion_network is not None and src.motion is not None:
            dense = self.dense_motion_network.forward_prepared(src.motion, kp_driving)
            output.update(dense)
            out = self.deform_input(out, dense["deformation"])                  # (B, F, H/4, W/4)
            occlusion_map = dense.get("occlusion_map")
            if occlusion_map is not None:
                if out.shape[2:] != occlusion_map.shape[2:]:
                    occlusion_map = F.interpolate(occlusion_map, size=out.shape[2:], mode="bilinear",
                                                  align_corners=False)
                out = out * occlusion_map
            if with_deformed:
                output["deformed"] = self.deform_input(src.image.float(), dense["deformation"])  # (B, C, H, W)
        elif out.shape[0] != kp_driving["value"].shape[0]:
            out = out.expand(kp_driving["value"].shape[0], *out.shape[1:])
        if self.final.weight.is_contiguous(memory_format=torch.channels_last):
            out = out.contiguous(memory_format=torch.channels_last)
        from deepstory_kernel.device import autocast

        with autocast(out.device, self.decode_precision):   # the one part within tolerance in fp16 (animator.py)
            output["prediction"] = (self._compiled_decode or self.decode)(out)  # (B, C, H, W)
        return output

    def decode(self, features: torch.Tensor) -> torch.Tensor:
        """Warped features (B, F, H/4, W/4) → frames (B, C, H, W) in [0, 1]: bottleneck, up blocks, final conv."""
        out = self.bottleneck(features)
        for block in self.up_blocks:
            out = block(out)
        return torch.sigmoid(self.final(out).float())

    def compile_for_inference(self) -> None:
        """torch.compile the driving-side heavy parts (decoder, dense-motion hourglass); state-dict keys unchanged."""
        self._compiled_decode = torch.compile(self.decode)
        if self.dense_motion_network is not None:
            self.dense_motion_network.hourglass.compile()

    def forward(self, source_image: torch.Tensor, kp_driving: dict[str, torch.Tensor],
                kp_source: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Reference-compatible call: prediction, deformed, mask, sparse_deformed, occlusion_map (+ deformation)."""
        return self.forward_prepared(self.prepare_source(source_image, kp_source), kp_driving, with_deformed=True)
