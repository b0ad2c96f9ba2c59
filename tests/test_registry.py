"""Model registry checks on fabricated files, the `models` CLI, and model lifetime (ModelCache)."""

from __future__ import annotations

import collections
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from deepstory_core import registry
from deepstory_core.checkpoint_meta import read_metadata
from deepstory_core.cli.models import render_table
from deepstory_core.models import ModelCache, memory_report

REPO = Path(__file__).resolve().parents[1]
LFS_TEXT = ("version https://git-lfs.github.com/spec/v1\n"
            "oid sha256:cfd703ecb1bbbb2a81ea62a0df948627a6e4e6481e9c444fccb4a41701867ca7\nsize 221179358\n")


@pytest.fixture(autouse=True)
def _fresh_cache():
    registry.clear_cache()
    yield
    registry.clear_cache()


@pytest.fixture(scope="module")
def sda_dict(reference_dir):
    root = reference_dir / "sda"
    data = torch.load(root / "reduced_model.pt", weights_only=True)
    config = json.loads((root / "reduced_config.json").read_text())["model_dict_config"]
    data.update(config)
    data["img_size"] = tuple(config["img_size"])
    data["mean_face"] = data["mean_face"].numpy()  # as in the published file
    return data


def _sda_check(data_dir: Path):
    return registry.check(registry.sda_entry(data_dir))


def _write(path: Path, obj, legacy: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    return path


def test_missing_names_the_file(tmp_path):
    result = _sda_check(tmp_path)
    assert result.status == "missing"
    assert "data/sda/grid.dat" in result.fix or str(tmp_path / "sda" / "grid.dat") in result.fix
    assert "cannot download" in result.fix


def test_lfs_pointer(tmp_path):
    (tmp_path / "sda").mkdir()
    (tmp_path / "sda" / "grid.dat").write_text(LFS_TEXT)
    result = _sda_check(tmp_path)
    assert result.status == "lfs-pointer"
    assert "221179358" in result.message and "git-LFS" in result.message


@pytest.mark.parametrize("legacy", [True, False])
def test_correct_sda_file_is_ready(tmp_path, sda_dict, legacy):
    _write(tmp_path / "sda" / "grid.dat", sda_dict, legacy)
    result = _sda_check(tmp_path)
    assert result.status == "ready", result


@pytest.mark.parametrize("legacy", [True, False])
def test_truncated_checkpoint_is_corrupt(tmp_path, sda_dict, legacy):
    path = _write(tmp_path / "sda" / "grid.dat", sda_dict, legacy)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 1000])
    result = _sda_check(tmp_path)
    assert result.status == "corrupt", result
    with pytest.raises(Exception):
        torch.load(path, weights_only=False)  # the real loader agrees the file is broken


def test_garbage_is_corrupt(tmp_path):
    (tmp_path / "sda").mkdir()
    (tmp_path / "sda" / "grid.dat").write_bytes(b"<html>Google Drive quota exceeded</html>")
    assert _sda_check(tmp_path).status == "corrupt"


def test_wrong_shape_is_named(tmp_path, sda_dict):
    bad = dict(sda_dict)
    bad["generator"] = collections.OrderedDict(sda_dict["generator"])
    bad["generator"]["dcl.0.0.weight"] = torch.zeros(46, 128, 4, 3)
    _write(tmp_path / "sda" / "grid.dat", bad)
    result = _sda_check(tmp_path)
    assert result.status == "wrong-layout"
    assert "dcl.0.0.weight" in result.message and "[46, 128, 4, 3]" in result.message


def test_missing_entries_are_named(tmp_path, sda_dict):
    bad = {k: v for k, v in sda_dict.items() if k != "encoder_id"}
    _write(tmp_path / "sda" / "grid.dat", bad)
    result = _sda_check(tmp_path)
    assert result.status == "wrong-layout" and "encoder_id" in result.message


