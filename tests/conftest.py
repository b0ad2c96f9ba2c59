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
