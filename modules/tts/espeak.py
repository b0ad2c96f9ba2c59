"""espeak-ng through ctypes, from the `espeakng-loader` wheel: text → int16 samples at 22050 Hz + timed events.

Why ctypes and not a subprocess: the wheel ships the library and its data but no `espeak-ng` binary, and
synchronous synthesis into a callback gives the audio as an array plus word/phoneme events with sample positions.

Traps (see ENVIRONMENT.md): `espeak_Initialize` must get the wheel's data path — with NULL the library calls
`exit(1)` and takes the whole process with it — and option 0x8000 (don't exit on errors). espeak-ng is GPL-3.0.

Reproducible by construction: espeak-ng keeps state between calls that no API resets (pitch flutter counters,
wave-generator phase, its random generator seeded from the clock), so the same sentence came out a few samples
longer or shorter depending on what the process had spoken before, and the breathy variants (`+f2`, `+f3`, `+f5`)
differed between processes. So the library is initialised once in a small *zygote* process that never speaks;
every sentence is synthesised in a child forked from it (a few ms), which starts from that same pristine state
with the random generators seeded, and exits. Same text + voice → the same samples, in any process, whatever was
spoken before. A side effect we want: Ctrl-C in the caller never runs inside espeak's C callback, and the child
ignores SIGINT, so an interrupt cannot shorten a sentence — the caller stops waiting and the child is discarded.
"""

from __future__ import annotations

import atexit
import ctypes
import json
import os
import signal
import struct
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

SAMPLE_RATE = 22050
RANDOM_SEED = 1   # espeak's and libc's generators are reset to this before every sentence

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x0001
_INIT_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_EV_WORD, _EV_SENTENCE, _EV_END, _EV_MSG_TERMINATED, _EV_PHONEME = 1, 2, 5, 6, 7
_PARAM_RATE, _PARAM_VOLUME, _PARAM_PITCH, _PARAM_RANGE, _PARAM_PUNCTUATION, _PARAM_WORDGAP = 1, 2, 3, 4, 5, 7
_REPO_ROOT = Path(__file__).resolve().parents[2]


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


RawEvent = tuple[int, int, int, int, str]   # (type, sample, text position, length, phoneme name)


