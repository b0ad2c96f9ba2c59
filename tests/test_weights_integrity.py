"""#12 item 5: changed weights are noticed (whole-file fingerprint, cached per exact file) and damaged weights
(NaN/Inf) are reported by the registry and refused by the loader."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from deepstory_core import registry
from deepstory_core.cli import main
from deepstory_kernel.checkpoints import file_sha256, load_checkpoint, weights_fingerprint
from deepstory_kernel.errors import ModelUnavailableError


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPSTORY_CACHE_DIR", str(tmp_path / "cache"))
    registry.clear_cache()
    yield
    registry.clear_cache()


def _edit_middle_keep_size_and_mtime(path: Path) -> None:
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns


def test_fingerprint_sees_a_change_in_the_middle_with_same_size_and_mtime(tmp_path):
    weights = tmp_path / "w.pth"
    weights.write_bytes(os.urandom(5 << 20))          # 5 MiB: the middle is outside the first and last MiB
    before = weights_fingerprint([weights])
    assert weights_fingerprint([weights]) == before   # the cached hash is used for the unchanged file
    cache = json.loads((tmp_path / "cache" / "file-facts.json").read_text())
    assert [entry["facts"]["sha256"] for entry in cache.values()] == [file_sha256(weights)]
    _edit_middle_keep_size_and_mtime(weights)
    assert weights_fingerprint([weights]) != before   # the stale cache entry is not used


def test_a_stale_cache_entry_is_never_used_even_when_forged(tmp_path):
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"a" * 1000)
    real = file_sha256(weights)
    cache_file = tmp_path / "cache" / "file-facts.json"
    data = json.loads(cache_file.read_text())
    for entry in data.values():
        entry["identity"][-1] -= 1                    # another ctime: an entry of an earlier version of the file
        entry["facts"]["sha256"] = "0" * 64
    cache_file.write_text(json.dumps(data))
    assert file_sha256(weights) == real


def _tiny_voice(data: Path, value: float, monkeypatch) -> registry.RegistryEntry:
    import modules.dctts.loader as dl

    monkeypatch.setattr(dl, "expected_text2mel_shapes", lambda *a: {"a.weight": (64, 64)})
    monkeypatch.setattr(dl, "expected_ssrn_shapes", lambda *a: {"b.weight_g": (3, 1, 1)})
    folder = data / "dctts" / "Alice"
    folder.mkdir(parents=True, exist_ok=True)
    t2m = torch.zeros(64, 64)
    t2m[10, 20] = value
    torch.save({"state_dict": {"a.weight": t2m}}, folder / "t2m.pth")
    torch.save({"state_dict": {"b.weight_g": torch.zeros(3, 1, 1)}}, folder / "ssrn.pth")
    return registry.entry("dctts:Alice", data)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_registry_reports_nan_or_inf_weights_as_corrupt(tmp_path, monkeypatch, value, capsys):
    entry = _tiny_voice(tmp_path, value, monkeypatch)
    result = registry.check(entry)
    assert result.status == "corrupt" and "NaN or infinite" in result.message, result
    assert main(["models", "--data", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "dctts:Alice" in out and "corrupt" in out and "NaN or infinite" in out


def test_registry_reports_a_good_file_ready(tmp_path, monkeypatch):
    assert registry.check(_tiny_voice(tmp_path, 0.5, monkeypatch)).status == "ready"


def test_loader_refuses_nan_weights_naming_the_tensor(tmp_path):
    path = tmp_path / "m.pth"
    torch.save({"encoder": {"conv.weight": torch.tensor([1.0, float("nan")])}, "epoch": 3}, path)
    with pytest.raises(ModelUnavailableError, match=r"NaN or infinite weights in encoder\.conv\.weight"):
        load_checkpoint(path)
    torch.save({"encoder": {"conv.weight": torch.tensor([1.0, 2.0])}}, path)
    assert load_checkpoint(path)["encoder"]["conv.weight"].tolist() == [1.0, 2.0]


def test_bfloat16_and_legacy_format_are_scanned(tmp_path):
    from deepstory_core.checkpoint_meta import count_nonfinite_storages

    bad = torch.zeros(8, dtype=torch.bfloat16)
    bad[3] = float("inf")
    path = tmp_path / "legacy.pth"
    torch.save({"a": bad, "b": torch.ones(4)}, path, _use_new_zipfile_serialization=False)
    assert count_nonfinite_storages(path) == 1
    torch.save({"a": bad, "b": torch.full((4,), float("nan"))}, tmp_path / "zip.pth")
    assert count_nonfinite_storages(tmp_path / "zip.pth") == 2
