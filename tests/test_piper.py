"""Piper voices: the bundled natural voice, user models in data/piper (multi-speaker too), registry checks,
per-speaker tuning, artifact keys. Multi-speaker behaviour runs on a tiny model built in the test (piper_models)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from piper_models import build_model, speaker_f0
from test_voices import median_f0

from deepstory_core import registry
from deepstory_core.audio import rms_db
from deepstory_core.casting import cast_by_cues
from deepstory_core.stages.voice import sentence_audio_key
from deepstory_core.voice_piper import BUNDLED_VOICE, VoiceTuning
from deepstory_core.voices import NARRATOR_VOICE, get_voice, list_voices, synthesize_sentence, tune
from deepstory_kernel.errors import InputError, ModelUnavailableError

SHORT = "The lamp was still burning."


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("data")
    build_model(data / "piper", "tiny-multi", num_speakers=4)
    return data


@pytest.fixture(scope="module")
def joe_speech():
    return synthesize_sentence(get_voice(BUNDLED_VOICE), SHORT)


def test_the_narrator_default_is_the_bundled_piper_voice_and_it_is_listed_ready() -> None:
    assert NARRATOR_VOICE == "piper:en_US-joe-medium"
    info = next(v for v in list_voices() if v.voice_id == BUNDLED_VOICE)
    assert info.available and info.backend == "piper"
    entry = registry.entry("piper:en_US-joe-medium")
    assert registry.check(entry).ready and entry in [e for e, _ in registry.check_all()]


def test_piper_sentence_audio_is_at_the_project_rate_trimmed_normalised_with_phonemes(joe_speech) -> None:
    audio = joe_speech.audio
    assert joe_speech.sample_rate == 22050 and audio.dtype == np.float32 and audio.ndim == 1
    assert 0.8 < len(audio) / 22050 < 3.5
    assert abs(rms_db(audio) + 20) < 0.1 or np.max(np.abs(audio)) == pytest.approx(0.95, abs=1e-3)
    samples = [p.sample for p in joe_speech.phonemes]
    assert len(samples) >= 12 and samples == sorted(samples) and 0 <= samples[0] and samples[-1] < len(audio)
    names = {p.phoneme for p in joe_speech.phonemes}
    assert {"l", "m", "p"} <= names     # espeak mnemonics the viseme table knows (lamp)
    # 16 kHz project: same length ratio, events rescaled
    low = synthesize_sentence(get_voice(BUNDLED_VOICE), SHORT, sample_rate=16000)
    assert abs(len(low.audio) - len(audio) * 16000 / 22050) <= 1


def test_tuning_changes_speed_volume_and_variation_and_the_key(joe_speech) -> None:
    voice = get_voice(BUNDLED_VOICE)
    slow = synthesize_sentence(tune(voice, VoiceTuning(speed=0.7)), SHORT)
    assert len(slow.audio) > 1.2 * len(joe_speech.audio)
    quiet = synthesize_sentence(tune(voice, VoiceTuning(volume=0.5)), SHORT)
    assert np.allclose(quiet.audio, joe_speech.audio * np.float32(0.5), atol=1e-6)
    flat = synthesize_sentence(tune(voice, VoiceTuning(variation=0.0)), SHORT)
    assert not np.array_equal(flat.audio[:2000], joe_speech.audio[:2000])
    keys = {sentence_audio_key(tune(voice, t), SHORT, 22050)
            for t in (VoiceTuning(), VoiceTuning(speed=0.7), VoiceTuning(volume=0.5), VoiceTuning(variation=0.0))}
    assert len(keys) == 4
    with pytest.raises(InputError, match="speed must be a number from 0.5 to 2.0"):
        VoiceTuning(speed=3.0)


def test_multi_speaker_model_gives_each_speaker_a_distinct_voice(data_dir: Path) -> None:
    ids = [v.voice_id for v in list_voices(data_dir) if v.voice_id.startswith("piper:tiny-multi")]
    assert ids == [f"piper:tiny-multi#{k}" for k in range(4)]
    f0 = {}
    for sid in range(4):
        speech = synthesize_sentence(get_voice(f"piper:tiny-multi#{sid}", data_dir), "Hello there, my friend.")
        f0[sid] = median_f0(speech.audio, speech.sample_rate)
        assert f0[sid] == pytest.approx(speaker_f0(sid), rel=0.05)
    values = sorted(f0.values())
    assert all(b / a > 1.15 for a, b in zip(values, values[1:]))
    # speaker names from the config's speaker_id_map work too
    by_name = synthesize_sentence(get_voice("piper:tiny-multi#reader2", data_dir), "Hello there, my friend.")
    assert median_f0(by_name.audio, 22050) == pytest.approx(f0[2], rel=0.01)
    with pytest.raises(InputError, match="speakers 0 to 3"):
        get_voice("piper:tiny-multi#9", data_dir)


def test_default_casting_uses_the_speakers_of_a_multi_speaker_model_by_measured_register(data_dir: Path) -> None:
    # the tiny model's speakers 0, 1 speak at 110 / 138 Hz (male register), 2, 3 at 172 / 215 Hz (female)
    cast = cast_by_cues(["Narrator", "Mara", "Father", "Mother", "Tom", "Robot"], "Narrator", (), data_dir)
    assert cast["Narrator"] == NARRATOR_VOICE
    assert cast["Mara"] == "piper:tiny-multi#2" and cast["Mother"] == "piper:tiny-multi#3"
    assert cast["Father"] == "piper:tiny-multi#0" and cast["Tom"] == "piper:tiny-multi#1"
    assert cast["Robot"].startswith("piper:tiny-multi#")


def test_keys_include_the_voice_files_fingerprint(data_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "data"
    shutil.copytree(data_dir, copy)
    before = sentence_audio_key(get_voice("piper:tiny-multi#1", copy), SHORT, 22050)
    config = copy / "piper" / "tiny-multi.onnx.json"
    config.write_text(config.read_text().replace('"reader0"', '"reader-zero"'))
    after = sentence_audio_key(get_voice("piper:tiny-multi#1", copy), SHORT, 22050)
    assert before != after
    other_speaker = sentence_audio_key(get_voice("piper:tiny-multi#2", copy), SHORT, 22050)
    assert other_speaker != after


@pytest.mark.parametrize("damage, status, message", [
    ("missing-model", "missing", "tiny-multi.onnx is missing"),
    ("missing-config", "missing", "tiny-multi.onnx.json is missing"),
    ("lfs", "lfs-pointer", "git-LFS pointer"),
    ("truncated", "corrupt", "truncated or not an ONNX model"),
    ("bad-config", "wrong-layout", "has no 'phoneme_id_map'"),
    ("not-piper", "wrong-layout", "not a Piper voice"),
])
def test_registry_names_what_is_wrong_with_a_piper_voice(data_dir: Path, tmp_path: Path, damage: str,
                                                         status: str, message: str) -> None:
    data = tmp_path / "data"
    shutil.copytree(data_dir, data)
    model, config = data / "piper" / "tiny-multi.onnx", data / "piper" / "tiny-multi.onnx.json"
    if damage == "missing-model":
        model.unlink()
    elif damage == "missing-config":
        config.unlink()
    elif damage == "lfs":
        model.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 63201294\n")
    elif damage == "truncated":
        model.write_bytes(model.read_bytes()[:700])
    elif damage == "bad-config":
        config.write_text(config.read_text().replace('"phoneme_id_map"', '"phoneme_ids"'))
    elif damage == "not-piper":
        import onnx
        from onnx import TensorProto, helper

        graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
        onnx.save(helper.make_model(graph), str(model))
    result = registry.check(registry.piper_entry("tiny-multi", data))
    assert result.status == status and message in result.message and result.fix
    with pytest.raises(ModelUnavailableError, match=r"Piper voice tiny-multi: .*") as info:
        get_voice("piper:tiny-multi#1", data)
    assert "\n" not in str(info.value) and message in str(info.value)
    listed = [v for v in list_voices(data) if v.voice_id.startswith("piper:tiny-multi")]
    assert len(listed) == 1 and not listed[0].available and message in listed[0].note


def test_invalid_piper_ids_are_refused_clearly() -> None:
    for bad in ("piper:", "piper:../etc/passwd", "piper:a/b"):
        with pytest.raises(InputError, match="Invalid Piper voice id"):
            get_voice(bad)
    with pytest.raises(ModelUnavailableError, match="nonexistent.onnx is missing"):
        get_voice("piper:nonexistent")
    with pytest.raises(InputError, match="has only one"):
        get_voice("piper:en_US-joe-medium#3")