class _Engine:
    """libespeak-ng in this process. Used inside the zygote's children (and where fork does not exist)."""

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
        self._seed = getattr(lib, "espeak_ng_SetRandSeed", None)
        if self._seed is not None:
            self._seed.argtypes = [ctypes.c_long]
            self._seed.restype = None
        try:
            self._libc_srand: Any = ctypes.CDLL(None).srand
        except (OSError, AttributeError):  # pragma: no cover - every POSIX libc has srand
            self._libc_srand = None
        rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, _INIT_DONT_EXIT | _INIT_PHONEME_EVENTS
        )
        if rate <= 0:
            raise EspeakError(f"espeak_Initialize failed (returned {rate}) with data path {data_path.decode()}")
        self.sample_rate = int(rate)
        self.lib = lib
        self._chunks: list[bytes] = []
        self._events: list[RawEvent] = []
        self._failure: BaseException | None = None
        self._callback = _CALLBACK(self._on_audio)   # keep a reference: espeak holds the raw pointer
        lib.espeak_SetSynthCallback(self._callback)

    def _on_audio(self, wav, numsamples, events) -> int:
        """espeak's callback. An exception here (KeyboardInterrupt included) would be printed and swallowed by
        ctypes while espeak carried on without the block — a silently shortened sentence. So any exception is
        recorded, synthesis is aborted (return 1), and `synthesize` raises it once the C call has returned."""
        try:
            if numsamples > 0 and wav:
                self._chunks.append(ctypes.string_at(wav, numsamples * 2))
            i = 0
            while events and events[i].type != 0:   # 0 = espeakEVENT_LIST_TERMINATED
                ev = events[i]
                name = ""
                if ev.type == _EV_PHONEME:
                    name = bytes(ev.id.string).split(b"\0", 1)[0].decode("utf-8", "replace")
                self._events.append((ev.type, ev.sample, ev.text_position, ev.length, name))
                i += 1
            return 0  # continue
        except BaseException as err:
            self._failure = err
            return 1  # abort synthesis

    def _set_voice(self, voice: EspeakVoice) -> None:
        if self.lib.espeak_SetVoiceByName(voice.name.encode()) != 0:
            raise EspeakError(f"espeak-ng has no voice named {voice.name!r}")
        for param, value in (
            (_PARAM_RATE, voice.rate), (_PARAM_PITCH, voice.pitch), (_PARAM_RANGE, voice.pitch_range),
            (_PARAM_VOLUME, 100), (_PARAM_PUNCTUATION, 0), (_PARAM_WORDGAP, 0),
        ):
            self.lib.espeak_SetParameter(param, int(value), 0)

    def synthesize(self, text: str, voice: EspeakVoice) -> tuple[bytes, list[RawEvent]]:
        """(int16 little-endian bytes, raw events). Raises what the callback caught; never returns partial audio."""
        self._set_voice(voice)
        if self._seed is not None:
            self._seed(RANDOM_SEED)
        if self._libc_srand is not None:
            self._libc_srand(RANDOM_SEED)
        data = text.encode("utf-8") + b"\0"
        buf = ctypes.create_string_buffer(data, len(data))
        self._chunks, self._events, self._failure = [], [], None
        err = self.lib.espeak_Synth(buf, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        if err == 0 and self._failure is None:
            self.lib.espeak_Synchronize()
        failure, self._failure = self._failure, None
        audio, events = b"".join(self._chunks), self._events
        self._chunks, self._events = [], []
        if failure is not None:
            raise failure
        if err != 0:
            raise EspeakError(f"espeak_Synth failed with error {err}")
        return audio, events


# -- the zygote: initialised once, forks one child per sentence -----------------------------------------------------
def _read_exact(stream: IO[bytes], n: int) -> bytes:
    data = b""
    while len(data) < n:
        part = stream.read(n - len(data))
        if not part:
            raise EOFError(f"stream ended after {len(data)} of {n} bytes")
        data += part
    return data


def _write_frame(stream: IO[bytes], header: dict[str, Any], payload: bytes = b"") -> None:
    head = json.dumps(header).encode()
    stream.write(struct.pack(">IQ", len(head), len(payload)) + head + payload)
    stream.flush()


def _read_frame(stream: IO[bytes]) -> tuple[dict[str, Any], bytes]:
    head_len, payload_len = struct.unpack(">IQ", _read_exact(stream, 12))
    header = json.loads(_read_exact(stream, head_len))
    return header, _read_exact(stream, payload_len)


def _child(engine: _Engine, request: dict[str, Any], out: IO[bytes]) -> None:
    try:
        voice = EspeakVoice(request["name"], int(request["rate"]), int(request["pitch"]), int(request["range"]))
        audio, events = engine.synthesize(str(request["text"]), voice)
        _write_frame(out, {"samples": len(audio) // 2, "rate": engine.sample_rate, "events": events}, audio)
    except EspeakError as err:
        _write_frame(out, {"error": str(err)})


def _serve() -> None:
    """The zygote's loop: one request in → fork → the child synthesises into a pipe → the reply out."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the caller decides about interrupts
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    try:
        engine = _Engine()
    except EspeakError as err:
        _write_frame(replies, {"error": str(err)})
        return
    _write_frame(replies, {"ready": True, "rate": engine.sample_rate})
    while True:
        try:
            request, _ = _read_frame(requests)
        except (EOFError, struct.error):
            return
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:   # the child: pristine engine state, speak once, leave
            os.close(read_end)
            with os.fdopen(write_end, "wb") as out:
                _child(engine, request, out)
            os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as pipe:
            reply = pipe.read()
        _, status = os.waitpid(pid, 0)
        if status != 0 or len(reply) < 12:
            _write_frame(replies, {"error": f"the espeak-ng worker failed (status {status})"})
        else:
            replies.write(reply)
            replies.flush()


class _Zygote:
    """The caller's handle on the zygote process (started on first use, restarted after any failure)."""

    def __init__(self) -> None:
        code = f"import sys; sys.path.insert(0, {str(_REPO_ROOT)!r}); from modules.tts.espeak import _serve; _serve()"
        self.process = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, start_new_session=True,   # a terminal's Ctrl-C goes to the caller only
        )
        header, _ = self._exchange(None)
        if "error" in header:
            self.close()
            raise EspeakError(header["error"])

    def _exchange(self, request: dict[str, Any] | None) -> tuple[dict[str, Any], bytes]:
        assert self.process.stdin is not None and self.process.stdout is not None
        if request is not None:
            _write_frame(self.process.stdin, request)
        return _read_frame(self.process.stdout)

    def synthesize(self, text: str, voice: EspeakVoice) -> tuple[dict[str, Any], bytes]:
        request = {"text": text, "name": voice.name, "rate": voice.rate, "pitch": voice.pitch,
                   "range": voice.pitch_range}
        return self._exchange(request)

    def close(self) -> None:
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()
        except OSError:
            pass
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def _decode_events(raw: list[Any], text: str, n_samples: int) -> list[EspeakEvent]:
    decoded = []
    for etype, sample, text_pos, length, name in raw:
        sample = min(max(int(sample), 0), n_samples)
        if etype == _EV_PHONEME:
            if name:
                decoded.append(EspeakEvent("phoneme", sample, str(name)))
        elif etype == _EV_WORD:
            # text_position is 1-based, in characters of the input
            start = max(int(text_pos) - 1, 0)
            decoded.append(EspeakEvent("word", sample, text[start:start + max(int(length), 0)]))
    return decoded


_LOCK = threading.Lock()
_ZYGOTE: _Zygote | None = None
_IN_PROCESS: _Engine | None = None   # only where os.fork does not exist (then not reproducible)


def _zygote() -> _Zygote:
    global _ZYGOTE
    if _ZYGOTE is None or _ZYGOTE.process.poll() is not None:
        _ZYGOTE = _Zygote()
    return _ZYGOTE


def _discard_zygote() -> None:
    global _ZYGOTE
    if _ZYGOTE is not None:
        _ZYGOTE.close()
        _ZYGOTE = None


atexit.register(_discard_zygote)


def _synthesize_locked(text: str, voice: EspeakVoice) -> tuple[bytes, int, list[Any]]:
    global _IN_PROCESS
    if not hasattr(os, "fork"):   # pragma: no cover - Windows
        if _IN_PROCESS is None:
            _IN_PROCESS = _Engine()
        audio, events = _IN_PROCESS.synthesize(text, voice)
        return audio, _IN_PROCESS.sample_rate, [list(e) for e in events]
    try:
        zygote = _zygote()
        header, audio = zygote.synthesize(text, voice)
    except BaseException as err:
        # interrupted or broken mid-reply: the pipe is out of step, so this zygote is finished
        _discard_zygote()
        if isinstance(err, (EOFError, OSError, struct.error, ValueError)):
            raise EspeakError(f"the espeak-ng worker stopped unexpectedly ({err})") from None
        raise
    if "error" in header:
        raise EspeakError(str(header["error"]))
    if len(audio) != 2 * int(header["samples"]):
        raise EspeakError(f"the espeak-ng worker returned {len(audio) // 2} of {header['samples']} samples")
    return audio, int(header["rate"]), header["events"]


def synthesize(text: str, voice: EspeakVoice = EspeakVoice()) -> tuple[np.ndarray, int, list[EspeakEvent]]:
    """Speak `text` with `voice` → (int16 mono samples, sample rate, word/phoneme events). Thread-safe and
    reproducible: the same text and voice give the same samples in every process, whatever was spoken before."""
    with _LOCK:
        raw_audio, rate, raw_events = _synthesize_locked(text, voice)
    audio = np.frombuffer(raw_audio, dtype="<i2").astype(np.int16)
    return audio, rate, _decode_events(raw_events, text, len(audio))


def is_available() -> bool:
    """True when libespeak-ng loads and initialises."""
    try:
        with _LOCK:
            if hasattr(os, "fork"):
                _zygote()
            else:   # pragma: no cover - Windows
                _synthesize_locked("", EspeakVoice())
        return True
    except EspeakError:
        return False
