"""Keypoint detector of the First Order Motion Model (Siarohin et al., NeurIPS 2019); reference code:
AliaksandrSiarohin/first-order-model, `modules/keypoint_detector.py`.

An hourglass predicts one heatmap per keypoint; the keypoint is the softmax-weighted mean of the coordinate grid and
its local affine jacobian is the heatmap-weighted sum of a 4-channel map (row-major 2×2).
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import AntiAliasInterpolation2d, Hourglass, make_coordinate_grid
from .config import CommonConfig, KPDetectorConfig


class KPDetector(nn.Module):
    def __init__(self, config: KPDetectorConfig, common: CommonConfig):
        super().__init__()
        self.num_kp = common.num_kp
        self.predictor = Hourglass(config.block_expansion, in_features=common.num_channels,
                                   max_features=config.max_features, num_blocks=config.num_blocks)
        self.kp = nn.Conv2d(self.predictor.out_filters, common.num_kp, kernel_size=(7, 7), padding=config.pad)
        self.num_jacobian_maps = 0
        self.jacobian: nn.Conv2d | None = None
        if common.estimate_jacobian:
            self.num_jacobian_maps = 1 if config.single_jacobian_map else common.num_kp
            self.jacobian = nn.Conv2d(self.predictor.out_filters, 4 * self.num_jacobian_maps, kernel_size=(7, 7),
                                      padding=config.pad)
            with torch.no_grad():                      # identity jacobian until trained weights are loaded
                self.jacobian.weight.zero_()
                cast(torch.Tensor, self.jacobian.bias).copy_(torch.tensor([1.0, 0.0, 0.0, 1.0] * self.num_jacobian_maps))
        self.temperature = config.temperature
        self.scale_factor = config.scale_factor
        if self.scale_factor != 1:
            self.down = AntiAliasInterpolation2d(common.num_channels, self.scale_factor)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        # x: (B, C, H, W) in [0, 1] → {'value': (B, K, 2), 'jacobian': (B, K, 2, 2)}
        if self.scale_factor != 1:
            x = self.down(x)                                                    # (B, C, H/4, W/4)
        feature_map = self.predictor(x)                                         # (B, F, h, w)
        prediction = self.kp(feature_map)                                       # (B, K, h', w') (7×7, no pad)
        b, k, h, w = prediction.shape
        heatmap = F.softmax(prediction.reshape(b, k, -1).float() / self.temperature, dim=2).view(b, k, h, w)
        grid = make_coordinate_grid((h, w), heatmap.dtype, heatmap.device)      # (h', w', 2)
        out = {"value": (heatmap.unsqueeze(-1) * grid).sum(dim=(2, 3))}         # (B, K, 2)
        if self.jacobian is not None:
            jacobian_map = self.jacobian(feature_map).float().reshape(b, self.num_jacobian_maps, 4, h, w)
            jacobian = (heatmap.unsqueeze(2) * jacobian_map).reshape(b, k, 4, -1).sum(dim=-1)
            out["jacobian"] = jacobian.view(b, k, 2, 2)                         # (B, K, 2, 2)
        return out
