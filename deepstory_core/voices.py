"""The voice registry: which voice ids exist, how to get a backend for one, and sentence audio at the project rate.

Ids:
* ``espeak:<espeak voice name>`` — built in, nothing to download. The catalogue below tunes rate/pitch so the
  voices are clearly distinct (median pitch from ~80 Hz to ~340 Hz); any other espeak-ng voice name
  (``espeak:en-029+m4``) also works, with espeak's default rate and pitch.
* ``dctts:<folder under <data>/dctts>`` — trained DC-TTS voices, handled by `deepstory_core.voice_dctts`
  (`<data>` is `deepstory_core.paths`' data folder: `DEEPSTORY_DATA`, else `data/` of the install).
* ``piper:<name>[#<speaker>]`` — natural Piper voices (`deepstory_core.voice_piper`): the bundled
  ``piper:en_US-joe-medium`` (the narrator's default) and models in ``data/piper/``.

Every voice is reproducible: the same text, voice and tuning give the same samples in any process, whatever was
spoken before (espeak-ng runs in forked pristine children, Piper's noise is seeded per sentence), so sentence
audio can be keyed by its inputs and a killed render resumes to byte-identical output.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepstory_kernel.contracts import PhonemeEvent, Speech, VoiceBackend
from deepstory_kernel.errors import InputError, ModelUnavailableError
from deepstory_kernel.media import SAMPLE_RATE

from .audio import normalize_loudness, resample, resampled_length, trim_bounds
from .voice_dctts import list_dctts_voices, load_dctts_voice
from .voice_info import DCTTS_PREFIX, ESPEAK_PREFIX, VoiceInfo, _short, check_speakable

__all__ = ["DCTTS_PREFIX", "ESPEAK_PREFIX", "VoiceInfo", "check_speakable"]   # re-exported: callers name voice ids from here
from .voice_piper import (
    BUNDLED_VOICE,
    DEFAULT_TUNING,
    PIPER_PREFIX,
    VoiceTuning,
    list_piper_voices,
    load_piper_voice,
)


@dataclass(frozen=True)
class _Tuning:
    label: str
    rate: int           # words per minute
    pitch: int          # espeak 0–99
    pitch_range: int    # espeak 0–99


# Built-in voices, narrator first. Median f0 measured on a 6 s English passage is in each label's comment.
BUILTIN_VOICES: dict[str, _Tuning] = {
    "espeak:en-gb-x-rp+m3": _Tuning("British male, calm (the narrator without Piper)", 160, 40, 40),       # ~97 Hz
    "espeak:en-us+f2": _Tuning("American female", 170, 55, 60),                         # ~208 Hz
    "espeak:en-us+m1": _Tuning("Young American male, quick", 180, 80, 60),              # ~130 Hz
    "espeak:en+f4": _Tuning("British female, bright", 165, 75, 50),                     # ~235 Hz
    "espeak:en-gb-scotland+m2": _Tuning("Scottish male", 165, 60, 50),                   # ~112 Hz
    "espeak:en-us+f3": _Tuning("American female, low", 165, 30, 50),                    # ~178 Hz
    "espeak:en+m7": _Tuning("British male, deep and slow", 145, 20, 40),                # ~81 Hz
    "espeak:en-us+f5": _Tuning("High voice, quick (child-like)", 180, 95, 60),          # ~340 Hz
}
NARRATOR_VOICE = BUNDLED_VOICE                  # the natural voice (WER ~10 % vs 23–48 % for espeak-ng)
ESPEAK_NARRATOR_VOICE = "espeak:en-gb-x-rp+m3"  # the built-in narrator when Piper is not installed
# The order other speakers receive voices in: alternating registers so neighbours in a story contrast.
SPEAKER_VOICE_ORDER: tuple[str, ...] = tuple(BUILTIN_VOICES)
# Register of each built-in voice, for casting by cues (child-like f5 counts as female)
FEMALE_VOICES: tuple[str, ...] = ("espeak:en-us+f2", "espeak:en+f4", "espeak:en-us+f3", "espeak:en-us+f5")
MALE_VOICES: tuple[str, ...] = ("espeak:en-us+m1", "espeak:en-gb-scotland+m2", "espeak:en+m7",
                                "espeak:en-gb-x-rp+m3")



class EspeakBackend:
    """A built-in espeak-ng voice. `synthesize` returns espeak's raw audio (22050 Hz) with phoneme events."""

    backend = "espeak"

    def __init__(self, voice_id: str, name: str, rate: int, pitch: int, pitch_range: int,
                 tuning: VoiceTuning = DEFAULT_TUNING) -> None:
        from modules.tts.espeak import EspeakVoice

        self.voice_id = voice_id
        self._base = (name, rate, pitch, pitch_range)
        self.tuning = tuning
        self.espeak_voice = EspeakVoice(name=name, rate=int(round(rate * tuning.speed)), pitch=pitch,
                                        pitch_range=int(min(99, round(pitch_range * tuning.variation))))

    def tuned(self, tuning: VoiceTuning) -> EspeakBackend:
        """The same voice with a speaker's speed (rate), variation (pitch range) and volume."""
        return EspeakBackend(self.voice_id, *self._base, tuning=tuning)

    def synthesize(self, text: str) -> Speech:
        from modules.tts.espeak import EspeakError, synthesize

        check_speakable(text)
        try:
            audio, sr, events = synthesize(text, self.espeak_voice)
        except EspeakError as err:
            raise ModelUnavailableError(
                f"The built-in voice {self.voice_id} failed: {err}; reinstall espeakng-loader (pip install -r "
                "requirements.txt)."
            ) from None
        phonemes = tuple(PhonemeEvent(e.sample, e.text) for e in events if e.kind == "phoneme")
        return Speech(audio.astype(np.float32) / 32768.0, sr, phonemes)

    def __repr__(self) -> str:
        return f"EspeakBackend({self.voice_id!r})"


