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


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    if not REFERENCE.is_dir():
        pytest.skip(f"reference data not found at {REFERENCE} (set DEEPSTORY_REFERENCE)")
    return REFERENCE


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    if not SAMPLES.is_dir():
        pytest.skip(f"samples not found at {SAMPLES}")
    return SAMPLES
