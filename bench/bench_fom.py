"""FOM: the streaming animator vs the original per-frame call order, vox-256 sizes, random weights.

The baseline re-creates `demo.make_animation(relative=True, adapt_movement_scale=True)` with this port's modules:
kp of the source and of the first frame, then per frame: kp of the frame, normalize_kp (hull areas recomputed),
generator(source, …) with the full source-side work (and the `deformed` image) every frame. The animator computes
the source side once and runs driving frames in batches. Both see the same 256² frames (base frames ×2 + pad).

    python3 bench/bench_fom.py                      # CPU, 8 frames, eager / channels_last / compile variants
    python3 bench/bench_fom.py --device cuda --batch-size 0 --precision fp16 --frames 256 \
        --variants channels_last,compile_channels_last         # GPU: batch from free VRAM, fp16 decoder
"""

from __future__ import annotations

import argparse
import copy
import functools
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from modules.fom import FomAnimator, FomAnimatorOptions, build_fom, load_fom_config, normalize_kp
from modules.fom.animator import prepare_base_frames, prepare_portrait

VOX_YAML = Path(__file__).resolve().parents[1] / "data" / "fom" / "vox-256.yaml"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def original_call_order(kp_detector, generator, source, driving):
    """Per-frame loop of the reference demo; yields one prediction (1, 3, 256, 256) per frame."""
    with torch.inference_mode():
        kp_source = kp_detector(source)
        kp_initial = kp_detector(driving[:1])
    for i in range(driving.shape[0]):
        with torch.inference_mode():
            kp_driving = kp_detector(driving[i:i + 1])
            kp_norm = normalize_kp(kp_source, kp_driving, kp_initial, adapt_movement_scale=True,
                                   use_relative_movement=True, use_relative_jacobian=True)
            prediction = generator(source, kp_driving=kp_norm, kp_source=kp_source)["prediction"]
        yield prediction


def _smooth_random(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    import cv2

    img = cv2.GaussianBlur(rng.random(shape[-3:]).astype(np.float32), (0, 0), 3)
    return (255 * (img - img.min()) / (np.ptp(img) + 1e-6)).astype(np.uint8)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--batch-size", type=int, default=1, help="0: chosen from the free CUDA memory")
    parser.add_argument("--channels-last", action="store_true", help="only the channels_last variant")
    parser.add_argument("--bf16", action="store_true", help="same as --precision bf16")
    parser.add_argument("--precision", choices=("fp32", "fp16", "bf16"), default="fp32",
                        help="the animator's decoder precision (keypoints and dense motion stay fp32)")
    parser.add_argument("--variants", default="eager,channels_last,compile_channels_last",
                        help="comma list of: eager, channels_last, compile, compile_channels_last")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    kp_detector, generator = build_fom(load_fom_config(VOX_YAML), "cpu")
    with torch.no_grad():   # a non-trivial jacobian head so the relative jacobian path does real work
        assert kp_detector.jacobian is not None
        kp_detector.jacobian.weight.normal_(0, 1e-3)
    kp_detector, generator = kp_detector.to(device), generator.to(device)
    rng = np.random.default_rng(0)
    portrait = _smooth_random(rng, (300, 300, 3))
    base = np.stack([_smooth_random(rng, (128, 96, 3)) for _ in range(args.frames)])
    source = prepare_portrait(portrait, device)
    driving = prepare_base_frames(base, device)                     # the same 256² frames for both
    print(f"device {device}, threads {args.threads}, frames {args.frames}, batch {args.batch_size}")

    variants = ["channels_last"] if args.channels_last else [v.strip() for v in args.variants.split(",") if v.strip()]
    # The machine is shared: the runs are interleaved frame by frame so that load changes hit all of them alike.
    runs: dict[str, Callable[[], Any]] = {"original": lambda: original_call_order(kp_detector, generator, source, driving)}
    warm_s: dict[str, float] = {}
    for variant in variants:
        options = FomAnimatorOptions(batch_size=args.batch_size or None, channels_last="channels_last" in variant,
                                     compile="compile" in variant, bf16=args.bf16, precision=args.precision)
        animator = FomAnimator(copy.deepcopy(kp_detector), copy.deepcopy(generator), options, device=device)
        runs[variant] = functools.partial(animator.animate_tensors, source, [driving])
    for name, make in runs.items():                      # warm-up: oneDNN primitives, allocator, torch.compile
        t0 = time.perf_counter()
        first = make()
        next(iter(first))
        _sync(device)
        warm_s[name] = time.perf_counter() - t0
    iterators = {name: iter(make()) for name, make in runs.items()}
    seconds = {name: 0.0 for name in runs}
    steps: dict[str, list[float]] = {name: [] for name in runs}      # per call, for a spike-robust median
    outputs: dict[str, list[torch.Tensor]] = {name: [] for name in runs}
    done = {name: 0 for name in runs}
    while any(done[n] < args.frames for n in runs):
        for name, it in iterators.items():
            if done[name] >= args.frames:
                continue
            t0 = time.perf_counter()
            out = next(it)
            _sync(device)
            elapsed = time.perf_counter() - t0
            seconds[name] += elapsed
            steps[name].append(elapsed / out.shape[0])
            outputs[name].append(out.float().cpu())
            done[name] += out.shape[0]
    reference = torch.cat(outputs["original"])
    t_orig = seconds["original"]
    print(f"original per-frame call order: {t_orig:.2f} s ({t_orig / args.frames:.3f} s/frame)")
    median_orig = float(np.median(steps["original"]))
    for variant in variants:
        diff = (torch.cat(outputs[variant]) - reference).abs().max().item()
        t = seconds[variant]
        print(f"animator [{variant}, {'bf16' if args.bf16 else args.precision}]: {t:.2f} s ({t / args.frames:.3f} s/frame), "
              f"warm-up {warm_s[variant]:.1f} s; speed ratio {t_orig / t:.2f}x "
              f"(median per frame {median_orig / float(np.median(steps[variant])):.2f}x); max |diff| {diff:.2e}")
    if device.type == "cuda":
        print(f"peak VRAM {torch.cuda.max_memory_allocated(device) / 2 ** 20:.0f} MiB (all variants, one process)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
