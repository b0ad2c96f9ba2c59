"""Building the FOM networks from a config and loading the published checkpoint (`vox-cpk.pth.tar`) unchanged.

The checkpoint is the first-order-model training logger's dict: one `state_dict()` per object (`generator`,
`kp_detector`, `discriminator`, optimizers, `epoch`); only `generator` and `kp_detector` are read, strictly.
"""

from __future__ import annotations

import os

import torch

from deepstory_kernel.checkpoints import load_checkpoint
from deepstory_kernel.errors import ModelUnavailableError

from .config import FomConfig, load_fom_config
from .generator import OcclusionAwareGenerator
from .keypoint_detector import KPDetector


def build_fom(config: FomConfig, device: torch.device | str = "cpu") -> tuple[KPDetector, OcclusionAwareGenerator]:
    """Fresh (randomly initialised) networks in eval mode on `device` (`"meta"` for shapes only)."""
    with torch.device(device):
        kp_detector = KPDetector(config.kp_detector, config.common)
        generator = OcclusionAwareGenerator(config.generator, config.common)
    return kp_detector.eval(), generator.eval()


def load_fom(checkpoint_path: str | os.PathLike[str], config_path: str | os.PathLike[str],
             device: torch.device | str) -> tuple[KPDetector, OcclusionAwareGenerator]:
    """(KPDetector, OcclusionAwareGenerator) with the checkpoint's weights, eval mode, on `device`.
    Raises ModelUnavailableError when the file lacks the two state dicts or their layout differs."""
    device = torch.device(device)
    config = load_fom_config(config_path)
    checkpoint = load_checkpoint(checkpoint_path)
    missing = [k for k in ("kp_detector", "generator") if not isinstance(checkpoint, dict) or k not in checkpoint]
    if missing:
        raise ModelUnavailableError(
            f"{os.fspath(checkpoint_path)} has no {' / '.join(missing)} weights: put the first-order-model "
            f"vox-256 checkpoint (vox-cpk.pth.tar) there.")
    kp_detector, generator = build_fom(config, "cpu")
    for name, module in (("kp_detector", kp_detector), ("generator", generator)):
        try:
            module.load_state_dict(checkpoint[name], strict=True)
        except RuntimeError as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else "layout differs"
            raise ModelUnavailableError(
                f"{os.fspath(checkpoint_path)}: its {name} does not match {os.fspath(config_path)} ({first}); "
                f"use the vox-256 checkpoint vox-cpk.pth.tar with the vox-256 config.") from err
    del checkpoint
    return kp_detector.to(device).eval(), generator.to(device).eval()


def _shapes(module: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {name: tuple(t.shape) for name, t in module.state_dict().items()}


def expected_kp_detector_shapes(config_path: str | os.PathLike[str]) -> dict[str, tuple[int, ...]]:
    """State-dict name → shape of the KPDetector the config describes (built on the meta device: no memory)."""
    return _shapes(build_fom(load_fom_config(config_path), "meta")[0])


def expected_generator_shapes(config_path: str | os.PathLike[str]) -> dict[str, tuple[int, ...]]:
    """State-dict name → shape of the OcclusionAwareGenerator the config describes (meta device)."""
    return _shapes(build_fom(load_fom_config(config_path), "meta")[1])
