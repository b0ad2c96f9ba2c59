"""DCTTS synthesis loop: the incremental loop vs the original `Voice.synthesize` loop, default sizes, random weights.

The baseline re-enacts the original with this port's layers: every step re-runs the whole Text2Mel (text encoder
included) on the full prefix and applies the monotonic attention with the original's Python loop over every
column (per-element `torch.max`). Both run the same number of steps on the same 20-word sentence (EOS ignored, so
the step count is fixed), same thread count, one run each.

    python3 bench/bench_dctts_loop.py                  # CPU, 1 thread, 80 steps
    python3 bench/bench_dctts_loop.py --steps 60 --threads 2
    python3 bench/bench_dctts_loop.py --device cuda --steps 200
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from modules.dctts.hparams import DEFAULT_HPARAMS
from modules.dctts.synthesis import synthesize_mel
from modules.dctts.text import text_to_ids
from modules.dctts.text2mel import Text2Mel

SENTENCE = ("The old lighthouse keeper climbed the winding stairs every night, "
            "watching ships pass safely through the dark and stormy sea.")  # 20 words


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def original_forward(model: Text2Mel, L: torch.Tensor, S: torch.Tensor):
    """Text2Mel.forward(L, S, monotonic_attention=True) with the original's Python monotonic loop."""
    K, V = model.text_enc(L)
    Q = model.audio_enc(S)
    A = torch.bmm(K.permute(0, 2, 1), Q) / math.sqrt(model.d)
    B, N, T = A.size()
    for i in range(B):
        prva: int | torch.Tensor = -1
        for t in range(T):
            _, n = torch.max(A[i, :, t], 0)
            if not (-1 <= n - prva <= 3):
                A[i, :, t] = -2 ** 20
                A[i, min(N - 1, prva + 1), t] = 1
            _, prva = torch.max(A[i, :, t], 0)
    A = F.softmax(A, dim=1)
    R = torch.bmm(V, A)
    Y_logit = model.audio_dec(torch.cat((R, Q), 1))
    return Y_logit, torch.sigmoid(Y_logit), A


def original_loop(model: Text2Mel, L: torch.Tensor, steps: int) -> tuple[torch.Tensor, list[int]]:
    """voice.py's loop (EOS check kept, but not stopping, so both loops run `steps` steps)."""
    zeros = torch.zeros(1, model.n_mels, 1, device=L.device)
    Y = zeros
    attended = []
    with torch.inference_mode():
        for _ in range(steps):
            _, Y_t, A = original_forward(model, L, Y)
            Y = torch.cat((zeros, Y_t), -1)
            attended.append(int(torch.max(A[0, :, -1], 0)[1].item()))
    return Y, attended


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=80, help="decoder steps for both loops (default 80 ≈ 4 s)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = Text2Mel.from_hparams(DEFAULT_HPARAMS).to(device).eval().requires_grad_(False)
    L = text_to_ids(SENTENCE).to(device)
    print(f"DCTTS loop, default sizes (d={DEFAULT_HPARAMS.d}), random weights, {device}, "
          f"{torch.get_num_threads()} thread(s); sentence: {len(SENTENCE.split())} words, {L.shape[1]} symbols; "
          f"{args.steps} steps each")

    synthesize_mel(model, L, max_steps=3, stop_at_eos=False)  # warm-up (lazy init, allocator)
    _sync(device)
    start, cpu_start = time.perf_counter(), time.process_time()
    ours = synthesize_mel(model, L, max_steps=args.steps, stop_at_eos=False)
    _sync(device)
    t_ours, cpu_ours = time.perf_counter() - start, time.process_time() - cpu_start

    start, cpu_start = time.perf_counter(), time.process_time()
    Y_original, attended_original = original_loop(model, L, args.steps)
    _sync(device)
    t_original, cpu_original = time.perf_counter() - start, time.process_time() - cpu_start

    diff = (ours.mel - Y_original).abs().max().item()
    same_path = sum(a == b for a, b in zip(ours.attended, attended_original))
    # CPU time is printed too: on a shared machine it is the steadier of the two figures.
    print(f"original loop : {t_original:8.2f} s wall ({1000 * t_original / args.steps:7.1f} ms/step), "
          f"{cpu_original:8.2f} s CPU")
    print(f"incremental   : {t_ours:8.2f} s wall ({1000 * t_ours / args.steps:7.1f} ms/step), {cpu_ours:8.2f} s CPU")
    print(f"speed-up      : {t_original / t_ours:8.1f}x wall, {cpu_original / cpu_ours:.1f}x CPU time")
    print(f"max |diff| of the mels: {diff:.3g}; attended positions equal on {same_path}/{args.steps} steps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
