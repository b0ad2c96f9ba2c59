"""Expected state-dict layout of an SDA model file, derived from its own config values (no weights, meta device)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from .config import CONFIG_KEYS, SdaConfig
from .encoder_audio import AudioEncoder
from .encoder_identity import IdentityEncoder
from .generator import FrameGenerator

STATE_DICT_SECTIONS = ("encoder", "encoder_id", "generator")


def expected_shapes(model_dict_config: Mapping[str, Any]) -> dict[str, dict[str, tuple[int, ...]]]:
    """{'encoder' | 'encoder_id' | 'generator': {state-dict key: shape}} for the config stored in a .dat file."""
    config = SdaConfig.from_model_dict(model_dict_config)
    with torch.device("meta"):
        nets = {"encoder": AudioEncoder(config), "encoder_id": IdentityEncoder(config),
                "generator": FrameGenerator(config)}
    return {name: {k: tuple(v.shape) for k, v in net.state_dict().items()} for name, net in nets.items()}


__all__ = ["CONFIG_KEYS", "STATE_DICT_SECTIONS", "expected_shapes"]
