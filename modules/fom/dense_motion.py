"""Dense motion network of the First Order Motion Model (Siarohin et al., NeurIPS 2019); reference code:
AliaksandrSiarohin/first-order-model, `modules/dense_motion.py`.

From source/driving keypoints (+ jacobians) it builds K+1 sparse warps (Eq. 4; channel 0 = identity background),
warps the downsampled source with each, and an hourglass predicts soft masks that blend the warps into one dense
deformation (Eq. 6–7) plus an occlusion map (Sec. 3.2).

Restructured for streaming: everything that depends on the source alone (downsampled source, source Gaussians,
identity grid) is computed once by `prepare_source`; `forward_prepared` takes a batch of driving keypoints. The ops
per element are those of the reference, so the numbers agree to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import AntiAliasInterpolation2d, Hourglass, kp2gaussian, make_coordinate_grid
from .config import DenseMotionConfig


@dataclass
class SourceMotion:
    """Source-only inputs of the dense motion network (batch Bs = 1 or the driving batch)."""

    image: torch.Tensor            # (Bs, C, h, w) downsampled source
    kp_value: torch.Tensor         # (Bs, K, 2)
    kp_jacobian: torch.Tensor | None  # (Bs, K, 2, 2)
    gaussian: torch.Tensor         # (Bs, K, h, w)
    identity_grid: torch.Tensor    # (h, w, 2)


class DenseMotionNetwork(nn.Module):
    def __init__(self, config: DenseMotionConfig, num_kp: int, num_channels: int, estimate_occlusion_map: bool = False):
        super().__init__()
        self.hourglass = Hourglass(block_expansion=config.block_expansion, in_features=(num_kp + 1) * (num_channels + 1),
                                   max_features=config.max_features, num_blocks=config.num_blocks)
        self.mask = nn.Conv2d(self.hourglass.out_filters, num_kp + 1, kernel_size=(7, 7), padding=(3, 3))
        self.occlusion = (nn.Conv2d(self.hourglass.out_filters, 1, kernel_size=(7, 7), padding=(3, 3))
                          if estimate_occlusion_map else None)
        self.num_kp = num_kp
        self.scale_factor = config.scale_factor
        self.kp_variance = config.kp_variance
        self.align_corners = False      # grid_sample convention; see OcclusionAwareGenerator.align_corners
        if self.scale_factor != 1:
            self.down = AntiAliasInterpolation2d(num_channels, self.scale_factor)

    def prepare_source(self, source_image: torch.Tensor, kp_source: dict[str, torch.Tensor]) -> SourceMotion:
        # source_image: (Bs, C, H, W) → everything of Eq. 4/6/7 that does not depend on the driving frame
        image = self.down(source_image) if self.scale_factor != 1 else source_image      # (Bs, C, h, w)
        image = image.float()
        h, w = image.shape[2:]
        value = kp_source["value"].float()
        return SourceMotion(
            image=image,
            kp_value=value,
            kp_jacobian=kp_source["jacobian"].float() if "jacobian" in kp_source else None,
            gaussian=kp2gaussian(value, (h, w), self.kp_variance),
            identity_grid=make_coordinate_grid((h, w), value.dtype, value.device),
        )

    def sparse_motions(self, src: SourceMotion, kp_driving: dict[str, torch.Tensor]) -> torch.Tensor:
        """Eq. 4: for each keypoint, z ↦ J_s J_d⁻¹ (z - d_k) + s_k; identity prepended. → (B, K+1, h, w, 2)"""
        kd = kp_driving["value"].float()
        b, k = kd.shape[:2]
        h, w = src.identity_grid.shape[:2]
        coords = src.identity_grid.view(1, 1, h, w, 2) - kd.view(b, k, 1, 1, 2)        # (B, K, h, w, 2)
        if "jacobian" in kp_driving and src.kp_jacobian is not None:
            jac = torch.matmul(src.kp_jacobian, torch.inverse(kp_driving["jacobian"].float()))  # (B, K, 2, 2)
            jac = jac.view(b, k, 1, 1, 2, 2).expand(b, k, h, w, 2, 2)
            coords = torch.matmul(jac, coords.unsqueeze(-1)).squeeze(-1)
        driving_to_source = coords + src.kp_value.view(-1, k, 1, 1, 2)
        identity = src.identity_grid.view(1, 1, h, w, 2).expand(b, 1, h, w, 2)
        return torch.cat([identity, driving_to_source], dim=1)

    def heatmap_representation(self, src: SourceMotion, kp_driving: dict[str, torch.Tensor]) -> torch.Tensor:
        """Eq. 6: G(driving) - G(source), zero background channel prepended. → (B, K+1, 1, h, w)"""
        h, w = src.identity_grid.shape[:2]
        heatmap = kp2gaussian(kp_driving["value"].float(), (h, w), self.kp_variance) - src.gaussian   # (B, K, h, w)
        zeros = heatmap.new_zeros(heatmap.shape[0], 1, h, w)
        return torch.cat([zeros, heatmap], dim=1).unsqueeze(2)

    def deformed_sources(self, src: SourceMotion, sparse_motion: torch.Tensor) -> torch.Tensor:
        """Eq. 7: the downsampled source warped by each sparse motion. → (B, K+1, C, h, w)"""
        b, n, h, w, _ = sparse_motion.shape
        c = src.image.shape[1]
        source_repeat = src.image.unsqueeze(1).expand(b, n, c, h, w).reshape(b * n, c, h, w)
        deformed = F.grid_sample(source_repeat, sparse_motion.reshape(b * n, h, w, 2), align_corners=self.align_corners)
        return deformed.view(b, n, c, h, w)

    def forward_prepared(self, src: SourceMotion, kp_driving: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        sparse_motion = self.sparse_motions(src, kp_driving)                           # (B, K+1, h, w, 2)
        heatmap = self.heatmap_representation(src, kp_driving)                         # (B, K+1, 1, h, w)
        sparse_deformed = self.deformed_sources(src, sparse_motion)                    # (B, K+1, C, h, w)
        b, _, h, w, _ = sparse_motion.shape
        inp = torch.cat([heatmap, sparse_deformed], dim=2).view(b, -1, h, w)           # (B, (K+1)(C+1), h, w)
        if next(self.hourglass.parameters()).is_contiguous(memory_format=torch.channels_last) and inp.dim() == 4:
            inp = inp.contiguous(memory_format=torch.channels_last)
        prediction = self.hourglass(inp)                                               # (B, F, h, w)
        mask = F.softmax(self.mask(prediction).float(), dim=1)                         # (B, K+1, h, w)
        deformation = (sparse_motion.permute(0, 1, 4, 2, 3) * mask.unsqueeze(2)).sum(dim=1).permute(0, 2, 3, 1)
        out = {"sparse_deformed": sparse_deformed, "mask": mask, "deformation": deformation}  # deformation (B,h,w,2)
        if self.occlusion is not None:
            out["occlusion_map"] = torch.sigmoid(self.occlusion(prediction).float())   # (B, 1, h, w)
        return out

    def forward(self, source_image: torch.Tensor, kp_driving: dict[str, torch.Tensor],
                kp_source: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return self.forward_prepared(self.prepare_source(source_image, kp_source), kp_driving)
