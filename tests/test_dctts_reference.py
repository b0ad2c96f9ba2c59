"""DCTTS against the outputs of the original code (reference README, section 3).

Reduced-size networks with the saved weights must reproduce the saved Text2Mel / SSRN outputs, the 12 steps of the
original synthesis loop and Griffin-Lim; default-size networks must accept the published state-dict layout.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from modules.dctts import griffin_lim as gl
from modules.dctts.hparams import DEFAULT_HPARAMS, HParams
from modules.dctts.loader import (
    DcttsCheckpointError,
    expected_ssrn_shapes,
    expected_text2mel_shapes,
    load_dctts,
    load_into,
)
from modules.dctts.ssrn import SSRN
from modules.dctts.synthesis import default_max_steps, synthesize_mel, synthesize_wav
from modules.dctts.text import normalize_text, text_to_ids
from modules.dctts.text2mel import Text2Mel, apply_monotonic_rule

# Reference README: 1e-5 for DCTTS outputs, 1e-6 where the op order is the same. Logits carry ~1e-6 of CPU-kernel
# dependent rounding (AVX2 vs AVX512), probabilities/attention much less.
LOGIT_ATOL = 1e-5
PROB_ATOL = 1e-6
LOOP_ATOL = 2e-6  # the original itself changes earlier frames by up to 6e-7 from one step to the next


def _load(path: Path):
    return torch.load(path, map_location="cpu", weights_only=True)


def _close(actual: torch.Tensor, expected: torch.Tensor, atol: float, what: str) -> None:
    assert actual.shape == expected.shape, f"{what}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    diff = (actual.double() - expected.double()).abs().max().item()
    assert diff <= atol, f"{what}: max |diff| {diff:.3g} > {atol:g}"


@pytest.fixture(scope="module")
def ref(reference_dir: Path) -> Path:
    return reference_dir / "dctts"


@pytest.fixture()
def one_thread():
    """The reference was recorded with 1 thread; Text2Mel's convs change reduction order with more."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def reduced_hp(ref: Path) -> HParams:
    config = json.loads((ref / "reduced_config.json").read_text())
    sizes = config["reduced_hparams_patched_before_import"]
    hp = HParams(vocab=config["vocab"], e=sizes["e"], d=sizes["d"], c=sizes["c"], n_mels=sizes["n_mels"],
                 n_fft=sizes["n_fft"])
    assert hp.f_prime == config["f_prime"]
    return hp


@pytest.fixture(scope="module")
def reduced_models(ref: Path, reduced_hp: HParams) -> tuple[Text2Mel, SSRN]:
    state = _load(ref / "reduced_state_dicts.pt")
    text2mel, ssrn = Text2Mel.from_hparams(reduced_hp).eval(), SSRN.from_hparams(reduced_hp).eval()
    text2mel.load_state_dict(state["text2mel"], strict=True)
    ssrn.load_state_dict(state["ssrn"], strict=True)
    return text2mel, ssrn


# ---------------------------------------------------------------- text


def test_text_encoding_matches_reference(ref: Path) -> None:
    config = json.loads((ref / "reduced_config.json").read_text())
    assert normalize_text(config["text"]) + "E" == config["normalized_text_with_eos"]
    ids = text_to_ids(config["text"])
    assert ids.dtype == torch.int64 and ids.tolist() == [config["L"]]
    assert torch.equal(ids, _load(ref / "reduced_text2mel_teacher_forced.pt")["L"])
    assert torch.equal(ids, _load(ref / "reduced_synthesis_loop.pt")["L"])


@pytest.mark.parametrize("raw, normalized", [
    ("Wait...", "wait."),                                        # final ellipsis → full stop
    ("Well... maybe", "well, maybe"),                            # inner ellipsis → pause
    ("He said: yes; no (perhaps) - fine", "he said, yes, no, perhaps, fine"),
    ("“Don’t!” she cried—loudly.", "dont! she cried, loudly."),  # curly quotes vanish, em dash → comma
    ("Café naïve Straße 42", "cafe naive strasse"),            # ASCII transliteration, digits dropped
    ("a , , b", "a, b"),
])
def test_normalize_text_rules(raw: str, normalized: str) -> None:
    assert normalize_text(raw) == normalized


