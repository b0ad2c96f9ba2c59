"""SDA port vs the original's recorded outputs (reduced model, random weights) + the product contract.

Tolerances follow the reference README (this CPU may pick other kernels than the recording machine: AVX-512 vs
AVX2 changes the last bits, so exact equality is only asserted where no float reduction is involved).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from modules.sda.align import align_face
from modules.sda.animator import (
    SdaAnimator,
    build_networks,
    frames_to_uint8,
    identity_tensor,
    load_sda,
    numpy_allowed_globals,
)
from modules.sda.config import SdaConfig
from modules.sda.encoder_audio import AudioEncoder
from modules.sda.encoder_identity import IdentityEncoder
from modules.sda.generator import FrameGenerator
from modules.sda.windows import cut_windows, speech_from_float, speech_from_int16, window_count


@pytest.fixture(scope="module")
def animator(sda_ref):
    _, model, _, _ = sda_ref
    torch.set_num_threads(1)
    return SdaAnimator(build_networks(model, "cpu"), "cpu", window=5)


def _close(actual: torch.Tensor, expected: torch.Tensor, atol: float) -> None:
    assert actual.shape == expected.shape
    diff = (actual.float() - expected.float()).abs().max().item()
    assert diff <= atol, f"max |diff| {diff} > {atol}"


@pytest.mark.parametrize("clip", ["A", "B"])
def test_every_saved_tensor(sda_ref, animator, clip):
    _, model, inputs, outputs = sda_ref
    out = outputs[clip]
    nets = animator.nets
    speech = speech_from_int16(inputs[f"clip{clip}_int16"].numpy(), int(inputs[f"clip{clip}_fs"]), 8000)
    assert torch.equal(speech.view(-1, 1), out["speech"])
    returned = (2 ** 15 * speech.view(-1, 1).numpy()).astype(np.int16)
    assert np.array_equal(returned, out["returned_audio_int16"].numpy())

    windows = cut_windows(speech, 1600, 320)
    assert torch.equal(windows, out["audio_feat_seq"][0, :, :, 0])
    with torch.inference_mode():
        codes = nets.encoder.frame_codes(windows)
        _close(codes, out["audio_frame_codes"], 1e-5)
        z, _ = nets.encoder.sequence(codes)
        _close(z, out["z"], 1e-5)
        noise_codes, _ = nets.generator.noise_codes(out["noise"])
        _close(noise_codes, out["noise_after_gru_tanh"], 1e-6)
        frame = identity_tensor(inputs["aligned_image_uint8_hwc"].numpy(), (32, 24))
        assert torch.equal(frame[0], inputs["frame_normalized_chw"])
        z_id, skips = nets.encoder_id(frame)
        _close(z_id, out["z_id"], 1e-5)
        for mine, theirs in zip(skips, out["skips"], strict=True):
            _close(mine, theirs, 5e-5)
        if "generator_dcl0_out" in out:
            latent = torch.cat([z[0], noise_codes[0], z_id.expand(32, -1)], 1)
            _close(nets.generator.dcl[0](latent.view(-1, 46, 1, 1)), out["generator_dcl0_out"], 1e-5)
        video = torch.cat(list(animator.generate(speech, frame, out["noise"], raw=True)))
        original_ops = torch.cat(list(animator.generate(speech, frame, out["noise"], raw=True, fast=False)))
    _close(video, out["gen_video_tanh"], 1e-4)
    _close(original_ops, out["gen_video_tanh"], 1e-4)
    _close(video, original_ops, 1e-5)
    _close(video * 125 + 125, out["gen_video_scaled"], 125e-4)
    expected_u8 = np.clip(out["gen_video_scaled"].numpy(), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)
    assert np.abs(frames_to_uint8(video).astype(int) - expected_u8).max() <= 1


def test_alignment_matches_original(sda_ref):
    _, model, inputs, _ = sda_ref
    aligned = align_face(inputs["raw_image_uint8_hwc"].numpy(), inputs["landmarks_68x2_xy"].numpy(),
                         model["mean_face"].numpy(), (32, 24))
    assert aligned.dtype == np.uint8
    assert np.array_equal(aligned, inputs["aligned_image_uint8_hwc"].numpy())


def test_windows_are_a_view_with_original_count():
    speech = torch.arange(10437, dtype=torch.float32)
    windows = cut_windows(speech, 1600, 320)
    assert windows.shape == (window_count(10437, 1600, 320), 1600) == (32, 1600)
    assert windows.stride() == (320, 1) and not windows.is_contiguous()  # overlapping strided view, no stacking copy
    assert torch.equal(windows[0, :640], torch.zeros(640)) and windows[0, 640].item() == 0.0
    assert torch.equal(windows[3, :], torch.nn.functional.pad(speech, (640, 640))[960:2560])


def test_full_size_grid_layout_loads_strict(reference_dir):
    root = reference_dir / "sda"
    config = SdaConfig.from_model_dict(json.loads((root / "grid_config_inferred.json").read_text())["config"])
    manifest = json.loads((root / "manifest_grid_inferred.json").read_text())
    with torch.device("meta"):
        nets = {"encoder": AudioEncoder(config), "encoder_id": IdentityEncoder(config),
                "generator": FrameGenerator(config)}
    for name, net in nets.items():
        sd = net.state_dict()
        assert [(k, list(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in sd.items()] == \
            [tuple(e) for e in manifest[name]]
        fake = {k: torch.zeros(shape, dtype=getattr(torch, dtype), device="meta") for k, shape, dtype in manifest[name]}
        net.load_state_dict(fake, strict=True, assign=True)


def test_grid_dat_style_file_loads_with_numpy_mean_face(sda_ref, tmp_path):
    _, model, _, _ = sda_ref
    data = dict(model)
    data["mean_face"] = model["mean_face"].numpy()  # the published file stores a numpy array
    path = tmp_path / "grid.dat"
    torch.save(data, path)
    with pytest.raises(Exception):
        torch.load(path, weights_only=True)  # plain weights_only refuses numpy
    anim = load_sda(path, "cpu")
    assert anim.config.audio_rate == 8000 and anim.frame_shape == (32, 24)
    assert isinstance(anim.nets.mean_face, np.ndarray) and anim.nets.mean_face.shape == (68, 2)
    allowed = [g[0] if isinstance(g, tuple) else g for g in numpy_allowed_globals()]
    assert all(type(g).__module__.startswith("numpy") or getattr(g, "__module__", "").startswith("numpy")
               for g in allowed)


@pytest.fixture(scope="module")
def product_audio():
    rng = np.random.default_rng(7)
    n = 882 * 23 + 500  # not a whole number of frames
    t = np.arange(n) / 22050
    return (0.4 * np.sin(2 * np.pi * 180 * t) * rng.uniform(0.5, 1, n)).astype(np.float32)


def test_windowed_equals_one_batch(animator, product_audio):
    speech = speech_from_float(product_audio, 22050, 8000)
    frame = identity_tensor(np.full((32, 24, 3), 128, np.uint8), (32, 24))
    noise = animator.draw_noise(23, seed=3)
    one = torch.cat(list(animator.generate(speech, frame, noise, 23, window=1000, raw=True, fast=False)))
    windowed = list(animator.generate(speech, frame, noise, 23, window=4, raw=True))
    assert [w.shape[0] for w in windowed] == [4, 4, 4, 4, 4, 3]
    _close(torch.cat(windowed), one, 1e-5)


@pytest.mark.parametrize("frames,extra", [(1, 0), (2, 881), (23, 500), (31, 1)])
def test_exact_frame_count(animator, frames, extra):
    audio = np.random.default_rng(frames).normal(0, 0.1, 882 * frames + extra).astype(np.float32)
    batches = list(animator.animate(audio, np.zeros((32, 24, 3), np.uint8), seed=1))
    assert sum(b.shape[0] for b in batches) == frames
    assert all(b.dtype == np.uint8 and b.shape[1:] == (32, 24, 3) for b in batches)


def test_seed_controls_noise(animator, product_audio):
    identity = np.full((32, 24, 3), 90, np.uint8)
    first = np.concatenate(list(animator.animate(product_audio, identity, seed=11)))
    again = np.concatenate(list(animator.animate(product_audio, identity, seed=11)))
    other = np.concatenate(list(animator.animate(product_audio, identity, seed=12)))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_float_path_matches_int16_path():
    rng = np.random.default_rng(0)
    pcm = rng.integers(-20000, 20000, 882 * 5, dtype=np.int16)
    a = speech_from_int16(pcm, 22050, 8000)
    b = speech_from_float(pcm.astype(np.float64) / 32767, 22050, 8000)
    _close(a, b, 1e-7)


def test_fast_decoder_equals_original_ops_at_grid_size(reference_dir):
    from modules.sda.generator import frames_fast, prepare_identity

    config = SdaConfig.from_model_dict(
        json.loads((reference_dir / "sda" / "grid_config_inferred.json").read_text())["config"])
    torch.manual_seed(0)
    generator, encoder_id = FrameGenerator(config).eval(), IdentityEncoder(config).eval()
    with torch.inference_mode():
        z_id, skips = encoder_id(torch.rand(1, 3, 128, 96) * 2 - 1)
        skips = list(reversed(skips))
        dynamic = torch.randn(2, config.rnn_gen_dim + config.aux_latent)
        reference = generator.frames(torch.cat([dynamic, z_id.expand(2, -1)], 1), skips)
        fast = frames_fast(generator, dynamic, prepare_identity(generator, z_id, skips))
    assert fast.shape == (2, 3, 128, 96)
    _close(fast, reference, 1e-5)


def test_engine_uses_sdas_own_alignment_when_landmarks_are_known(sda_ref, animator):
    """The render engine's identity for SDA: with 68 landmarks, the original's mean-face alignment (bit-exact)."""
    from deepstory_core.identities import aligned_identity
    from modules.face.align import FaceGeometry

    _, _, inputs, _ = sda_ref
    image = inputs["raw_image_uint8_hwc"].numpy()
    landmarks = inputs["landmarks_68x2_xy"].numpy()
    geometry = FaceGeometry(image_size=image.shape[:2], box=(0.0, 0.0, 64.0, 80.0), left_eye=tuple(landmarks[36]),
                            right_eye=tuple(landmarks[45]), method="face-alignment", landmarks=landmarks)
    identity = aligned_identity(image, "Alice", geometry, animator)
    assert np.array_equal(identity, inputs["aligned_image_uint8_hwc"].numpy())