def _builtin_info(voice_id: str, tuning: _Tuning, available: bool, note: str) -> VoiceInfo:
    return VoiceInfo(voice_id, tuning.label, "espeak", available, note)


def _espeak_status() -> tuple[bool, str]:
    from modules.tts.espeak import is_available

    if is_available():
        return True, ""
    return False, "libespeak-ng from the espeakng-loader wheel could not be loaded; pip install -r requirements.txt"


def list_voices(data_dir: Path | None = None) -> list[VoiceInfo]:
    """Every voice the studio knows: Piper voices (bundled first, then `<data>/piper`), the built-in espeak voices,
    then DC-TTS folders under `<data>/dctts` (`data_dir`: None = the data folder of `deepstory_core.paths`)."""
    ok, note = _espeak_status()
    voices = [_builtin_info(vid, t, ok, note) for vid, t in BUILTIN_VOICES.items()]
    return list_piper_voices(data_dir) + voices + list_dctts_voices(data_dir)


def _unknown(voice_id: str, why: str = "") -> InputError:
    return InputError(
        f"Unknown voice id {voice_id!r}{why}; run `python -m deepstory_core voices` to list the available ids "
        f"(e.g. {NARRATOR_VOICE})."
    )


def tune(voice: VoiceBackend, tuning: VoiceTuning | None) -> VoiceBackend:
    """`voice` with a speaker's tuning; voices without tuning controls (DC-TTS) are returned as they are."""
    if tuning is None or tuning.is_default or not hasattr(voice, "tuned"):
        return voice
    return voice.tuned(tuning)


def get_voice(voice_id: str, data_dir: Path | None = None) -> VoiceBackend:
    """A backend for `voice_id`; InputError for ids that do not exist."""
    if not isinstance(voice_id, str) or not voice_id.strip():
        raise _unknown(str(voice_id), " (empty)")
    voice_id = voice_id.strip()
    if voice_id.startswith(ESPEAK_PREFIX):
        name = voice_id[len(ESPEAK_PREFIX):]
        tuning = BUILTIN_VOICES.get(voice_id)
        if tuning is not None:
            return EspeakBackend(voice_id, name, tuning.rate, tuning.pitch, tuning.pitch_range)
        if not _espeak_voice_exists(name):
            raise _unknown(voice_id, " (espeak-ng has no such voice)")
        return EspeakBackend(voice_id, name, 165, 50, 50)
    if voice_id.startswith(DCTTS_PREFIX):
        return load_dctts_voice(voice_id, data_dir)
    if voice_id.startswith(PIPER_PREFIX):
        return load_piper_voice(voice_id, data_dir)
    raise _unknown(voice_id)


def voice_sample(voice_id: str, text: str, sample_rate: int = SAMPLE_RATE,
                 tuning: VoiceTuning | None = None) -> np.ndarray:
    """A speaker's voice with its tuning on a sample text (the Cast page's "Hear a sample"): float32 audio."""
    return synthesize_sentence(tune(get_voice(voice_id), tuning), text, sample_rate).audio


def _espeak_voice_exists(name: str) -> bool:
    """Whether espeak-ng accepts `name` (language voice, optionally +variant)."""
    if not name or any(c in name for c in "/\\\0") or ".." in name:
        return False
    from modules.tts.espeak import EspeakError, EspeakVoice, synthesize

    try:
        synthesize("", EspeakVoice(name=name))
    except EspeakError:
        return False
    return True


def synthesize_sentence(voice: VoiceBackend, text: str, sample_rate: int = SAMPLE_RATE) -> Speech:
    """One sentence → trimmed, loudness-normalised mono float32 at `sample_rate`.

    Phoneme sample positions are shifted by the trimmed lead-in, rescaled to the new rate, clipped into the audio
    and kept in order. An InputError names the sentence when the voice produces no sound for it.
    """
    if not text.strip():
        raise InputError("Cannot speak an empty sentence; remove it or write some text.")
    speech = voice.synthesize(text)
    sr_in = int(speech.sample_rate)
    raw = np.asarray(speech.audio, dtype=np.float32).reshape(-1)
    start, end = trim_bounds(raw, sr_in)
    if end <= start:
        raise InputError(
            f"The voice {getattr(voice, 'voice_id', '?')} produced no sound for the sentence "
            f"\u201c{_short(text)}\u201d; edit the sentence or choose another voice."
        )
    audio = resample(normalize_loudness(raw[start:end]), sr_in, sample_rate)
    volume = float(getattr(getattr(voice, "tuning", None), "volume", 1.0))
    if volume != 1.0:
        audio = np.clip(audio * np.float32(volume), -1.0, 1.0).astype(np.float32)
    n_out = len(audio)
    phonemes: list[PhonemeEvent] = []
    last = 0
    for event in speech.phonemes:
        s = resampled_length(max(int(event.sample) - start, 0), sr_in, sample_rate)
        s = min(max(s, last), n_out - 1)
        phonemes.append(PhonemeEvent(s, event.phoneme))
        last = s
    return Speech(audio, sample_rate, tuple(phonemes))
