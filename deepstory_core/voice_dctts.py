"""`dctts:<name>` voices: trained DC-TTS voices the user puts under `<data>/dctts/<name>/` (t2m.pth + ssrn.pth).

Loaded weights live in the one model cache (`deepstory_core.models`) under the voice id, so the memory panel lists
them and a render evicts them before the base stage; the cache keeps at most a few voices (~550 MB each at the
published sizes). Weights replaced on disk are noticed (size + mtime) and loaded again.
"""

from __future__ import annotations

import functools
import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np

from deepstory_kernel.checkpoints import weights_fingerprint
from deepstory_kernel.contracts import Speech
from deepstory_kernel.errors import InputError, ModelUnavailableError

from . import models
from .paths import data_dir as default_data_dir
from .registry import dctts_t2m
from .voice_info import DCTTS_PREFIX, VoiceInfo

T2M_FILE = "t2m.pth"
SSRN_FILE = "ssrn.pth"
_HELP = ("put the pytorch-dc-tts checkpoints of a voice in data/dctts/<VoiceName>/t2m.pth and ssrn.pth "
         "(see data/dctts/README.md)")
_SAFE_NAME = re.compile(r"^[^/\\\0:]+$")


def _voice_files(folder: Path) -> tuple[Path | None, Path | None]:
    t2m, ssrn = dctts_t2m(folder), folder / SSRN_FILE
    return (t2m if t2m.is_file() else None), (ssrn if ssrn.is_file() else None)


def list_dctts_voices(data_dir: Path | None = None) -> list[VoiceInfo]:
    """One entry per folder under `data_dir/dctts/`; available when it holds both t2m.pth and ssrn.pth and the model
    registry checks them ready (so a corrupt or unsafe voice is never offered).

    A folder holding only one of the two files is listed as unavailable, with a note naming the missing file.
    """
    root = Path(data_dir if data_dir is not None else default_data_dir()) / "dctts"
    if not root.is_dir():
        return []
    voices = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if not _SAFE_NAME.match(folder.name):
            continue
        t2m, ssrn = _voice_files(folder)
        if t2m is None and ssrn is None:
            continue
        missing = [name for name, path in ((T2M_FILE, t2m), (SSRN_FILE, ssrn)) if path is None]
        note = "" if not missing else f"missing {' and '.join(missing)} in data/dctts/{folder.name}/"
        available = not missing
        if available:   # the model registry's check (the one `models` shows): corrupt/unsafe files are unavailable
            from . import registry

            result = registry.check(registry.entry(f"{DCTTS_PREFIX}{folder.name}", root.parent))
            available, note = result.ready, ("" if result.ready else f"{result.status}: {result.message}")
        voices.append(VoiceInfo(f"{DCTTS_PREFIX}{folder.name}", f"{folder.name} (DC-TTS)", "dctts", available, note))
    return voices


def _signature(*files: Path) -> tuple[tuple[str, int, int], ...]:
    return tuple((str(path), path.stat().st_size, path.stat().st_mtime_ns) for path in files)


def _describe_unreadable(path: Path, err: Exception) -> str:
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError:
        head = b""
    if head.startswith(b"version https://git-lfs"):
        return f"{path} is a git-LFS pointer, not the weights; download the real file (git lfs pull) and put it there"
    if isinstance(err, pickle.UnpicklingError):
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(err))
        what = f" ({found.group(1)})" if found else ""
        return (f"{path} contains Python objects{what} besides tensors, which are refused for safety "
                "(weights-only loading); use the original pytorch-dc-tts checkpoint")
    reason = (str(err).strip().splitlines() or [""])[0][:160]
    return f"{path} could not be read as a PyTorch checkpoint ({type(err).__name__}: {reason}); replace the file"