@pytest.mark.parametrize("legacy", [True, False])
def test_pickled_callable_is_unsafe(tmp_path, legacy):
    path = _write(tmp_path / "sda" / "grid.dat", {"audio_rate": 40000, "hook": os.system}, legacy)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
    result = _sda_check(tmp_path)
    assert result.status == "unsafe"
    assert "system" in result.message and "weights_only" in result.message


def test_metadata_reader_never_reads_weights(tmp_path, sda_dict):
    path = _write(tmp_path / "m.pt", {"w": torch.zeros(1000, 1000)})
    meta = read_metadata(path)
    assert meta["w"].shape == (1000, 1000) and meta["w"].dtype == "float32"


def _fom_sd(channels_kp: int = 40):
    kp = collections.OrderedDict({"kp.weight": torch.zeros(channels_kp, 8, 7, 7), "kp.bias": torch.zeros(channels_kp)})
    gen = collections.OrderedDict({"final.weight": torch.zeros(3, 8, 7, 7)})
    return kp, gen


@pytest.fixture
def fake_fom_layout(monkeypatch):
    expected = {"kp_detector": {"kp.weight": (40, 8, 7, 7), "kp.bias": (40,)},
                "generator": {"final.weight": (3, 8, 7, 7)}}
    monkeypatch.setattr(registry, "_fom_expected", lambda config_path: expected)


def _fom_check(tmp_path, checkpoint):
    _write(tmp_path / "fom" / "vox-cpk.pth.tar", checkpoint)
    (tmp_path / "fom" / "vox-256.yaml").write_text(
        "model_params:\n  common_params: {num_kp: 10}\n  kp_detector_params: {}\n  generator_params: {}\n")
    return registry.check(registry.fom_entry(tmp_path))


def test_fom_ready_and_extra_entries_ignored(tmp_path, fake_fom_layout):
    kp, gen = _fom_sd()
    disc = {"discs.1.down_blocks.0.conv.weight_orig": torch.zeros(64, 3, 4, 4)}
    result = _fom_check(tmp_path, {"kp_detector": kp, "generator": gen, "discriminator": disc, "epoch": 99})
    assert result.status == "ready", result


def test_fom_vox_adv_and_taichi_are_recognised(tmp_path, fake_fom_layout):
    kp, gen = _fom_sd()
    adv = {"discs.1.down_blocks.0.conv.weight": torch.zeros(64, 13, 4, 4)}
    result = _fom_check(tmp_path, {"kp_detector": kp, "generator": gen, "discriminator": adv})
    assert result.status == "wrong-layout" and "vox-adv" in result.message
    registry.clear_cache()
    taichi = {"discs.1.down_blocks.0.conv.weight": torch.zeros(64, 3, 4, 4)}
    result = _fom_check(tmp_path, {"kp_detector": kp, "generator": gen, "discriminator": taichi})
    assert result.status == "wrong-layout" and "taichi" in result.message


def test_fom_other_layout_names_section(tmp_path, fake_fom_layout):
    kp, gen = _fom_sd(channels_kp=60)
    kp["extra.weight"] = torch.zeros(2)
    result = _fom_check(tmp_path, {"kp_detector": kp, "generator": gen})
    assert result.status == "wrong-layout"
    assert "kp_detector has 1 unexpected keys" in result.message and "kp.weight is [60, 8, 7, 7]" in result.message


def test_fom_without_model_entries(tmp_path, fake_fom_layout):
    result = _fom_check(tmp_path, {"state_dict": {}})
    assert result.status == "wrong-layout" and "kp_detector" in result.message


