"""Loading published pytorch-dc-tts checkpoints (`{'state_dict': ..., ...}`) into Text2Mel / SSRN.

Models are built on the `meta` device and the checkpoint's tensors are assigned in place (strict), so loading
costs the checkpoint's memory once instead of a random init plus a copy.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, cast

import torch
import torch.nn as nn

from deepstory_kernel.checkpoints import load_checkpoint
from modules.layout import layout_differences

from .hparams import DEFAULT_HPARAMS, HParams
from .ssrn import SSRN
from .text2mel import Text2Mel


class DcttsCheckpointError(ValueError):
    """A checkpoint file that loads but is not a DCTTS state dict of the expected layout."""


def _shapes(model: nn.Module) -> dict[str, tuple[int, ...]]:
    return {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}


def expected_text2mel_shapes(hp: HParams = DEFAULT_HPARAMS) -> dict[str, tuple[int, ...]]:
    """State-dict key → shape of a Text2Mel with these hyper-parameters (built on `meta`: no memory, no init)."""
    with torch.device("meta"):
        return _shapes(Text2Mel.from_hparams(hp))


def expected_ssrn_shapes(hp: HParams = DEFAULT_HPARAMS) -> dict[str, tuple[int, ...]]:
    """State-dict key → shape of an SSRN with these hyper-parameters (built on `meta`)."""
    with torch.device("meta"):
        return _shapes(SSRN.from_hparams(hp))


def state_dict_of(checkpoint: Any, path: str | os.PathLike[str] = "checkpoint") -> Mapping[str, torch.Tensor]:
    """The model weights inside a loaded checkpoint: its 'state_dict' entry (a bare state dict is accepted too)."""
    if isinstance(checkpoint, Mapping) and isinstance(checkpoint.get("state_dict"), Mapping):
        checkpoint = checkpoint["state_dict"]
    if not isinstance(checkpoint, Mapping) or not checkpoint or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in checkpoint.items()):
        raise DcttsCheckpointError(f"{path} holds no DCTTS state dict (expected {{'state_dict': {{name: tensor}}}})")
    return checkpoint


def describe_layout_mismatch(expected: Mapping[str, tuple[int, ...]], state_dict: Mapping[str, torch.Tensor]) -> str:
    """'' when `state_dict` has exactly the expected names and shapes, else a short summary of what differs."""
    problems = layout_differences("the state dict", {k: tuple(v.shape) for k, v in state_dict.items()}, expected)
    def looks_like_text2mel(keys) -> bool:
        return any(k.startswith("text_enc.") for k in keys)

    def looks_like_ssrn(keys) -> bool:
        return any(k.startswith("layers.") for k in keys)

    expects_text2mel = looks_like_text2mel(expected)
    if problems and (looks_like_ssrn(state_dict) if expects_text2mel else looks_like_text2mel(state_dict)):
        problems.append("it looks like the other network's file (Text2Mel and SSRN swapped?)")
    return "; ".join(problems)


def load_into(model_on_meta: nn.Module, state_dict: Mapping[str, torch.Tensor], device: torch.device | str,
              path: str | os.PathLike[str] = "checkpoint") -> nn.Module:
    """Strictly assign `state_dict` to a model built on `meta`, then move it to `device` in eval mode."""
    problem = describe_layout_mismatch(_shapes(model_on_meta), state_dict)
    if problem:
        raise DcttsCheckpointError(f"{path} does not match the DCTTS layout: {problem}")
    weights = {k: (v.float() if v.is_floating_point() else v) for k, v in state_dict.items()}
    model_on_meta.load_state_dict(weights, strict=True, assign=True)
    return model_on_meta.to(device).eval().requires_grad_(False)


def load_text2mel(path: str | os.PathLike[str], device: torch.device | str = "cpu",
                  hp: HParams = DEFAULT_HPARAMS) -> Text2Mel:
    with torch.device("meta"):
        model = Text2Mel.from_hparams(hp)
    return cast(Text2Mel, load_into(model, state_dict_of(load_checkpoint(path), path), device, path))


def load_ssrn(path: str | os.PathLike[str], device: torch.device | str = "cpu", hp: HParams = DEFAULT_HPARAMS) -> SSRN:
    with torch.device("meta"):
        model = SSRN.from_hparams(hp)
    return cast(SSRN, load_into(model, state_dict_of(load_checkpoint(path), path), device, path))


def load_dctts(t2m_path: str | os.PathLike[str], ssrn_path: str | os.PathLike[str],
               device: torch.device | str = "cpu", hp: HParams = DEFAULT_HPARAMS) -> tuple[Text2Mel, SSRN]:
    """Both networks of a voice from pytorch-dc-tts checkpoints, strict, eval mode, on `device`."""
    return load_text2mel(t2m_path, device, hp), load_ssrn(ssrn_path, device, hp)
