"""espeak-ng through ctypes, from the `espeakng-loader` wheel: text → int16 samples at 22050 Hz + timed events.

Why ctypes and not a subprocess: the wheel ships the library and its data but no `espeak-ng` binary, and
synchronous synthesis into a callback gives the audio as an array plus word/phoneme events with sample positions.

Traps: `espeak_Initialize` must get the wheel's data path — with NULL the library calls
`exit(1)` and takes the whole process with it — and option 0x8000 (don't exit on errors). espeak-ng is a
process-wide singleton, so every call goes through one lock. espeak-ng is GPL-3.0.

Not bit-reproducible: espeak-ng keeps internal state between calls (even across espeak_Terminate/Initialize), so
the same sentence comes out with a few milliseconds of timing jitter depending on what was spoken before. Cache
sentence audio by its inputs (text, voice id); never expect re-synthesis to give identical samples.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 22050

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x0001
_INIT_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_EV_WORD, _EV_SENTENCE, _EV_END, _EV_MSG_TERMINATED, _EV_PHONEME = 1, 2, 5, 6, 7
_PARAM_RATE, _PARAM_VOLUME, _PARAM_PITCH, _PARAM_RANGE, _PARAM_PUNCTUATION, _PARAM_WORDGAP = 1, 2, 3, 4, 5, 7


class EspeakError(RuntimeError):
    """espeak-ng could not be loaded or refused a request (unknown voice, synthesis failure)."""


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(frozen=True)
class EspeakVoice:
    """An espeak voice: language voice + variant (`en-us+m3`), words per minute, pitch 0–99, pitch range 0–99."""

    name: str = "en-us"
    rate: int = 165
    pitch: int = 50
    pitch_range: int = 50


@dataclass(frozen=True)
class EspeakEvent:
    """A word or phoneme starting at `sample` (22050 Hz) of the synthesised audio.

    kind is "word" (text = the word, from the input text) or "phoneme" (text = espeak's phoneme mnemonic).
    """

    kind: str
    sample: int
    text: str


class _Engine:
    """The process-wide espeak-ng instance (created on first use)."""

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError as err:  # pragma: no cover - a dependency of the project
            raise EspeakError("the espeakng-loader package is not installed (pip install espeakng-loader)") from err
        try:
            lib = ctypes.CDLL(str(espeakng_loader.get_library_path()))
        except OSError as err:
            raise EspeakError(f"cannot load libespeak-ng from the espeakng-loader wheel: {err}") from err
        data_path = str(espeakng_loader.get_data_path()).encode()
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
            ctypes.POINTER(ctypes.c_uint), ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synchronize.argtypes = []
        lib.espeak_Synchronize.restype = ctypes.c_int
        rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, _INIT_DONT_EXIT | _INIT_PHONEME_EVENTS
        )
        if rate <= 0:
            raise EspeakError(f"espeak_Initialize failed (returned {rate}) with data path {data_path.decode()}")
        self.sample_rate = int(rate)
        self.lib = lib
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, int, int, int, bytes]] = []
        self._callback = _CALLBACK(self._on_audio)   # keep a reference: espeak holds the raw pointer
        lib.espeak_SetSynthCallback(self._callback)
        self._voice: EspeakVoice | None = None

    def _on_audio(self, wav, numsamples, events) -> int:
        if numsamples > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(numsamples,)).copy())
        i = 0
        while events and events[i].type != 0:   # 0 = espeakEVENT_LIST_TERMINATED
            ev = events[i]
            payload = bytes(ev.id.string).split(b"\0", 1)[0] if ev.type == _EV_PHONEME else b""
            self._events.append((ev.type, ev.sample, ev.text_position, ev.length, payload))
            i += 1
        return 0  # continue

    def _set_voice(self, voice: EspeakVoice) -> None:
        if voice == self._voice:
            return
        if self.lib.espeak_SetVoiceByName(voice.name.encode()) != 0:
            self._voice = None
            raise EspeakError(f"espeak-ng has no voice named {voice.name!r}")
        for param, value in (
            (_PARAM_RATE, voice.rate), (_PARAM_PITCH, voice.pitch), (_PARAM_RANGE, voice.pitch_range),
            (_PARAM_VOLUME, 100), (_PARAM_PUNCTUATION, 0), (_PARAM_WORDGAP, 0),
        ):
            self.lib.espeak_SetParameter(param, int(value), 0)
        self._voice = voice

    def synthesize(self, text: str, voice: EspeakVoice) -> tuple[np.ndarray, list[EspeakEvent]]:
        self._set_voice(voice)
        data = text.encode("utf-8") + b"\0"
        buf = ctypes.create_string_buffer(data, len(data))
        self._chunks, self._events = [], []
        err = self.lib.espeak_Synth(buf, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        if err != 0:
            raise EspeakError(f"espeak_Synth failed with error {err}")
        self.lib.espeak_Synchronize()
        audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        events = list(_decode_events(self._events, text, len(audio)))
        self._chunks, self._events = [], []
        return audio.astype(np.int16, copy=False), events


def _decode_events(raw, text: str, n_samples: int) -> Iterator[EspeakEvent]:
    for etype, sample, text_pos, length, payload in raw:
        sample = min(max(int(sample), 0), n_samples)
        if etype == _EV_PHONEME:
            name = payload.decode("utf-8", "replace")
            if name:
                yield EspeakEvent("phoneme", sample, name)
        elif etype == _EV_WORD:
            # text_position is 1-based, in characters of the input
            start = max(text_pos - 1, 0)
            yield EspeakEvent("word", sample, text[start:start + max(length, 0)])


_LOCK = threading.Lock()
_ENGINE: _Engine | None = None


def _engine() -> _Engine:
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = _Engine()
    return _ENGINE


def synthesize(text: str, voice: EspeakVoice = EspeakVoice()) -> tuple[np.ndarray, int, list[EspeakEvent]]:
    """Speak `text` with `voice` → (int16 mono samples, sample rate, word/phoneme events). Thread-safe."""
    with _LOCK:
        engine = _engine()
        audio, events = engine.synthesize(text, voice)
        return audio, engine.sample_rate, events


def is_available() -> bool:
    """True when libespeak-ng loads and initialises."""
    try:
        with _LOCK:
            _engine()
        return True
    except EspeakError:
        return False
