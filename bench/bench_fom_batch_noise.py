"""How far do FOM's batched predictions drift from the per-frame ones? (float32 summation order, not a bug)

The reference vectors were made one frame at a time; our animator runs frames in batches, and conv/matmul kernels
sum in a different order for another batch size (or memory layout), which moves float32 results by a few ulps
that the network amplifies. This measures that noise on the reduced reference network — its weights, and freshly
initialised weights — with the reference inputs and random inputs of several seeds, for batches of 2, 3 and 6 in
NCHW and channels_last, against the per-frame call order of the original demo (how the golden vectors were made;
batch 1 NCHW must equal it bit for bit). The batched tolerance of
tests/test_fom_reference.py is set from the largest value printed here.

    python bench/bench_fom_batch_noise.py [--seeds 8]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from bench_fom import _smooth_random, original_call_order  # noqa: E402

from modules.fom import FomAnimator, FomAnimatorOptions, build_fom, fom_config_from_dict  # noqa: E402

REFERENCE = Path(os.environ.get("DEEPSTORY_REFERENCE", REPO.parent / "shared" / "reference")) / "fom"


def predictions(kp, gen, source, driving, batch: int, channels_last: bool) -> torch.Tensor:
    animator = FomAnimator(kp, gen, FomAnimatorOptions(batch_size=batch, channels_last=channels_last), device="cpu")
    out = torch.cat(list(animator.animate_tensors(source, [driving])))
    kp.to(memory_format=torch.contiguous_format)   # the animator set the layout of the shared modules
    gen.to(memory_format=torch.contiguous_format)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = fom_config_from_dict(json.loads((REFERENCE / "reduced_config.json").read_text())["model_params"])
    state = torch.load(REFERENCE / "reduced_state_dicts.pt", weights_only=True)
    inputs = torch.load(REFERENCE / "reduced_inputs.pt", weights_only=True)
    ref_source = inputs["source_image_hwc"][None].permute(0, 3, 1, 2)
    ref_driving = inputs["driving_video_thwc"].permute(0, 3, 1, 2)
    frames = torch.load(REFERENCE / "reduced_generator_relative_adapt.pt", weights_only=True)["frames"]

    worst = 0.0
    cases: list[tuple[str, str, int | None]] = [("reference weights", "reference inputs", None)]
    cases += [("reference weights", f"random inputs seed {s}", s) for s in range(args.seeds)]
    cases += [(f"random weights seed {s}", f"random inputs seed {s}", s) for s in range(args.seeds // 2)]
    for weights, what, seed in cases:
        kp, gen = build_fom(config)
        if weights == "reference weights":
            kp.load_state_dict(state["kp_detector"], strict=True)
            gen.load_state_dict(state["generator"], strict=True)
        else:
            torch.manual_seed(1000 + (seed or 0))
            kp, gen = build_fom(config)
        kp.eval()
        gen.eval()
        if seed is None:
            source, driving = ref_source, ref_driving
        else:
            rng = np.random.default_rng(seed)   # smooth random images (blurred noise), like bench_fom.py
            source = torch.from_numpy(_smooth_random(rng, (64, 64, 3))).permute(2, 0, 1)[None].float() / 255
            driving = torch.stack([torch.from_numpy(_smooth_random(rng, (64, 64, 3))).permute(2, 0, 1).float() / 255
                                   for _ in range(ref_driving.shape[0])])
        per_frame = torch.cat(list(original_call_order(kp, gen, source, driving)))   # how the references were made
        single = predictions(kp, gen, source, driving, 1, False)
        exact = (single - per_frame).abs().max().item()
        if seed is None:
            golden = max((per_frame[i:i + 1] - f["prediction"]).abs().max().item() for i, f in enumerate(frames))
            print(f"per-frame call order here vs the golden vectors (another machine): max |diff| = {golden:.3g}")
        diffs = {}
        for batch in (2, 3, 6):
            for channels_last in (False, True):
                out = predictions(kp, gen, source, driving, batch, channels_last)
                diffs[(batch, channels_last)] = (out - per_frame).abs().max().item()
        largest = max(diffs.values())
        worst = max(worst, largest)
        detail = "  ".join(f"b{b}{'/cl' if cl else ''}={d:.2g}" for (b, cl), d in diffs.items())
        print(f"{weights:>22}, {what:<22} batch 1 NCHW {exact:.3g}   batched max {largest:.3g}   {detail}")
    print(f"largest batch-order difference over all cases: {worst:.3g}")


if __name__ == "__main__":
    main()