# ---------------------------------------------------------------- layouts


def _manifest(path: Path) -> dict[str, tuple[int, ...]]:
    return {name: tuple(shape) for name, shape, _dtype in json.loads(path.read_text())}


def test_default_layout_matches_published_manifests(ref: Path) -> None:
    counts = json.loads((ref / "hparams_default.json").read_text())["parameter_counts"]
    for shapes, manifest, key in ((expected_text2mel_shapes(), "manifest_text2mel_default.json", "text2mel"),
                                  (expected_ssrn_shapes(), "manifest_ssrn_default.json", "ssrn")):
        assert shapes == _manifest(ref / manifest)
        assert len(shapes) == counts[key]["state_dict_entries"]
        assert sum(math.prod(s) for s in shapes.values()) == counts[key]["parameters"]


def test_default_hparams_match_reference(ref: Path) -> None:
    published = json.loads((ref / "hparams_default.json").read_text())
    hp = DEFAULT_HPARAMS
    for field in ("vocab", "sr", "n_fft", "hop_length", "win_length", "n_mels", "e", "d", "c", "power", "n_iter",
                  "preemphasis", "max_db", "ref_db", "dropout_rate", "reduction_rate"):
        assert getattr(hp, field) == published[field], field
    assert hp.f_prime == published["f_prime_(1+n_fft//2)"]


@pytest.mark.parametrize("manifest, build", [
    ("manifest_text2mel_default.json", lambda: Text2Mel.from_hparams(DEFAULT_HPARAMS)),
    ("manifest_ssrn_default.json", lambda: SSRN.from_hparams(DEFAULT_HPARAMS)),
])
def test_default_models_load_published_state_dict_strict(ref: Path, manifest: str, build) -> None:
    """A state dict with exactly the published names and shapes loads strict (on `meta`: no memory)."""
    state = {name: torch.empty(shape, device="meta") for name, shape in _manifest(ref / manifest).items()}
    with torch.device("meta"):
        model = build()
    load_into(model, state, "meta")
    with torch.device("meta"):
        model = build()
    wrong = dict(state)
    first = next(iter(wrong))
    wrong[first] = torch.empty(*wrong[first].shape[:-1], wrong[first].shape[-1] + 1, device="meta")
    with pytest.raises(DcttsCheckpointError, match="tensors of another shape"):
        load_into(model, wrong, "meta")


def test_reduced_layout_matches_reference_manifest(ref: Path, reduced_hp: HParams) -> None:
    manifest = json.loads((ref / "reduced_manifest.json").read_text())
    with torch.device("meta"):
        ours = {"text2mel": Text2Mel.from_hparams(reduced_hp).state_dict(), "ssrn": SSRN.from_hparams(reduced_hp).state_dict()}
    for net in ("text2mel", "ssrn"):
        expected = {name: tuple(shape) for name, shape, _dtype in manifest[net]}
        assert {k: tuple(v.shape) for k, v in ours[net].items()} == expected


