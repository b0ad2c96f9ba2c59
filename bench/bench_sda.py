"""SDA benchmark: our windowed animator vs the original's procedure, GRID size, random weights, CPU.

The original procedure (re-enacted with our modules, same layer math): int16 → scipy resample → window stack grown
with `torch.cat` in a Python loop → audio encoder on all windows → identity skips copied T times (`torch.stack`) →
the whole clip through the generator as ONE batch. Ours: strided windows, conv stack and generator per window of
frames, skips broadcast. Each measurement runs in its own subprocess so its peak RSS is its own.

    python3 bench/bench_sda.py [--seconds 60] [--short 15] [--original-seconds 60] [--threads 2]
    python3 bench/bench_sda.py --device cuda --precision fp16      # GPU: fp16 autocast, window from free VRAM
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
REFERENCE = Path(os.environ.get("DEEPSTORY_REFERENCE", REPO.parent / "shared" / "reference"))


def _build(device: str = "cpu", precision: str = "fp32"):
    import torch

    from modules.sda.animator import SdaAnimator, SdaNetworks
    from modules.sda.config import SdaConfig
    from modules.sda.encoder_audio import AudioEncoder
    from modules.sda.encoder_identity import IdentityEncoder
    from modules.sda.generator import FrameGenerator

    config = SdaConfig.from_model_dict(json.loads((REFERENCE / "sda" / "grid_config_inferred.json").read_text())["config"])
    torch.manual_seed(0)
    nets = SdaNetworks(config, AudioEncoder(config).eval(), IdentityEncoder(config).eval(),
                       FrameGenerator(config).eval(), mean_face=None)  # type: ignore[arg-type]
    for net in (nets.encoder, nets.encoder_id, nets.generator):
        net.to(device)
    return SdaAnimator(nets, device, window=None, precision=precision)   # window: from free memory on CUDA


def _audio(seconds: float):
    import numpy as np

    n = int(seconds * 25) * 882
    t = np.arange(n) / 22050
    rng = np.random.default_rng(0)
    return (0.3 * np.sin(2 * np.pi * 150 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2
            + 0.01 * rng.standard_normal(n)).astype(np.float32)


def _run_ours(seconds: float, device: str, precision: str = "fp32") -> dict:
    import numpy as np

    animator = _build(device, precision)
    audio = _audio(seconds)
    identity = np.full((128, 96, 3), 120, np.uint8)
    start = time.perf_counter()
    frames = sum(batch.shape[0] for batch in animator.animate(audio, identity, seed=1))
    return {"frames": frames, "seconds": time.perf_counter() - start}


def _cat_loop_windows(speech, window: int, stride: int):
    """The original's cutting: pad with zeros, then grow the stack with torch.cat one window at a time."""
    import torch

    pad = window - stride
    seq = torch.cat((torch.zeros(pad // 2, 1), speech.view(-1, 1), torch.zeros(pad - pad // 2, 1)), 0)
    stacked = seq.narrow(0, 0, window).unsqueeze(0)
    for i in range(1, (seq.size(0) - window) // stride + 1):
        stacked = torch.cat((stacked, seq.narrow(0, i * stride, window).unsqueeze(0)))
    return stacked


def _run_original(seconds: float, device: str) -> dict:
    import numpy as np
    import torch

    from modules.sda.animator import identity_tensor
    from modules.sda.windows import speech_from_int16

    animator = _build(device)
    nets, cfg = animator.nets, animator.config
    pcm = (_audio(seconds) * 32767).astype(np.int16)
    frame = identity_tensor(np.full((128, 96, 3), 120, np.uint8), cfg.img_size).to(device)
    start = time.perf_counter()
    with torch.no_grad():
        speech = speech_from_int16(pcm, 22050, cfg.audio_rate)
        t0 = time.perf_counter()
        windows = _cat_loop_windows(speech, cfg.audio_feat_samples, cfg.cutting_stride).to(device)
        cut_s = time.perf_counter() - t0
        total = windows.shape[0]
        z = nets.encoder(windows.view(total, cfg.audio_feat_samples))
        noise = torch.FloatTensor(1, total, cfg.aux_latent).normal_(0, 0.33).to(device)
        noise_codes, _ = nets.generator.noise_codes(noise)
        z_id, skips = nets.encoder_id(frame)
        skips = [torch.stack(total * [s[0]]) for s in skips]       # materialised once per frame, as the original
        z_id = torch.stack(total * [z_id[0]])
        latent = torch.cat([z[0], noise_codes[0], z_id], 1)
        video = nets.generator.frames(latent, list(reversed(skips)))  # one batch of T frames
        out = 125 * video.squeeze().cpu().numpy() + 125
    return {"frames": int(out.shape[0]), "seconds": time.perf_counter() - start, "cut_seconds": cut_s}


def _child(mode: str, seconds: float, device: str, threads: int, precision: str = "fp32") -> None:
    import torch

    torch.set_num_threads(threads)
    result = _run_ours(seconds, device, precision) if mode == "ours" else _run_original(seconds, device)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if device == "cuda":
        result["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2 ** 20
    print("RESULT " + json.dumps(result))


def _measure(mode: str, seconds: float, device: str, threads: int, precision: str = "fp32") -> dict:
    cmd = [sys.executable, __file__, "--child", mode, "--seconds", str(seconds), "--device", device,
           "--threads", str(threads), "--precision", precision]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise SystemExit(f"{mode} {seconds}s failed:\n{proc.stderr[-3000:]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--short", type=float, default=15.0)
    parser.add_argument("--original-seconds", type=float, default=None, help="clip length for the original path")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", choices=("fp32", "fp16", "bf16"), default="fp32", help="ours: autocast")
    parser.add_argument("--child", choices=["ours", "original"])
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.seconds, args.device, args.threads, args.precision)
        return
    orig_s = args.original_seconds or args.seconds
    ours_long = _measure("ours", args.seconds, args.device, args.threads, args.precision)
    ours_short = _measure("ours", args.short, args.device, args.threads, args.precision)
    ours_same = (ours_long if orig_s == args.seconds
                 else _measure("ours", orig_s, args.device, args.threads, args.precision))
    original = _measure("original", orig_s, args.device, args.threads)
    print(f"device {args.device}, {args.threads} threads, GRID size, random weights")
    print(f"ours     {args.short:5.0f} s clip: {ours_short['frames']:5d} frames {ours_short['seconds']:7.1f} s  "
          f"peak RSS {ours_short['peak_rss_mb']:7.0f} MB")
    print(f"ours     {args.seconds:5.0f} s clip: {ours_long['frames']:5d} frames {ours_long['seconds']:7.1f} s  "
          f"peak RSS {ours_long['peak_rss_mb']:7.0f} MB")
    print(f"original {orig_s:5.0f} s clip: {original['frames']:5d} frames {original['seconds']:7.1f} s  "
          f"peak RSS {original['peak_rss_mb']:7.0f} MB  (cat-loop windowing alone {original['cut_seconds']:.1f} s)")
    print(f"time ratio original/ours at {orig_s:.0f} s: {original['seconds'] / ours_same['seconds']:.2f}x")
    print(f"peak RSS ratio original/ours at {orig_s:.0f} s: {original['peak_rss_mb'] / ours_same['peak_rss_mb']:.2f}x")
    print(f"ours peak RSS {args.seconds:.0f} s vs {args.short:.0f} s: "
          f"{ours_long['peak_rss_mb'] / ours_short['peak_rss_mb']:.2f}x (flat = 1.0)")
    if "peak_cuda_mb" in ours_long:
        print(f"peak VRAM ours ({args.precision}) {ours_long['peak_cuda_mb']:.0f} MiB at {args.seconds:.0f} s, "
              f"{ours_short['peak_cuda_mb']:.0f} MiB at {args.short:.0f} s; original {original['peak_cuda_mb']:.0f} MiB; "
              f"ours {ours_long['frames'] / ours_long['seconds']:.0f} frames/s")


if __name__ == "__main__":
    main()
