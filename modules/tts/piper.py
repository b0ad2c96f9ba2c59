"""Piper (VITS, ONNX Runtime) voices as pure compute: text → float32 samples + phoneme events, reproducibly.

Why we patch the graph: a Piper model draws its noise (duration noise and the flow's latent noise) with two
`RandomNormalLike` nodes inside the ONNX graph, from a generator that lives in the session, so every call depends
on the calls before it and the same sentence gives different audio (and lengths). We replace each such node with a
slice of a noise *input* that we fill from a NumPy generator seeded per sentence: the same sentence, voice and
settings give the same samples in every process, whatever was spoken before, at no measurable cost (a fresh
seeded session per sentence would cost ~1 s each). The buffer is drawn column by column, so its values do not
depend on how long it is; when it is too short for a sentence the call is repeated with a longer one.

We also expose the duration tensor (`Ceil`, as piper's own alignment patch does): samples per phoneme id give the
phoneme events the lip-sync uses, mapped from IPA to the espeak mnemonics of `modules.classic.visemes`.

Piper (piper-tts) is GPL-3.0-or-later, like espeak-ng; it phonemises with its own espeak-ng build.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REQUIRED_CONFIG = ("num_symbols", "num_speakers", "audio.sample_rate", "espeak.voice", "phoneme_id_map")
NOISE_CHANNELS = 192         # VITS inter-channels; the dp noise (2 channels) is a corner of the same buffer
_FRAMES_PER_ID = 6           # first guess of latent frames per phoneme id (×length scale), retried when short
_PAD, _BOS, _EOS = "_", "^", "$"
_STRESS = "ˈˌʲ"

# IPA (as Piper's espeak phonemiser writes it, one code point per phoneme) → espeak-ng mnemonic (visemes table)
_IPA_TO_ESPEAK: dict[str, str] = {
    "ə": "@", "ɚ": "3", "ɜ": "3", "ɐ": "a#", "ɪ": "I", "ᵻ": "I", "i": "i", "ɛ": "E", "e": "e", "æ": "a",
    "a": "a", "ɑ": "A", "ɒ": "0", "ɔ": "O", "o": "o", "ʊ": "U", "u": "u", "ʌ": "V", "θ": "T", "ð": "D",
    "ʃ": "S", "ʒ": "Z", "ŋ": "N", "ɹ": "r", "r": "r", "ɾ": "t", "ʔ": "t", "j": "j", "w": "w", "h": "h",
    "p": "p", "b": "b", "m": "m", "f": "f", "v": "v", "s": "s", "z": "z", "t": "t", "d": "d", "n": "n",
    "l": "l", "ɫ": "l", "k": "k", "g": "g", "ɡ": "g", "x": "x", "ç": "x",
    ",": "_", ".": "_:", "!": "_:", "?": "_:", ";": "_", ":": "_",
}


class PiperModelError(RuntimeError):
    """The model or its config cannot be used (message names the file and what is wrong)."""


@dataclass(frozen=True)
class PiperSettings:
    """One synthesis: speaker (multi-speaker models), speed (length scale) and variation (noise scales)."""

    speaker_id: int | None = None
    length_scale: float | None = None     # None: the model config's value
    noise_scale: float | None = None
    noise_w_scale: float | None = None


def _nested(config: dict[str, Any], dotted: str) -> Any:
    value: Any = config
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(dotted)
        value = value[part]
    return value


def read_config(config_path: Path) -> dict[str, Any]:
    """The voice's .onnx.json; PiperModelError naming the first missing field when it is not a Piper config."""
    try:
        config = json.loads(Path(config_path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise PiperModelError(f"{config_path} is not a readable JSON file ({type(err).__name__})") from None
    if not isinstance(config, dict):
        raise PiperModelError(f"{config_path} is not a Piper voice config (a JSON object)")
    for field in REQUIRED_CONFIG:
        try:
            _nested(config, field)
        except KeyError:
            raise PiperModelError(f"{config_path} is not a Piper voice config: it has no {field!r}") from None
    if not isinstance(config["phoneme_id_map"], dict) or not config["phoneme_id_map"]:
        raise PiperModelError(f"{config_path} has an empty phoneme_id_map")
    return config


def patch_graph(model: Any) -> tuple[list[str], str | None]:
    """Replace every RandomNormalLike with a slice of a new noise input; expose the Ceil (durations) tensor.

    Returns (noise input names, duration output name or None). `model` is an onnx ModelProto, changed in place.
    """
    from onnx import TensorProto, helper

    graph = model.graph
    nodes: list[Any] = []
    noise_inputs: list[str] = []
    for node in graph.node:
        if node.op_type not in ("RandomNormalLike", "RandomNormal"):
            nodes.append(node)
            continue
        if node.op_type == "RandomNormal" or any(a.name in ("mean", "scale") and
                                                 helper.get_attribute_value(a) not in (0.0, 1.0)
                                                 for a in node.attribute):
            raise PiperModelError("unsupported random node in the graph (not a standard Piper export)")
        name = f"deepstory_noise_{len(noise_inputs)}"
        noise_inputs.append(name)
        shape, starts = f"{name}_shape", f"{name}_starts"
        nodes.append(helper.make_node("Shape", [node.input[0]], [shape]))
        nodes.append(helper.make_node("Sub", [shape, shape], [starts]))   # zeros, one per axis
        nodes.append(helper.make_node("Slice", [name, starts, shape], [node.output[0]]))
        graph.input.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, None, None]))
    del graph.node[:]
    graph.node.extend(nodes)
    ceil = [out for node in graph.node if node.op_type == "Ceil" for out in node.output]
    durations = ceil[0] if len(ceil) == 1 and all(o.name != ceil[0] for o in graph.output) else None
    if durations is not None:
        value = helper.ValueInfoProto()
        value.name = durations
        graph.output.append(value)
    return noise_inputs, durations