def test_load_dctts_reads_pytorch_dc_tts_checkpoints(ref: Path, reduced_hp: HParams, tmp_path: Path, one_thread) -> None:
    state = _load(ref / "reduced_state_dicts.pt")
    optimizer = {"state": {}, "param_groups": [{"lr": 0.005, "params": [0, 1]}]}
    torch.save({"epoch": 3, "global_step": 1200, "state_dict": state["text2mel"], "optimizer": optimizer},
               tmp_path / "t2m.pth")
    torch.save({"epoch": 3, "global_step": 1200, "state_dict": state["ssrn"], "optimizer": optimizer},
               tmp_path / "ssrn.pth")
    text2mel, ssrn = load_dctts(tmp_path / "t2m.pth", tmp_path / "ssrn.pth", "cpu", hp=reduced_hp)
    assert not text2mel.training and not ssrn.training
    saved = _load(ref / "reduced_ssrn.pt")
    with torch.inference_mode():
        _close(ssrn(saved["Y"])[1], saved["Z"], PROB_ATOL, "Z via load_dctts")
    # the default-size layout refuses these reduced weights, naming the problem
    with pytest.raises(DcttsCheckpointError, match="tensors of another shape"):
        load_dctts(tmp_path / "t2m.pth", tmp_path / "ssrn.pth", "cpu")
    torch.save({"state_dict": {"not": "weights"}}, tmp_path / "bad.pth")
    with pytest.raises(DcttsCheckpointError, match="no DCTTS state dict"):
        load_dctts(tmp_path / "bad.pth", tmp_path / "ssrn.pth", "cpu", hp=reduced_hp)


# ---------------------------------------------------------------- networks


@pytest.mark.parametrize("monotonic", [False, True])
def test_text2mel_teacher_forced(ref: Path, reduced_models, monotonic: bool, one_thread) -> None:
    text2mel, _ = reduced_models
    saved = _load(ref / "reduced_text2mel_teacher_forced.pt")
    suffix = "_monotonic" if monotonic else ""
    with torch.inference_mode():
        K, V = text2mel.text_enc(saved["L"])
        Q = text2mel.audio_enc(saved["S"])
        Y_logit, Y, A = text2mel(saved["L"], saved["S"], monotonic_attention=monotonic)
    for name, value in (("K", K), ("V", V), ("Q", Q)):
        _close(value, saved[name], PROB_ATOL, name)
    _close(Y_logit, saved["Y_logit" + suffix], LOGIT_ATOL, "Y_logit" + suffix)
    _close(Y, saved["Y" + suffix], PROB_ATOL, "Y" + suffix)
    _close(A, saved["A" + suffix], PROB_ATOL, "A" + suffix)
    assert torch.allclose(A.sum(dim=1), torch.ones(1, A.shape[2]), atol=1e-6)


def test_ssrn(ref: Path, reduced_models, one_thread) -> None:
    _, ssrn = reduced_models
    saved = _load(ref / "reduced_ssrn.pt")
    with torch.inference_mode():
        Z_logit, Z = ssrn(saved["Y"])
    _close(Z_logit, saved["Z_logit"], LOGIT_ATOL, "Z_logit")
    _close(Z, saved["Z"], PROB_ATOL, "Z")


# ---------------------------------------------------------------- synthesis loop


def test_synthesis_loop_matches_original_twelve_steps(ref: Path, reduced_models, one_thread) -> None:
    text2mel, ssrn = reduced_models
    saved = _load(ref / "reduced_synthesis_loop.pt")
    result = synthesize_mel(text2mel, saved["L"], max_steps=12)
    assert result.attended == saved["attended_index_per_step"].tolist()
    assert not result.reached_eos
    for step, expected in enumerate(saved["Y_t_per_step"]):
        # step i of the original outputs frames 0..i; ours are the mels after the leading zero frame
        _close(result.mel[:, :, 1:step + 2], expected, LOOP_ATOL, f"Y_t at step {step}")
    _close(result.mel, saved["Y_final"], LOOP_ATOL, "Y_final")
    assert torch.equal(result.mel[:, :, 0], torch.zeros(1, result.mel.shape[1]))
    _close(result.attention, saved["A_final"], LOOP_ATOL, "A_final")
    with torch.inference_mode():
        Z_logit, Z = ssrn(result.mel)
    _close(Z_logit, saved["Z_logit"], LOGIT_ATOL, "Z_logit of the loop")
    _close(Z, saved["Z"], PROB_ATOL, "Z of the loop")


