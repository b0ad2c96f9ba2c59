"""`dctts:<name>` voices: trained DC-TTS voices the user puts under `data/dctts/<name>/` (t2m.pth + ssrn.pth).

Loaded weights are cached per voice folder (a voice is ~550 MB at the published sizes, so only the most recently
used few stay loaded; `evict_dctts_models()` drops them all).
"""

from __future__ import annotations

import functools
import pickle
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepstory_kernel.checkpoints import weights_fingerprint
from deepstory_kernel.contracts import Speech
from deepstory_kernel.device import get_device, release_memory
from deepstory_kernel.errors import InputError, ModelUnavailableError

from .voices import DCTTS_PREFIX, VoiceInfo

T2M_FILE = "t2m.pth"
SSRN_FILE = "ssrn.pth"
MAX_CACHED_VOICES = 2
_HELP = ("put the pytorch-dc-tts checkpoints of a voice in data/dctts/<VoiceName>/t2m.pth and ssrn.pth "
         "(see data/dctts/README.md)")
_SAFE_NAME = re.compile(r"^[^/\\\0:]+$")


def _t2m_file(folder: Path) -> Path | None:
    """`t2m.pth`, or the only `t2m*.pth` (the original loaded `glob('t2m*.pth')[0]`)."""
    exact = folder / T2M_FILE
    if exact.is_file():
        return exact
    candidates = sorted(p for p in folder.glob("t2m*.pth") if p.is_file())
    return candidates[0] if len(candidates) == 1 else None


def _voice_files(folder: Path) -> tuple[Path | None, Path | None]:
    ssrn = folder / SSRN_FILE
    return _t2m_file(folder), (ssrn if ssrn.is_file() else None)


def list_dctts_voices(data_dir: Path) -> list[VoiceInfo]:
    """One entry per folder under `data_dir/dctts/`; available when it holds both t2m.pth and ssrn.pth.

    A folder holding only one of the two files is listed as unavailable, with a note naming the missing file.
    """
    root = Path(data_dir) / "dctts"
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
        voices.append(VoiceInfo(f"{DCTTS_PREFIX}{folder.name}", f"{folder.name} (DC-TTS)", "dctts", not missing, note))
    return voices


@dataclass(frozen=True)
class _CacheKey:
    folder: str
    t2m: tuple[str, int, int]
    ssrn: tuple[str, int, int]


def _signature(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return str(path), stat.st_size, stat.st_mtime_ns


_cache: OrderedDict[_CacheKey, tuple[object, object]] = OrderedDict()
_cache_lock = threading.Lock()


def evict_dctts_models() -> None:
    """Forget every loaded DC-TTS voice and give the memory back."""
    with _cache_lock:
        _cache.clear()
    release_memory()


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
        return loader(path, get_device())
    except DcttsCheckpointError as err:
        raise ModelUnavailableError(f"DC-TTS voice {folder.name}: {err}; {_HELP}.") from None
    except Exception as err:  # unpickling refused, truncated file, not a checkpoint at all …
        raise ModelUnavailableError(f"DC-TTS voice {folder.name}: {_describe_unreadable(path, err)}.") from None


def _load_models(folder: Path, t2m: Path, ssrn: Path) -> tuple[object, object]:
    from modules.dctts.loader import load_ssrn, load_text2mel

    key = _CacheKey(str(folder), _signature(t2m), _signature(ssrn))
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    models = (_load_one(folder, t2m, load_text2mel), _load_one(folder, ssrn, load_ssrn))
    with _cache_lock:
        _cache[key] = models
        _cache.move_to_end(key)
        while len(_cache) > MAX_CACHED_VOICES:
            _cache.popitem(last=False)
    return models


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

    def load(self) -> tuple[object, object]:
        """(Text2Mel, SSRN), loaded on first use and cached per folder."""
        return _load_models(self.folder, self.t2m_path, self.ssrn_path)

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


def load_dctts_voice(voice_id: str, data_dir: Path) -> DcttsVoice:
    """The backend for `dctts:<name>`; ModelUnavailableError naming the missing file when the folder is incomplete.

    Weights are read on the first `synthesize` (or `load()`), so listing and choosing voices stays cheap.
    """
    name = voice_id[len(DCTTS_PREFIX):] if voice_id.startswith(DCTTS_PREFIX) else voice_id
    if not name or not _SAFE_NAME.match(name) or name in (".", ".."):
        raise InputError(f"Invalid DC-TTS voice id {voice_id!r}; ids look like dctts:<folder under data/dctts>.")
    folder = Path(data_dir) / "dctts" / name
    t2m, ssrn = _voice_files(folder) if folder.is_dir() else (None, None)
    missing = [f"data/dctts/{name}/{file}" for file, path in ((T2M_FILE, t2m), (SSRN_FILE, ssrn)) if path is None]
    if missing:
        raise ModelUnavailableError(f"DC-TTS voice {name} is missing {' and '.join(missing)}; {_HELP}.")
    return DcttsVoice(f"{DCTTS_PREFIX}{name}", folder, t2m, ssrn)
