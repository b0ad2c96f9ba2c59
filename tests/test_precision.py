"""The GPU code paths, checked where a CPU can check them: reduced-precision numerics on the reference models,
the device's precision / batch-size choices, and the overlapped (threaded) frame pipeline.

Autocast is slower on CPU, but its numerics are what matter here: fp16 autocast of FOM's decoder and of all of SDA
must stay within 2 levels of 255 of the fp32 reference outputs (that is why those parts, and only those, run in
fp16 on CUDA). On CUDA the same paths run by default; GPU speed is measured by bench/bench_fom.py / bench_sda.py.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from deepstory_kernel import device as kernel_device
from deepstory_kernel.streams import background

TWO_LEVELS = 2 / 255


def test_fom_fp16_decoder_stays_within_two_levels(fom_reduced, reference_dir):
    from modules.fom import FomAnimator, FomAnimatorOptions

    kp_detector, generator, source, driving = fom_reduced
    frames = torch.load(reference_dir / "fom" / "reduced_generator_relative_adapt.pt", weights_only=True)["frames"]
    reference = torch.cat([frame["prediction"] for frame in frames])
    animator = FomAnimator(kp_detector, generator, FomAnimatorOptions(batch_size=3, precision="fp16"), device="cpu")
    try:
        prediction = torch.cat(list(animator.animate_tensors(source, [driving]))).float()
    finally:
        generator.decode_precision = "fp32"
    diff = (prediction - reference).abs()
    assert diff.max().item() <= TWO_LEVELS
    assert diff.max().item() > 1e-5          # the decoder really ran in fp16 (fp32 differs by < 3e-4 … rounding)


def test_fom_default_precision_is_fp32_on_cpu(fom_reduced):
    from modules.fom import FomAnimator, FomAnimatorOptions

    kp_detector, generator, *_ = fom_reduced
    assert FomAnimator(kp_detector, generator, FomAnimatorOptions(), device="cpu").precision == "fp32"
    assert generator.decode_precision == "fp32"


def test_fom_overlapped_transfer_gives_the_same_frames(fom_reduced):
    from modules.fom import FomAnimator, FomAnimatorOptions

    kp_detector, generator, *_ = fom_reduced
    rng = np.random.default_rng(0)
    portrait = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    base = [rng.integers(0, 256, (2, 128, 96, 3), dtype=np.uint8) for _ in range(3)]
    outputs = {}
    for overlap in (False, True):
        animator = FomAnimator(kp_detector, generator, FomAnimatorOptions(batch_size=None, overlap=overlap),
                               device="cpu")
        outputs[overlap] = np.concatenate(list(animator.transfer(portrait, iter(base))))
    assert outputs[True].shape == (6, 256, 256, 3)
    assert np.array_equal(outputs[True], outputs[False])


def test_sda_fp16_stays_within_two_levels(sda_ref):
    from modules.sda.animator import SdaAnimator, build_networks, identity_tensor
    from modules.sda.windows import speech_from_int16

    _, model, inputs, outputs = sda_ref
    out = outputs["A"]
    networks = build_networks(model, "cpu")
    speech = speech_from_int16(inputs["clipA_int16"].numpy(), int(inputs["clipA_fs"]), 8000)
    frame = identity_tensor(inputs["aligned_image_uint8_hwc"].numpy(), (32, 24))
    video = {}
    for precision in ("fp32", "fp16"):
        animator = SdaAnimator(networks, "cpu", window=5, precision=precision)
        video[precision] = torch.cat(list(animator.generate(speech, frame, out["noise"], raw=True)))
    levels = ((video["fp16"] - out["gen_video_tanh"]).abs() * 125).max().item()     # uint8 = 125·x + 125
    assert video["fp16"].dtype == torch.float32
    assert 1e-3 < levels <= 2.0
    assert ((video["fp32"] - out["gen_video_tanh"]).abs() * 125).max().item() < 0.01


def test_device_precision_and_batch_choices(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.delenv("DEEPSTORY_PRECISION", raising=False)
    assert kernel_device.default_precision(cpu) == "fp32"
    assert kernel_device.default_precision(torch.device("cuda")) == "fp16"
    monkeypatch.setenv("DEEPSTORY_PRECISION", "bf16")
    assert kernel_device.default_precision(torch.device("cuda")) == "bf16"
    monkeypatch.setenv("DEEPSTORY_PRECISION", "fp8")
    with pytest.raises(ValueError):
        kernel_device.default_precision(cpu)
    assert kernel_device.batch_for_free_memory(cpu, 1e6, default=7) == 7
    with kernel_device.inference_context(cpu, precision="fp32"):
        assert torch.is_inference_mode_enabled()


def test_background_keeps_order_bounds_memory_and_raises():
    produced = []

    def items(n, fail_at=None):
        for i in range(n):
            if i == fail_at:
                raise KeyError("broken batch")
            produced.append(i)
            yield i

    assert list(background(items(20), depth=2)) == list(range(20))
    with pytest.raises(KeyError):
        list(background(items(10, fail_at=4)))
    produced.clear()
    stream = background(items(1000), depth=2)
    next(stream)
    time.sleep(0.1)
    assert len(produced) <= 4               # ahead by at most the queue depth (+ the one in hand)
    stream.close()                           # the consumer stops early: the producer thread ends
    assert not [t for t in threading.enumerate() if t.name == "deepstory-pipeline"]
