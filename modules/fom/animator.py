"""Streaming motion transfer with the First Order Motion Model (Siarohin et al., NeurIPS 2019); call order of the
reference `demo.make_animation(relative=True, adapt_movement_scale=True)` (AliaksandrSiarohin/first-order-model)
and the base-frame preparation of thetobysiu/deepstory's `animator.py`.

Differences from the reference loop, all numerically neutral (to rounding): the portrait's keypoints, encoder
features and dense-motion source inputs are computed once per chunk instead of once per frame; driving keypoints
and generation run on batches of frames; base frames are scaled/padded on the device; frames stream out in
batches, so memory is bounded by the batch, not the chunk.

On a GPU (device and precision decided by `deepstory_kernel.device`): the decoder runs under fp16 autocast —
measured on the reference model, the frames stay within 2/255 of fp32, while keypoints and dense motion in fp16
(or bf16, or TF32) move them by up to half the range, so those stay strict fp32; the batch size comes from the
free memory (a first one-frame step measures the memory a frame takes); decoding the next batch and converting
the previous one run on their own threads (`deepstory_kernel.streams.background`), so the device never waits on
the encoder; `compile=True` adds torch.compile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .generator import OcclusionAwareGenerator, PreparedSource
from .keypoint_detector import KPDetector
from .normalize import movement_scale, normalize_kp

FRAME_SIZE = 256        # the vox-256 models work on 256×256 frames


@dataclass(frozen=True)
class FomAnimatorOptions:
    batch_size: int | None = 4          # driving frames per kp-detector/generator call (pays on GPU, neutral on
                                        # CPU); None: from the free CUDA memory (4 on CPU)
    relative: bool = True               # motion relative to the chunk's first driving frame (+ relative jacobian)
    adapt_movement_scale: bool = True   # rescale motion by the keypoint hull size ratio
    align_corners: bool = False         # grid_sample convention: False = reference code; True = torch 1.0 training
    channels_last: bool = True          # NHWC layout: convs are 84 % of the time; NHWC measured 1.45× vs 1.30× on CPU
    precision: str | None = None        # decoder autocast "fp16" | "bf16" | "fp32"; None: the device's default
                                        # (fp16 on CUDA, fp32 on CPU, where reduced precision is 7–9× slower)
    bf16: bool = False                  # older spelling of precision="bf16"
    compile: bool = False               # torch.compile kp/hourglass/decoder: 1st call 6–100 s, CPU +0–15 %
    overlap: bool = True                # decode / encode on their own threads while the model computes
    max_auto_batch: int = 32            # cap of the batch size chosen from free memory


def _as_tensor(array: np.ndarray | torch.Tensor) -> torch.Tensor:
    """A tensor of the array; read-only arrays (memory-mapped base frames) are copied first — one batch — so torch
    never warns that it shares memory it may not write ("The given NumPy array is not writable")."""
    if isinstance(array, np.ndarray) and not array.flags.writeable:
        array = array.copy()
    return torch.as_tensor(array)


def prepare_base_frames(frames: np.ndarray | torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 (B, 128, 96, 3) → float (B, 3, 256, 256) in [0, 1] on `device`: ×2 bilinear to 256×192
    (align_corners=False, as deepstory), zero pad 32 px left and right. Runs on the device to move only uint8."""
    x = _as_tensor(frames).to(device)
    if x.dim() != 4 or x.shape[-1] != 3:
        raise ValueError(f"base frames must be (B, H, W, 3) uint8, got {tuple(x.shape)}")
    x = x.permute(0, 3, 1, 2).float() / 255                                   # (B, 3, 128, 96)
    x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)   # (B, 3, 256, 192)
    pad = (FRAME_SIZE - x.shape[-1]) // 2
    return F.pad(x, (pad, FRAME_SIZE - x.shape[-1] - pad, 0, 0))              # (B, 3, 256, 256)