def test_streaming_steps_equal_full_forward_beyond_the_receptive_field(reduced_models, one_thread) -> None:
    """80 teacher-forced frames: far past the dilation-27 taps, which 12 loop steps never reach."""
    text2mel, _ = reduced_models
    L = text_to_ids("the quick brown fox jumps over the lazy dog, again and again.")
    S = torch.rand(1, text2mel.n_mels, 80, generator=torch.Generator().manual_seed(7))
    with torch.inference_mode():
        Y_logit, Y, A = text2mel(L, S, monotonic_attention=True)
        stream = text2mel.start(L, monotonic_attention=True)
        columns = [stream.step(S[:, :, t:t + 1]) for t in range(S.shape[2])]
    _close(torch.cat([c[0] for c in columns], -1), Y_logit, LOGIT_ATOL, "streamed Y_logit")
    _close(torch.cat([c[1] for c in columns], -1), Y, PROB_ATOL, "streamed Y")
    _close(torch.cat([c[2] for c in columns], -1), A, PROB_ATOL, "streamed A")


def _monotonic_rule_one_by_one(A: torch.Tensor) -> torch.Tensor:
    """The rule written element by element, as the original states it (per batch item, per column)."""
    A = A.clone()
    B, N, T = A.shape
    for i in range(B):
        previous = -1
        for t in range(T):
            n = int(torch.argmax(A[i, :, t]))
            if not -1 <= n - previous <= 3:
                A[i, :, t] = -(2 ** 20)
                A[i, min(N - 1, previous + 1), t] = 1
            previous = int(torch.argmax(A[i, :, t]))
    return A


def test_monotonic_rule_is_batched_exactly() -> None:
    scores = torch.randn(4, 9, 60, generator=torch.Generator().manual_seed(3)) * 3
    expected = _monotonic_rule_one_by_one(scores)
    assert not torch.equal(expected, scores)  # the rule fires on this input
    ours = scores.clone()
    previous = torch.full((4,), -1, dtype=torch.int64)
    for t in range(ours.shape[2]):
        previous = apply_monotonic_rule(ours[:, :, t], previous)
    assert torch.equal(ours, expected)


def test_batched_forward_equals_single_items(reduced_models, one_thread) -> None:
    text2mel, _ = reduced_models
    L = text_to_ids("hello world.").repeat(3, 1)
    S = torch.rand(3, text2mel.n_mels, 30, generator=torch.Generator().manual_seed(5))
    with torch.inference_mode():
        batched = text2mel(L, S, monotonic_attention=True)
        for i in range(3):
            single = text2mel(L[i:i + 1], S[i:i + 1], monotonic_attention=True)
            for got, want, name in zip(batched, single, ("Y_logit", "Y", "A")):
                _close(got[i:i + 1], want, LOGIT_ATOL, f"batched {name}[{i}]")


def test_loop_stops_on_eos_and_at_the_cap(reduced_models) -> None:
    text2mel, _ = reduced_models
    only_eos = torch.tensor([[DEFAULT_HPARAMS.eos_index]])
    result = synthesize_mel(text2mel, only_eos, max_steps=50)
    assert result.reached_eos and result.attended == [0] and result.mel.shape == (1, text2mel.n_mels, 2)
    L = text_to_ids("hello world.")
    capped = synthesize_mel(text2mel, L, max_steps=5, stop_at_eos=False)
    assert capped.mel.shape[2] == 6 and capped.attention.shape == (1, L.shape[1], 5) and not capped.reached_eos
    assert default_max_steps(L.shape[1]) == 20 + 8 * 13
    assert default_max_steps(10**6) == 10000


