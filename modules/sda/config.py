"""SDA model configuration, read from the published checkpoint dict (`grid.dat`).

Every value comes from the file: the GRID audio rate in particular is stored there (40 kHz most likely, see the
reference README) and must never be assumed. The derived layer layout follows the original's arithmetic exactly
(float products, `int()` truncation) so state-dict shapes match.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CONFIG_KEYS = (
    "audio_rate", "video_rate", "audio_feat_len", "audio_feat_samples", "img_size",
    "id_enc_dim", "rnn_gen_dim", "aud_enc_dim", "aux_latent", "sequential_noise",
)

# The original builds its audio encoder with these fixed fractions of the audio rate (seconds).
INIT_KERNEL_SECONDS = 0.005
INIT_STRIDE_SECONDS = 0.001


@dataclass(frozen=True)
class SdaConfig:
    audio_rate: int
    video_rate: int
    audio_feat_len: float
    audio_feat_samples: int
    img_size: tuple[int, int]          # (H, W)
    id_enc_dim: int
    rnn_gen_dim: int
    aud_enc_dim: int
    aux_latent: int
    sequential_noise: bool

    @classmethod
    def from_model_dict(cls, data: Mapping[str, Any]) -> SdaConfig:
        missing = [k for k in CONFIG_KEYS if k not in data]
        if missing:
            raise ValueError(f"SDA model file lacks the config entries {missing}; it is not a speech-driven-animation .dat file")
        size = data["img_size"]
        img_size = (int(size[0]), int(size[1])) if isinstance(size, (tuple, list)) else (int(size), int(size))
        return cls(
            audio_rate=int(data["audio_rate"]), video_rate=int(data["video_rate"]),
            audio_feat_len=float(data["audio_feat_len"]), audio_feat_samples=int(data["audio_feat_samples"]),
            img_size=img_size, id_enc_dim=int(data["id_enc_dim"]), rnn_gen_dim=int(data["rnn_gen_dim"]),
            aud_enc_dim=int(data["aud_enc_dim"]), aux_latent=int(data["aux_latent"]),
            sequential_noise=bool(data["sequential_noise"]),
        )

    # --- derived quantities (the original's formulas) ---------------------------------------------------------
    @property
    def cutting_stride(self) -> int:
        """Audio samples per video frame at the model rate."""
        return int(self.audio_rate / float(self.video_rate))

    def audio_conv_layout(self) -> list[tuple[int, int, int]]:
        """(kernel, stride, padding) of every audio conv, the last one being the 'collapse to a code' conv."""
        rate = self.audio_rate
        features: float = self.audio_feat_len * rate
        kernels = [int(INIT_KERNEL_SECONDS * rate)]
        strides = [int(INIT_STRIDE_SECONDS * rate)]
        pad0 = _same_padding(INIT_KERNEL_SECONDS * rate, INIT_STRIDE_SECONDS * rate, features)
        init_features = _output_size(features, INIT_KERNEL_SECONDS * rate, INIT_STRIDE_SECONDS * rate, pad0)
        factors = _prime_factors(init_features)
        strides += factors
        kernels += [2 * s for s in factors]
        layout = []
        for i in range(len(strides) - 1):
            padding = _same_padding(kernels[i], strides[i], features)
            features = _output_size(features, kernels[i], strides[i], padding)
            layout.append((kernels[i], strides[i], int(math.ceil(padding / 2.0))))
        layout.append((int(features), 1, 0))
        return layout

    @property
    def identity_stable_dim(self) -> int:
        h, w = self.img_size
        return max(h, w) if _is_power2(max(h, w)) else min(h, w)

    @property
    def identity_channels(self) -> list[int]:
        layers = int(math.log2(max(self.img_size))) - 2
        return [64 * 2 ** i for i in range(layers)]

    @property
    def identity_final_kernel(self) -> tuple[int, int]:
        d = self.identity_stable_dim
        return tuple(int(4 * x // d) for x in self.img_size)  # type: ignore[return-value]

    @property
    def generator_init_size(self) -> tuple[int, int]:
        m = max(self.img_size)
        return tuple(int(4 * x / m) for x in self.img_size)  # type: ignore[return-value]

    @property
    def generator_num_layers(self) -> int:
        return int(math.log2(max(self.img_size))) - 1

    @property
    def latent_size(self) -> int:
        return self.rnn_gen_dim + self.aux_latent + self.id_enc_dim


def _prime_factors(number: float) -> list[int]:
    factor = 2
    factors = []
    while factor * factor <= number:
        if number % factor:
            factor += 1
        else:
            number //= factor
            factors.append(int(factor))
    if number > 1:
        factors.append(int(number))
    return factors


def _same_padding(kernel: float, stride: float, in_size: float) -> int:
    out_size = math.ceil(float(in_size) / float(stride))
    return int((out_size - 1) * stride + kernel - in_size)


def _output_size(in_size: float, kernel: float, stride: float, padding: float) -> int:
    return int((in_size + padding - kernel) / stride) + 1


def _is_power2(num: int) -> bool:
    return num != 0 and (num & (num - 1)) == 0