class PiperModel:
    """A loaded Piper voice (patched session + phonemiser). Thread-safe; cheap to call once loaded."""

    def __init__(self, model_path: Path, config_path: Path) -> None:
        import onnx
        import onnxruntime
        from piper.config import PiperConfig
        from piper.voice import PiperVoice

        self.model_path, self.config_path = Path(model_path), Path(config_path)
        self.config = read_config(self.config_path)
        try:
            model = onnx.load(str(self.model_path))
        except Exception as err:  # onnx raises DecodeError / ValueError / OSError for damaged files
            raise PiperModelError(f"{self.model_path} is not a readable ONNX model ({type(err).__name__})") from None
        self.noise_inputs, self.durations_output = patch_graph(model)
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        try:
            self.session = onnxruntime.InferenceSession(model.SerializeToString(), sess_options=options,
                                                        providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own exception types
            raise PiperModelError(f"{self.model_path} cannot be run by ONNX Runtime ({str(err)[:120]})") from None
        del model
        names = {i.name for i in self.session.get_inputs()}
        missing = {"input", "input_lengths", "scales"} - names
        if missing:
            raise PiperModelError(f"{self.model_path} is not a Piper model: no input {sorted(missing)[0]!r}")
        self.has_sid = "sid" in names
        try:
            piper_config = PiperConfig.from_dict(self.config)
        except (KeyError, TypeError, ValueError) as err:
            raise PiperModelError(f"{self.config_path} is not a Piper voice config ({err})") from None
        self._voice = PiperVoice(session=self.session, config=piper_config)
        self.sample_rate = int(piper_config.sample_rate)
        self.hop_length = int(piper_config.hop_length)
        self.num_speakers = int(piper_config.num_speakers)
        self.speaker_id_map = dict(piper_config.speaker_id_map)
        self._defaults = (piper_config.length_scale, piper_config.noise_scale, piper_config.noise_w_scale)
        self._lock = threading.Lock()

    @property
    def default_scales(self) -> tuple[float, float, float]:
        """(length, noise, noise_w) scales from the model config."""
        return tuple(float(v) for v in self._defaults)  # type: ignore[return-value]

    def synthesize(self, text: str, settings: PiperSettings = PiperSettings()) -> tuple[np.ndarray, list[tuple[int, str]]]:
        """text → (float32 audio at `sample_rate`, [(sample, espeak mnemonic)]). Same input → same samples."""
        length, noise, noise_w = self.default_scales
        scales = np.array([noise if settings.noise_scale is None else settings.noise_scale,
                           length if settings.length_scale is None else settings.length_scale,
                           noise_w if settings.noise_w_scale is None else settings.noise_w_scale], np.float32)
        speaker = settings.speaker_id
        if self.num_speakers > 1 and speaker is None:
            speaker = int(self.config.get("default_speaker_id", 0))
        if speaker is not None and not 0 <= speaker < max(self.num_speakers, 1):
            raise PiperModelError(f"speaker {speaker} is not in this model (it has {self.num_speakers})")
        seed = int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16)
        pieces: list[np.ndarray] = []
        events: list[tuple[int, str]] = []
        offset = 0
        with self._lock:
            sentences = self._voice.phonemize(text)
            for index, phonemes in enumerate(p for p in sentences if p):
                ids = self._voice.phonemes_to_ids(phonemes)
                audio, id_samples = self._run(ids, scales, speaker, seed, index)
                if id_samples is not None:
                    events += [(offset + s, p) for s, p in self._events(phonemes, id_samples)]
                pieces.append(audio)
                offset += len(audio)
        audio = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
        return audio.astype(np.float32, copy=False), [(min(s, max(len(audio) - 1, 0)), p) for s, p in events]

    def _run(self, ids: Sequence[int], scales: np.ndarray, speaker: int | None, seed: int,
             index: int) -> tuple[np.ndarray, np.ndarray | None]:
        n = len(ids)
        feeds: dict[str, np.ndarray] = {
            "input": np.array([ids], dtype=np.int64),
            "input_lengths": np.array([n], dtype=np.int64),
            "scales": scales,
        }
        if self.has_sid:
            feeds["sid"] = np.array([speaker or 0], dtype=np.int64)
        frames = int(n * _FRAMES_PER_ID * max(float(scales[1]), 0.25)) + 64
        for attempt in range(4):
            for k, name in enumerate(self.noise_inputs):
                rng = np.random.default_rng([seed, index, k])
                # drawn frame by frame: the first frames are the same whatever the buffer's length
                feeds[name] = np.ascontiguousarray(rng.standard_normal((frames, NOISE_CHANNELS), np.float32).T[None])
            try:
                result = self.session.run(None, feeds)
                break
            except Exception as err:  # too short a noise buffer: shape mismatch inside the graph
                if attempt == 3 or not self.noise_inputs:
                    raise PiperModelError(f"{self.model_path.name} failed to synthesise ({str(err)[:160]})") from None
                frames *= 4
        audio = np.asarray(result[0], dtype=np.float32).reshape(-1)
        durations = None
        if self.durations_output is not None and len(result) > 1:
            durations = (np.asarray(result[1]).reshape(-1) * self.hop_length).astype(np.int64)
            if len(durations) != n:
                durations = None
        return audio, durations

    def _events(self, phonemes: Sequence[str], id_samples: np.ndarray) -> list[tuple[int, str]]:
        """Phoneme start samples from samples per id: ids are BOS PAD (phoneme PAD)* EOS, as piper builds them."""
        id_map = self.config["phoneme_id_map"]
        pad = len(id_map.get(_PAD, []))
        starts = np.concatenate([[0], np.cumsum(id_samples)])
        position = len(id_map.get(_BOS, [])) + pad
        events: list[tuple[int, str]] = []
        for phoneme in phonemes:
            width = len(id_map.get(phoneme, []))
            if width == 0:
                continue   # piper skips phonemes missing from the map
            if position >= len(starts) - 1:
                break
            sample = int(starts[position])
            mnemonic = _to_espeak(phoneme)
            if phoneme == "ː" and events:
                events[-1] = (events[-1][0], events[-1][1] + ":")
            elif mnemonic is not None:
                events.append((sample, mnemonic))
            position += width + pad
        return events


def _to_espeak(phoneme: str) -> str | None:
    if phoneme in _STRESS or phoneme == " " or phoneme == "ː":
        return None
    return _IPA_TO_ESPEAK.get(phoneme, phoneme)