def test_synthesize_wav_end_to_end(reduced_models, reduced_hp: HParams) -> None:
    """Text → int16 waveform through loop, SSRN and Griffin-Lim (reduced sizes; STFT sized to the reduced f')."""
    text2mel, ssrn = reduced_models
    hp = HParams(vocab=reduced_hp.vocab, e=reduced_hp.e, d=reduced_hp.d, c=reduced_hp.c, n_mels=reduced_hp.n_mels,
                 n_fft=reduced_hp.n_fft, win_length=reduced_hp.n_fft, hop_length=32, n_iter=3)
    wav = synthesize_wav(text2mel, ssrn, "hello world.", hp, max_steps=10)
    assert wav.dtype == np.int16
    assert 0 < len(wav) <= hp.hop_length * (4 * 11 - 1)


# ---------------------------------------------------------------- Griffin-Lim


@pytest.fixture(scope="module")
def gl_ref(ref: Path) -> dict:
    return _load(ref / "griffin_lim_reference.pt")


def _close_rel(actual: np.ndarray, expected: torch.Tensor, rtol: float, what: str) -> None:
    expected = expected.double().numpy()
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    err = np.abs(np.asarray(actual, dtype=np.float64) - expected).max() / np.abs(expected).max()
    assert err <= rtol, f"{what}: relative error {err:.3g} > {rtol:g}"


def test_griffin_lim_stft_conventions(gl_ref: dict) -> None:
    magnitude = gl.denormalize_magnitude(gl_ref["mag_TxF"].numpy())
    assert magnitude.dtype == np.float32
    _close_rel(magnitude, gl_ref["reflect"]["gl_input_magnitude"], 1e-6, "Griffin-Lim input magnitude")
    _close_rel(gl.griffin_lim(magnitude, n_iter=0), gl_ref["istft_of_magnitude_zero_phase"], 1e-5, "zero-phase ISTFT")
    _close_rel(gl.griffin_lim(magnitude, n_iter=1), gl_ref["gl_1_iteration_reflect"], 1e-5, "one iteration")


@pytest.mark.parametrize("mode", ["reflect", "constant"])
def test_spectrogram_to_wav_matches_original(gl_ref: dict, mode: str) -> None:
    expected = gl_ref[mode]
    steps = gl.spectrogram_to_wav_steps(gl_ref["mag_TxF"].numpy(), pad_mode=mode)
    _close_rel(steps.griffin_lim, expected["gl_output"], 1e-4, f"{mode} gl_output")
    _close_rel(steps.deemphasized, expected["after_deemphasis"], 1e-4, f"{mode} after_deemphasis")
    assert list(steps.trim_index) == expected["trim_index"].tolist()
    _close_rel(steps.trimmed, expected["after_trim"], 1e-4, f"{mode} after_trim")
    peak = np.abs(steps.trimmed * 32767).max()
    assert abs(peak - expected["max_abs_before_int16_cast"].item()) <= 1e-4 * peak
    assert steps.wav.dtype == np.int16 and steps.wav.shape == expected["wav_int16"].shape
    assert np.abs(steps.wav.astype(np.int32) - expected["wav_int16"].numpy().astype(np.int32)).max() <= 1
    if mode == "constant":
        original = gl_ref["original_spectrogram2wav_librosa_defaults_int16"].numpy().astype(np.int32)
        assert np.abs(gl.spectrogram_to_wav(gl_ref["mag_TxF"].numpy(), pad_mode="constant").astype(np.int32)
                      - original).max() <= 1


def test_trim_and_int16_edge_cases() -> None:
    # all-silent input: every frame is as loud as the loudest, so librosa keeps everything
    trimmed, index = gl.trim_silence(np.zeros(5000))
    assert index == (0, 5000) and trimmed.size == 5000
    # a burst in silence is cut to whole 512-sample frames around it
    wav = np.zeros(20000)
    wav[8000:9000] = np.sin(np.arange(1000) * 0.3)
    trimmed, (start, end) = gl.trim_silence(wav)
    assert start % 512 == 0 and start <= 8000 and end >= 9000 and end - start < 4 * 2048
    # × 32767, truncation towards zero, clipped instead of wrapping around
    assert gl.to_int16(np.array([0.5, -0.5, 1.5, -2.0])).tolist() == [16383, -16383, 32767, -32768]