def _load_one(folder: Path, path: Path, loader) -> object:
    from modules.dctts.loader import DcttsCheckpointError

    try:
        return loader(path, models.device())
    except DcttsCheckpointError as err:
        raise ModelUnavailableError(f"DC-TTS voice {folder.name}: {err}; {_HELP}.") from None
    except ModelUnavailableError as err:   # e.g. NaN weights, found by the safe loader
        raise ModelUnavailableError(f"DC-TTS voice {folder.name}: {err}") from None
    except Exception as err:  # unpickling refused, truncated file, not a checkpoint at all …
        raise ModelUnavailableError(f"DC-TTS voice {folder.name}: {_describe_unreadable(path, err)}.") from None


def _load_models(voice_id: str, folder: Path, t2m: Path, ssrn: Path) -> tuple[Any, Any]:
    """(Text2Mel, SSRN) from the model cache; loaded again when the files changed since they were loaded."""
    from modules.dctts.loader import load_ssrn, load_text2mel

    signature = _signature(t2m, ssrn)

    def load() -> tuple[object, tuple[Any, Any]]:
        return signature, (_load_one(folder, t2m, load_text2mel), _load_one(folder, ssrn, load_ssrn))

    loaded_signature, pair = models.load(voice_id, load)
    if loaded_signature != signature:
        models.MODELS.drop(voice_id)
        loaded_signature, pair = models.load(voice_id, load)
    return pair


class DcttsVoice:
    """A DC-TTS voice: text → Speech (float32 mono at 22050 Hz, silence trimmed as the original)."""

    backend = "dctts"

    def __init__(self, voice_id: str, folder: Path, t2m: Path, ssrn: Path) -> None:
        self.voice_id = voice_id
        self.folder, self.t2m_path, self.ssrn_path = folder, t2m, ssrn

    @functools.cached_property
    def weights_checksum(self) -> str:
        """Part of every sentence-audio key of this voice: new weights in the folder → new audio (read once)."""
        return weights_fingerprint((self.t2m_path, self.ssrn_path))

    def load(self) -> tuple[Any, Any]:
        """(Text2Mel, SSRN), loaded on first use and cached per folder."""
        return _load_models(self.voice_id, self.folder, self.t2m_path, self.ssrn_path)

    def synthesize(self, text: str) -> Speech:
        from modules.dctts.hparams import DEFAULT_HPARAMS
        from modules.dctts.synthesis import synthesize_wav
        from modules.dctts.text import normalize_text

        if not any(c.isalpha() for c in normalize_text(text)):
            raise InputError(
                f"The DC-TTS voice {self.voice_id} cannot read \u201c{' '.join(text.split())[:60]}\u201d: it only "
                "speaks English letters (digits and other scripts are dropped); write the words out."
            )
        text2mel, ssrn = self.load()
        wav = synthesize_wav(text2mel, ssrn, text, DEFAULT_HPARAMS)
        return Speech(wav.astype(np.float32) / np.float32(32768.0), DEFAULT_HPARAMS.sr)

    def __repr__(self) -> str:
        return f"DcttsVoice({self.voice_id!r})"


def load_dctts_voice(voice_id: str, data_dir: Path | None = None) -> DcttsVoice:
    """The backend for `dctts:<name>`; ModelUnavailableError naming the missing file when the folder is incomplete.

    Weights are read on the first `synthesize` (or `load()`), so listing and choosing voices stays cheap.
    """
    name = voice_id[len(DCTTS_PREFIX):] if voice_id.startswith(DCTTS_PREFIX) else voice_id
    if not name or not _SAFE_NAME.match(name) or name in (".", ".."):
        raise InputError(f"Invalid DC-TTS voice id {voice_id!r}; ids look like dctts:<folder under data/dctts>.")
    folder = Path(data_dir if data_dir is not None else default_data_dir()) / "dctts" / name
    t2m, ssrn = _voice_files(folder) if folder.is_dir() else (None, None)
    missing = [str(folder / file) for file, path in ((T2M_FILE, t2m), (SSRN_FILE, ssrn)) if path is None]
    if t2m is None or ssrn is None:
        raise ModelUnavailableError(f"DC-TTS voice {name} is missing {' and '.join(missing)}; {_HELP}.")
    return DcttsVoice(f"{DCTTS_PREFIX}{name}", folder, t2m, ssrn)