def prepare_portrait(portrait: np.ndarray | torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 (H, W, 3) any size → float (1, 3, 256, 256) in [0, 1]: bilinear resize with antialiasing (like the
    reference demo's skimage `resize`), done on the device."""
    x = _as_tensor(portrait).to(device)
    if x.dim() != 3 or x.shape[-1] < 3:
        raise ValueError(f"portrait must be (H, W, 3) uint8, got {tuple(x.shape)}")
    x = x[..., :3].permute(2, 0, 1).unsqueeze(0).float() / 255                # (1, 3, H, W)
    if tuple(x.shape[2:]) != (FRAME_SIZE, FRAME_SIZE):
        x = F.interpolate(x, size=(FRAME_SIZE, FRAME_SIZE), mode="bilinear", align_corners=False, antialias=True)
    return x.clamp_(0, 1)


def to_uint8_frames(prediction: torch.Tensor) -> np.ndarray:
    """float (B, 3, H, W) in [0, 1] → uint8 (B, H, W, 3), rounded (conversion on the device, uint8 moved)."""
    return (prediction.float() * 255).round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().cpu().numpy()


@dataclass
class _ChunkMotion:
    """Per-chunk anchor of relative motion: keypoints of the first driving frame and the hull-size scale."""

    kp_initial: dict[str, torch.Tensor] | None = None
    scale: float = 1.0


class FomAnimator:
    """`deepstory_kernel.contracts.MotionTransfer` with FOM: one chunk per `transfer` call."""

    def __init__(self, kp_detector: KPDetector, generator: OcclusionAwareGenerator,
                 options: FomAnimatorOptions = FomAnimatorOptions(), *, device: torch.device | str):
        self.device = torch.device(device)
        self.options = options
        self.kp_detector = kp_detector.to(self.device).eval()
        self.generator = generator.to(self.device).eval()
        self.generator.align_corners = options.align_corners
        from deepstory_kernel.device import default_precision

        self.precision = "bf16" if options.bf16 else (options.precision or default_precision(self.device))
        self.generator.decode_precision = self.precision
        self._step_frames = options.batch_size
        self._channels_last = options.channels_last
        layout = torch.channels_last if self._channels_last else torch.contiguous_format
        # the animator owns the layout of the modules it is given (torch's stubs lack Module.to's memory_format)
        self.kp_detector.to(memory_format=layout)  # type: ignore[call-overload]
        self.generator.to(memory_format=layout)  # type: ignore[call-overload]
        self._detect: Callable[[torch.Tensor], dict[str, torch.Tensor]] = self.kp_detector
        self._generate: Callable[..., dict[str, torch.Tensor]] = self.generator.forward_prepared
        if options.compile:
            self._detect = torch.compile(self.kp_detector)
            self.generator.compile_for_inference()

    def _layout(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self._channels_last else x

    def _context(self):
        """Inference mode, strict fp32 (no TF32) for keypoints and dense motion; the generator autocasts its
        decoder itself (`decode_precision`)."""
        import contextlib

        from deepstory_kernel.device import inference_context, strict_fp32

        stack = contextlib.ExitStack()
        stack.enter_context(inference_context(self.device, precision="fp32"))
        stack.enter_context(strict_fp32(self.device))
        return stack

    def _measured_step(self, prepared: PreparedSource, kp_source: dict[str, torch.Tensor], frames: torch.Tensor,
                       state: _ChunkMotion) -> torch.Tensor:
        """The first one-frame step on CUDA, measuring the memory a frame takes → the batch size for the rest."""
        from deepstory_kernel.device import batch_for_free_memory

        torch.cuda.synchronize(self.device)
        torch.cuda.reset_peak_memory_stats(self.device)
        before = torch.cuda.memory_allocated(self.device)
        with self._context():
            prediction = self._step(prepared, kp_source, frames[:1], state)
        per_frame = torch.cuda.max_memory_allocated(self.device) - before
        self._step_frames = batch_for_free_memory(self.device, per_frame * 1.25, limit=self.options.max_auto_batch)
        return prediction

    def animate_tensors(self, source: torch.Tensor, driving: Iterable[torch.Tensor]) -> Iterator[torch.Tensor]:
        """source float (1, 3, H, W); driving: batches float (B, 3, H, W) → predictions float (b, 3, H, W) in
        sub-batches of at most `batch_size` frames, in order.

        Motion is taken relative to the first frame of the first driving batch (the chunk's first frame). The
        inference/autocast context is entered per step, never held across a `yield`.
        """
        with self._context():
            source = self._layout(source.to(self.device))
            kp_source = self._detect(source)
            prepared = self.generator.prepare_source(source, kp_source)
        state = _ChunkMotion()
        for batch in driving:
            start = 0
            if self._step_frames is None and batch.shape[0]:
                if self.device.type == "cuda":
                    yield self._measured_step(prepared, kp_source, batch, state)
                    start = 1
                else:
                    self._step_frames = 4
            while start < batch.shape[0]:
                step = max(1, self._step_frames or 1)
                with self._context():
                    prediction = self._step(prepared, kp_source, batch[start:start + step], state)
                start += step
                yield prediction

    def _step(self, prepared: PreparedSource, kp_source: dict[str, torch.Tensor], frames: torch.Tensor,
              state: _ChunkMotion) -> torch.Tensor:
        opts = self.options
        kp_driving = self._detect(self._layout(frames.to(self.device)))
        if state.kp_initial is None:                   # the chunk's first driving frame anchors the motion
            state.kp_initial = {k: v[:1] for k, v in kp_driving.items()}
            if opts.relative and opts.adapt_movement_scale:
                state.scale = movement_scale(kp_source, state.kp_initial)
        kp_norm = normalize_kp(kp_source, kp_driving, state.kp_initial,
                               adapt_movement_scale=opts.adapt_movement_scale, use_relative_movement=opts.relative,
                               use_relative_jacobian=opts.relative, scale=state.scale)
        return self._generate(prepared, kp_norm)["prediction"]

    def transfer(self, portrait: np.ndarray, driving: Iterable[np.ndarray], *,
                 full_frame: bool = False, geometry: Any = None) -> Iterator[np.ndarray]:
        """uint8 portrait (H, W, 3) + uint8 base batches (B, 128, 96, 3) → uint8 batches (b, 256, 256, 3) of at
        most `batch_size` frames; as many frames out as in. FOM makes 256×256 clips only (no `full_frame`), and
        animates the portrait as framed: `geometry` is ignored (the caller crops the face first)."""
        if full_frame:
            raise ValueError("the FOM animator makes 256×256 clips only; full-frame needs the built-in transfer")
        source = prepare_portrait(portrait, self.device)
        prepared: Iterable[torch.Tensor] = (prepare_base_frames(batch, self.device) for batch in driving if len(batch))
        if not self.options.overlap:
            yield from (to_uint8_frames(p) for p in self.animate_tensors(source, prepared))
            return
        from deepstory_kernel.streams import background

        frames = (to_uint8_frames(p) for p in self.animate_tensors(source, background(prepared, name="fom-decode")))
        yield from background(frames, name="fom-compute")     # the caller (the encoder) runs meanwhile