def test_dctts_voice_wrong_and_right(tmp_path, monkeypatch):
    import modules.dctts.loader as dl

    monkeypatch.setattr(dl, "expected_text2mel_shapes", lambda *a: {"a.weight": (2, 2)})
    monkeypatch.setattr(dl, "expected_ssrn_shapes", lambda *a: {"b.weight_g": (3, 1, 1)})
    folder = tmp_path / "dctts" / "Alice"
    _write(folder / "t2m.pth", {"state_dict": {"a.weight": torch.zeros(2, 2)}, "epoch": 1})
    _write(folder / "ssrn.pth", {"state_dict": {"b.weight_g": torch.zeros(3, 1, 1)}})
    entry = registry.entry("dctts:Alice", tmp_path)
    assert registry.check(entry).status == "ready"
    registry.clear_cache()
    _write(folder / "ssrn.pth", {"state_dict": {"b.weight": torch.zeros(3, 1, 1)}})
    result = registry.check(entry)
    assert result.status == "wrong-layout" and "b.weight" in result.message


def test_results_are_cached_by_size_and_mtime(tmp_path, sda_dict, monkeypatch):
    path = _write(tmp_path / "sda" / "grid.dat", sda_dict)
    calls = []
    original = registry._check_uncached
    monkeypatch.setattr(registry, "_check_uncached", lambda *a: calls.append(1) or original(*a))
    assert _sda_check(tmp_path).status == "ready"
    assert _sda_check(tmp_path).status == "ready"
    assert len(calls) == 1
    path.write_text(LFS_TEXT)
    assert _sda_check(tmp_path).status == "lfs-pointer"
    assert len(calls) == 2


def test_models_cli_names_every_file(tmp_path):
    (tmp_path / "sda").mkdir()
    (tmp_path / "sda" / "grid.dat").write_text(LFS_TEXT)
    table = render_table(tmp_path)
    for expected in ("base:sda", "animate:fom", "face:face-alignment", "espeak:builtin", "lfs-pointer",
                     str(tmp_path / "sda" / "grid.dat"), str(tmp_path / "fom" / "vox-cpk.pth.tar"),
                     str(tmp_path / "fom" / "vox-256.yaml"), "s3fd-619a316812.pth", "2DFAN4-11f355bf06.pth.tar"):
        assert expected in table
    proc = subprocess.run([sys.executable, "-m", "deepstory_core", "models", "--data", str(tmp_path)],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert str(tmp_path / "fom" / "vox-cpk.pth.tar") in proc.stdout and "lfs-pointer" in proc.stdout


def test_model_cache_lifetime():
    cache = ModelCache()
    calls = []
    model = cache.get("base:sda", lambda: calls.append(1) or torch.zeros(10))
    assert cache.get("base:sda", lambda: calls.append(1) or torch.zeros(10)) is model and len(calls) == 1
    cache.get("animate:fom", lambda: object())
    cache.get("dctts:Alice", lambda: object())
    cache.get("face:face-alignment", lambda: object())
    assert cache.evict(except_stage="base") == ["animate:fom", "dctts:Alice"]   # the face model serves every stage
    assert cache.loaded() == ["base:sda", "face:face-alignment"]
    report = memory_report(cache.loaded())
    assert report["loaded"] == ["base:sda", "face:face-alignment"] and report["rss_mb"] > 0
    assert cache.evict() == ["base:sda", "face:face-alignment"] and cache.loaded() == []
    assert "rss_mb" in memory_report()


def test_model_cache_keeps_few_voices():
    cache = ModelCache(limits={"voice": 2})
    for name in ("A", "B", "C"):
        cache.get(f"dctts:{name}", object)
    cache.get("dctts:B", object)          # used again: C is now the least recently used but one
    cache.get("dctts:D", object)
    assert cache.loaded() == ["dctts:B", "dctts:D"]


def test_load_sda_reports_unusable_file_as_one_line(tmp_path, sda_dict):
    from deepstory_core.backends import load_sda
    from deepstory_kernel.errors import ModelUnavailableError

    path = tmp_path / "sda" / "grid.dat"
    path.parent.mkdir()
    path.write_text(LFS_TEXT)
    with pytest.raises(ModelUnavailableError, match="git-LFS pointer") as err:
        load_sda(path, "cpu")
    assert "\n" not in str(err.value)
    registry.clear_cache()
    _write(path, sda_dict)
    animator = load_sda(path, "cpu")
    assert animator.config.audio_rate == 8000
