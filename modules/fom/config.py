"""Typed hyper-parameters of the First Order Motion Model (Siarohin et al., NeurIPS 2019).

Mirrors `model_params` of the reference YAML configs (AliaksandrSiarohin/first-order-model, `config/vox-256.yaml`),
so a published checkpoint and its config load without renaming anything. Discriminator params are ignored: only
the keypoint detector and the generator are needed for animation.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml


@dataclass(frozen=True)
class CommonConfig:
    num_kp: int = 10
    num_channels: int = 3
    estimate_jacobian: bool = True


@dataclass(frozen=True)
class KPDetectorConfig:
    temperature: float = 0.1
    block_expansion: int = 32
    max_features: int = 1024
    scale_factor: float = 0.25
    num_blocks: int = 5
    single_jacobian_map: bool = False
    pad: int = 0


@dataclass(frozen=True)
class DenseMotionConfig:
    block_expansion: int = 64
    max_features: int = 1024
    num_blocks: int = 5
    scale_factor: float = 0.25
    kp_variance: float = 0.01


@dataclass(frozen=True)
class GeneratorConfig:
    block_expansion: int = 64
    max_features: int = 512
    num_down_blocks: int = 2
    num_bottleneck_blocks: int = 6
    estimate_occlusion_map: bool = True
    dense_motion: DenseMotionConfig | None = field(default_factory=DenseMotionConfig)


@dataclass(frozen=True)
class FomConfig:
    common: CommonConfig = field(default_factory=CommonConfig)
    kp_detector: KPDetectorConfig = field(default_factory=KPDetectorConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)


def _pick(cls: Any, values: Mapping[str, Any]) -> Any:
    """Build `cls` from `values`, refusing unknown keys: a typo in a config must not be silently ignored."""
    known = set(cls.__dataclass_fields__)
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys in FOM config: {sorted(unknown)}")
    return cls(**dict(values))


def fom_config_from_dict(model_params: Mapping[str, Any]) -> FomConfig:
    """`model_params` as in the reference YAML (common_params, kp_detector_params, generator_params)."""
    gen = dict(model_params.get("generator_params", {}))
    dense = gen.pop("dense_motion_params", None)
    return FomConfig(
        common=_pick(CommonConfig, model_params.get("common_params", {})),
        kp_detector=_pick(KPDetectorConfig, model_params.get("kp_detector_params", {})),
        generator=_pick(GeneratorConfig, {**gen, "dense_motion": None if dense is None else _pick(DenseMotionConfig, dense)}),
    )


def load_fom_config(path: str | os.PathLike[str]) -> FomConfig:
    """Read a first-order-model YAML config (only `model_params` is used)."""
    with open(path, encoding="utf-8") as f:
        raw = yaml.safe_load(f)
    if not isinstance(raw, dict) or "model_params" not in raw:
        raise ValueError(f"{path}: not a first-order-model config (no 'model_params' section)")
    return fom_config_from_dict(raw["model_params"])
