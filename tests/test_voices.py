"""Built-in voices: distinct pitch, sentence audio at the project rate, phoneme timing, errors, the CLI."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from deepstory_core.audio import resampled_length, rms_db
from deepstory_core.casting import default_voices
from deepstory_core.cli import main
from deepstory_core.voices import (
    BUILTIN_VOICES,
    MALE_VOICES,
    NARRATOR_VOICE,
    VoiceInfo,
    get_voice,
    list_voices,
    synthesize_sentence,
)
from deepstory_kernel.contracts import PhonemeEvent, Speech
from deepstory_kernel.errors import InputError

TEXT = "The quick brown fox jumps over the lazy dog, and Alice was beginning to get very tired."


def median_f0(audio: np.ndarray, sr: int) -> float:
    """Median autocorrelation pitch of voiced 40 ms frames (60–500 Hz), the one casting measures speakers with."""
    from deepstory_core.casting import median_pitch

    pitch = median_pitch(audio, sr)
    assert pitch > 0, "no voiced frames"
    return pitch


@pytest.fixture(scope="module")
def builtin_speech() -> dict[str, Speech]:
    return {vid: synthesize_sentence(get_voice(vid), TEXT) for vid in BUILTIN_VOICES}


def test_at_least_six_builtin_voices_are_listed_and_available() -> None:
    infos = list_voices()
    builtin = [v for v in infos if v.backend == "espeak"]
    assert len(builtin) >= 6
    assert all(isinstance(v, VoiceInfo) and v.available and v.label for v in builtin)
    ids = [v.voice_id for v in infos]
    assert len(ids) == len(set(ids))
    assert NARRATOR_VOICE in ids
    assert all(v.voice_id.startswith("espeak:") for v in builtin)


def test_builtin_voices_have_clearly_different_pitch(builtin_speech: dict[str, Speech]) -> None:
    f0 = {vid: median_f0(s.audio, s.sample_rate) for vid, s in builtin_speech.items()}
    for (a, fa), (b, fb) in itertools.combinations(f0.items(), 2):
        assert max(fa, fb) / min(fa, fb) > 1.08, f"{a} ({fa:.0f} Hz) and {b} ({fb:.0f} Hz) sound alike"
    assert max(f0.values()) / min(f0.values()) > 2.5


def test_sentence_audio_is_trimmed_normalised_and_at_the_project_rate(builtin_speech: dict[str, Speech]) -> None:
    for vid, speech in builtin_speech.items():
        audio = speech.audio
        assert speech.sample_rate == 22050 and audio.dtype == np.float32 and audio.ndim == 1
        assert 3.0 < len(audio) / 22050 < 8.0
        level = rms_db(audio)
        assert -20.05 < level or np.max(np.abs(audio)) == pytest.approx(0.95, abs=1e-3), vid
        assert level < -19.95 and np.max(np.abs(audio)) <= 0.95 + 1e-6
        # trimmed: sound within the first and last 60 ms
        edge = int(0.06 * 22050)
        peak = np.max(np.abs(audio))
        assert np.max(np.abs(audio[:edge])) > 0.01 * peak, vid
        assert np.max(np.abs(audio[-edge:])) > 0.01 * peak, vid


def test_phoneme_events_are_ordered_and_inside_the_audio(builtin_speech: dict[str, Speech]) -> None:
    for vid, speech in builtin_speech.items():
        samples = [p.sample for p in speech.phonemes]
        assert len(samples) > 30, vid
        assert samples == sorted(samples)
        assert 0 <= samples[0] and samples[-1] < len(speech.audio)
        spoken = [p for p in speech.phonemes if not p.phoneme.startswith("_")]
        assert spoken[-1].sample > len(speech.audio) * 0.8   # events span the sentence, not just its start


class Replay:
    """A real espeak output, recorded once and replayed (espeak-ng itself jitters by a few ms between calls)."""

    def __init__(self, voice_id: str, text: str) -> None:
        self.voice_id = voice_id
        self.speech = get_voice(voice_id).synthesize(text)

    def synthesize(self, text: str) -> Speech:
        return self.speech


def test_other_sample_rate_rescales_audio_and_phonemes() -> None:
    voice = Replay(NARRATOR_VOICE, "Who are you?")
    a = synthesize_sentence(voice, "Who are you?")
    b = synthesize_sentence(voice, "Who are you?", sample_rate=16000)
    assert b.sample_rate == 16000
    assert len(b.audio) == resampled_length(len(a.audio), 22050, 16000)
    assert [p.phoneme for p in a.phonemes] == [p.phoneme for p in b.phonemes]
    for pa, pb in zip(a.phonemes[:-1], b.phonemes[:-1]):
        assert abs(pb.sample - pa.sample * 16000 / 22050) <= 1


class ToneVoice:
    """A real (non-espeak) backend: 0.5 s silence, then a 1 s tone at 16 kHz, phonemes at known samples."""

    voice_id = "test:tone"

    def synthesize(self, text: str) -> Speech:
        sr = 16000
        t = np.arange(sr) / sr
        audio = np.concatenate([np.zeros(sr // 2), 0.05 * np.sin(2 * np.pi * 220 * t), np.zeros(sr // 4)])
        events = (PhonemeEvent(0, "_"), PhonemeEvent(8000, "a"), PhonemeEvent(16000, "b"), PhonemeEvent(28000, "_"))
        return Speech(audio.astype(np.float32), sr, events)


def test_phonemes_follow_the_trim_and_the_resampling() -> None:
    speech = synthesize_sentence(ToneVoice(), "anything")
    assert speech.sample_rate == 22050
    assert abs(len(speech.audio) / 22050 - 1.0) < 0.1          # the silences are gone
    assert abs(rms_db(speech.audio) + 20) < 0.05
    by_name = {p.phoneme: p.sample for p in speech.phonemes[1:3]}
    lead_in = by_name["a"] * 16000 / 22050                      # what the trim kept before the tone (16 kHz samples)
    assert 0 <= lead_in < 0.06 * 16000
    assert abs((by_name["b"] - by_name["a"]) - 8000 * 22050 / 16000) <= 2
    assert speech.phonemes[0].sample == 0
    assert speech.phonemes[-1].sample == len(speech.audio) - 1  # clipped into the audio


@pytest.mark.parametrize(
    "text, problem",
    [("你好，世界。", "no Latin letters"), ("Привет, как дела?", "no Latin letters"), ("... — !", "no letters or digits"),
     ("🙂🙂", "no letters or digits")],
)
def test_unspeakable_text_names_the_sentence(text: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem) as err:
        synthesize_sentence(get_voice(NARRATOR_VOICE), text)
    assert text in str(err.value)


def test_unspeakable_long_sentence_is_truncated_in_the_message() -> None:
    with pytest.raises(InputError) as err:
        synthesize_sentence(get_voice(NARRATOR_VOICE), "Привет " * 40)
    assert "…" in str(err.value) and len(str(err.value)) < 300


def test_mixed_script_and_digits_are_spoken() -> None:
    assert len(synthesize_sentence(get_voice(NARRATOR_VOICE), "42").audio) > 2000
    assert len(synthesize_sentence(get_voice(NARRATOR_VOICE), "Café au lait, 東京.").audio) > 2000


@pytest.mark.parametrize("bad", ["espeak:nope", "espeak:../../etc/passwd", "bogus", "", "Alice"])
def test_unknown_voice_id_says_how_to_list_voices(bad: str) -> None:
    with pytest.raises(InputError, match=r"Unknown voice id .*python -m deepstory_core voices"):
        get_voice(bad)


def test_any_espeak_voice_name_is_accepted() -> None:
    voice = get_voice("espeak:en-029+m4")
    assert voice.voice_id == "espeak:en-029+m4"
    assert len(synthesize_sentence(voice, "Hello there.").audio) > 5000


def test_default_voices_fix_the_narrator_and_separate_everyone_else() -> None:
    speakers = ["Alice", "Narrator", "Caterpillar", "Hatter", "Alice", "Queen", "King", "Dodo", "Mouse"]
    cast = default_voices(speakers, "Narrator")
    assert cast["Narrator"] == NARRATOR_VOICE
    others = [cast[s] for s in dict.fromkeys(speakers) if s != "Narrator"]
    assert len(others) == 7 and len(set(others)) == 7 and NARRATOR_VOICE not in others
    assert default_voices(["Bob"], "Narrator")["Bob"] in MALE_VOICES      # a first name cues the register
    assert default_voices(["Narrator", "Bob"], "Narrator")["Narrator"] == NARRATOR_VOICE
    assert set(default_voices(speakers, "Narrator").values()) - {NARRATOR_VOICE} <= set(BUILTIN_VOICES)
    assert default_voices(speakers, "Narrator") == cast                  # deterministic


def test_synthesis_is_thread_safe() -> None:
    voices = [get_voice(v) for v in list(BUILTIN_VOICES)[:4]]
    texts = ["Off with her head!", "Who are you?", "Curiouser and curiouser.", "I'm late!"]
    expected = [synthesize_sentence(v, t) for v, t in zip(voices, texts)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda vt: synthesize_sentence(*vt), list(zip(voices, texts)) * 3))
    for i, speech in enumerate(got):
        want = expected[i % 4]
        # reproducible voices: identical samples, whatever the other threads spoke in between
        assert speech.phonemes == want.phonemes
        assert np.array_equal(speech.audio, want.audio)


def test_voices_cli_lists_ids_labels_and_availability(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["voices"]) == 0
    out = capsys.readouterr().out
    for vid in BUILTIN_VOICES:
        line = next(l for l in out.splitlines() if l.startswith(vid + " "))
        assert "available" in line and BUILTIN_VOICES[vid].label in line
    assert "narrator default" in out
