"""Shared test fixtures: paths to the shared reference data and samples, CPU-only, single-threaded determinism."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DEEPSTORY_SHARED", REPO.parent / "shared"))
REFERENCE = Path(os.environ.get("DEEPSTORY_REFERENCE", SHARED / "reference"))
SAMPLES = SHARED / "samples"

os.environ.setdefault("DEEPSTORY_DEVICE", "cpu")


def require_dir(path: Path, what: str) -> Path:
    """Data the tests compare against. Missing on a developer's machine: skip. Missing in CI (`CI=true`): fail, so
    a run whose reference data did not arrive can never pass by skipping the checks that matter."""
    if not path.is_dir():
        message = f"{what} not found at {path} (set DEEPSTORY_REFERENCE / DEEPSTORY_SHARED)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    return require_dir(REFERENCE, "reference data")


@pytest.fixture(scope="module")
def fom_reduced(reference_dir):
    """The reduced FOM reference model and its inputs: (kp_detector, generator, source, driving), NCHW. Module
    scope: each test module gets its own instance, so one module's changes to the model never reach another."""
    import json

    import torch

    from modules.fom import build_fom, fom_config_from_dict

    root = reference_dir / "fom"
    torch.set_num_threads(1)
    config = fom_config_from_dict(json.loads((root / "reduced_config.json").read_text())["model_params"])
    state = torch.load(root / "reduced_state_dicts.pt", weights_only=True)
    kp_detector, generator = build_fom(config)
    kp_detector.load_state_dict(state["kp_detector"], strict=True)
    generator.load_state_dict(state["generator"], strict=True)
    inputs = torch.load(root / "reduced_inputs.pt", weights_only=True)
    source = inputs["source_image_hwc"][None].permute(0, 3, 1, 2)          # (1, 3, 64, 64)
    driving = inputs["driving_video_thwc"].permute(0, 3, 1, 2)            # (6, 3, 64, 64)
    return kp_detector, generator, source, driving


@pytest.fixture(scope="module")
def sda_ref(reference_dir):
    """The reduced SDA reference: (root, model dict, inputs, {"A"|"B": recorded outputs}). Module scope: each test
    module gets its own instance."""
    import json

    import torch

    root = reference_dir / "sda"
    model = torch.load(root / "reduced_model.pt", weights_only=True)
    config = json.loads((root / "reduced_config.json").read_text())["model_dict_config"]
    model.update(config)
    model["img_size"] = tuple(config["img_size"])
    inputs = torch.load(root / "reduced_inputs.pt", weights_only=True)
    outputs = {c: torch.load(root / f"reduced_outputs_clip{c}.pt", weights_only=True) for c in "AB"}
    return root, model, inputs, outputs


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    return require_dir(SAMPLES, "sample media")


@pytest.fixture(scope="session")
def grid_speech(samples_dir):
    """Real speech: the GRID utterance at the project rate, cut to whole 25 fps frames (float32 mono)."""
    import numpy as np
    from scipy.io import wavfile
    from scipy.signal import resample_poly

    from deepstory_kernel.media import SAMPLE_RATE, SAMPLES_PER_FRAME

    rate, pcm = wavfile.read(samples_dir / "grid" / "utterance_50khz.wav")
    audio = resample_poly(pcm.astype(np.float32) / 32768.0, SAMPLE_RATE, rate).astype(np.float32)
    return audio[: len(audio) // SAMPLES_PER_FRAME * SAMPLES_PER_FRAME]


@pytest.fixture(scope="session")
def landmarker():
    """The face model (MediaPipe Face Landmarker), loaded once for the test session and closed after it."""
    from modules.face.mesh import FaceLandmarker

    with FaceLandmarker() as model:
        yield model
