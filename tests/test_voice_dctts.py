"""`dctts:<name>` voices: discovery under data/dctts, and the messages users get for unusable folders/files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from deepstory_core.voice_dctts import DcttsVoice, list_dctts_voices, load_dctts_voice
from deepstory_kernel.errors import InputError, ModelUnavailableError

LFS_POINTER = (b"version https://git-lfs.github.com/spec/v1\n"
               b"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 382123456\n")


def _voice_dir(data: Path, name: str, *files: str) -> Path:
    folder = data / "dctts" / name
    folder.mkdir(parents=True)
    for file in files:
        (folder / file).write_bytes(b"x")
    return folder


def _tiny_layout(monkeypatch) -> None:
    """The registry compares checkpoints with the networks' expected shapes: tiny ones for these tests."""
    import modules.dctts.loader as dl

    monkeypatch.setattr(dl, "expected_text2mel_shapes", lambda *a: {"a.weight": (2, 2)})
    monkeypatch.setattr(dl, "expected_ssrn_shapes", lambda *a: {"b.weight_g": (3, 1, 1)})


def _tiny_voice(data: Path, name: str, t2m_name: str = "t2m.pth", t2m_value: float = 0.0) -> None:
    import torch

    folder = data / "dctts" / name
    folder.mkdir(parents=True)
    torch.save({"state_dict": {"a.weight": torch.full((2, 2), t2m_value)}}, folder / t2m_name)
    torch.save({"state_dict": {"b.weight_g": torch.zeros(3, 1, 1)}}, folder / "ssrn.pth")


def test_lists_one_voice_per_complete_folder(tmp_path: Path, monkeypatch) -> None:
    from deepstory_core import registry

    registry.clear_cache()
    _tiny_layout(monkeypatch)
    monkeypatch.setenv("DEEPSTORY_CACHE_DIR", str(tmp_path / "cache"))
    _tiny_voice(tmp_path, "Geralt")
    _tiny_voice(tmp_path, "LJ", "t2m_step300k.pth")   # the original globbed t2m*.pth
    _voice_dir(tmp_path, "Half", "t2m.pth")
    _voice_dir(tmp_path, "Empty")
    _voice_dir(tmp_path, ".hidden", "t2m.pth", "ssrn.pth")
    _voice_dir(tmp_path, "Garbage", "t2m.pth", "ssrn.pth")          # both files there, but not checkpoints
    _tiny_voice(tmp_path, "NaN", t2m_value=float("nan"))             # loads, but the weights are damaged
    voices = {v.voice_id: v for v in list_dctts_voices(tmp_path)}
    assert sorted(voices) == ["dctts:Garbage", "dctts:Geralt", "dctts:Half", "dctts:LJ", "dctts:NaN"]
    assert voices["dctts:Geralt"].available and voices["dctts:Geralt"].backend == "dctts"
    assert voices["dctts:LJ"].available
    assert not voices["dctts:Half"].available and "ssrn.pth" in voices["dctts:Half"].note
    # one check: what `models` calls corrupt is never listed as available
    assert not voices["dctts:Garbage"].available and "corrupt" in voices["dctts:Garbage"].note
    assert not voices["dctts:NaN"].available and "NaN" in voices["dctts:NaN"].note
    assert list_dctts_voices(tmp_path / "nowhere") == []
    registry.clear_cache()


def test_load_voice_names_the_missing_file(tmp_path: Path) -> None:
    _voice_dir(tmp_path, "Half", "t2m.pth")
    with pytest.raises(ModelUnavailableError, match=r"dctts/Half/ssrn\.pth"):
        load_dctts_voice("dctts:Half", tmp_path)
    with pytest.raises(ModelUnavailableError, match=r"dctts/Nobody/t2m\.pth and \S*dctts/Nobody/ssrn\.pth"):
        load_dctts_voice("dctts:Nobody", tmp_path)
    for bad in ("dctts:../x", "dctts:", "dctts:a/b"):
        with pytest.raises(InputError):
            load_dctts_voice(bad, tmp_path)


