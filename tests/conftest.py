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
def landmarker():
    """The face model (MediaPipe Face Landmarker), loaded once for the test session and closed after it."""
    from modules.face.mesh import FaceLandmarker

    with FaceLandmarker() as model:
        yield model