def test_unreadable_weights_become_clear_errors(tmp_path: Path) -> None:
    folder = _voice_dir(tmp_path, "Broken")
    (folder / "t2m.pth").write_bytes(LFS_POINTER)
    (folder / "ssrn.pth").write_bytes(LFS_POINTER)
    voice = load_dctts_voice("dctts:Broken", tmp_path)
    assert isinstance(voice, DcttsVoice) and voice.voice_id == "dctts:Broken"
    with pytest.raises(ModelUnavailableError, match="git-LFS pointer"):
        voice.synthesize("Hello there.")
    torch.save({"state_dict": {"w": torch.zeros(3)}}, folder / "t2m.pth")
    data = (folder / "t2m.pth").read_bytes()
    (folder / "t2m.pth").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelUnavailableError, match="could not be read"):
        voice.synthesize("Hello there.")
    torch.save({"state_dict": {"w": torch.zeros(3)}}, folder / "t2m.pth")
    with pytest.raises(ModelUnavailableError, match="does not match the DCTTS layout: .*lacks 149 keys"):
        voice.synthesize("Hello there.")
    torch.save({"state_dict": {"w": torch.zeros(3)}, "hook": len}, folder / "t2m.pth")  # a pickled callable
    with pytest.raises(ModelUnavailableError, match=r"Python objects \((builtins\.)?len\) besides tensors"):
        voice.synthesize("Hello there.")


def test_swapped_checkpoints_are_named(tmp_path: Path) -> None:
    from modules.dctts.loader import expected_ssrn_shapes

    folder = _voice_dir(tmp_path, "Swapped")
    tiny = {name: torch.zeros(1) for name in expected_ssrn_shapes()}   # SSRN names where Text2Mel belongs
    torch.save({"state_dict": tiny}, folder / "t2m.pth")
    (folder / "ssrn.pth").write_bytes(LFS_POINTER)
    with pytest.raises(ModelUnavailableError, match="swapped"):
        load_dctts_voice("dctts:Swapped", tmp_path).synthesize("Hello.")


def test_text_without_letters_is_refused_before_loading(tmp_path: Path) -> None:
    folder = _voice_dir(tmp_path, "Any")
    (folder / "t2m.pth").write_bytes(LFS_POINTER)
    (folder / "ssrn.pth").write_bytes(LFS_POINTER)
    with pytest.raises(InputError, match="only speaks English letters"):
        load_dctts_voice("dctts:Any", tmp_path).synthesize("1999 — 2024!")


def test_new_weights_in_the_folder_give_new_sentence_keys(tmp_path: Path) -> None:
    from deepstory_core.stages.voice import sentence_audio_key

    folder = _voice_dir(tmp_path, "Geralt", "t2m.pth", "ssrn.pth")
    before = sentence_audio_key(load_dctts_voice("dctts:Geralt", tmp_path), "Hello there.", 22050)
    assert before == sentence_audio_key(load_dctts_voice("dctts:Geralt", tmp_path), "Hello there.", 22050)
    (folder / "t2m.pth").write_bytes(b"other weights")
    after = sentence_audio_key(load_dctts_voice("dctts:Geralt", tmp_path), "Hello there.", 22050)
    assert after != before, "replaced weights must not reuse the old voice's audio"


def test_a_voice_in_deepstory_data_is_listed_and_loaded_everywhere(tmp_path: Path, monkeypatch) -> None:
    """DEEPSTORY_DATA is honoured by the registry, the voice list and the loader alike (they once disagreed)."""
    from deepstory_core import registry
    from deepstory_core.voices import get_voice, list_voices

    data = tmp_path / "x"
    _voice_dir(data, "Alice", "t2m.pth", "ssrn.pth")
    monkeypatch.setenv("DEEPSTORY_DATA", str(data))
    assert "dctts:Alice" in [entry.backend_id for entry in registry.entries()]
    listed = {voice.voice_id: voice for voice in list_voices()}
    assert "dctts:Alice" in listed and "missing" not in listed["dctts:Alice"].note   # (fake bytes: "corrupt")
    voice = get_voice("dctts:Alice")
    assert voice.t2m_path == data / "dctts" / "Alice" / "t2m.pth"
    assert voice.ssrn_path == data / "dctts" / "Alice" / "ssrn.pth"
