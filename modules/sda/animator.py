"""SDA as a base animator: chunk audio + aligned identity face → 128×96 talking-face frames, streamed in windows.

Differences from the original `VideoAnimator.__call__` (same numbers, bounded memory):
* windows are a strided view (linear time), and the conv stack / generator run WINDOW frames at a time, so memory
  is bounded by the window, not the clip; the two GRUs (audio, noise) are cheap and run once over the whole clip;
* the identity skips are computed once and broadcast per window (the original copies them T times);
* the noise comes from a `torch.Generator` seeded with the chunk seed (the original uses the global RNG).

On a GPU (device and precision from `deepstory_kernel.device`): the whole generation runs under fp16 autocast —
measured on the reference model, frames move by at most ~1 level of 255 (bf16: 8, so not bf16) — and the window
grows to what the free memory holds (frames per batch change nothing but speed: `test_windowed_equals_one_batch`).
The decoder already runs channels_last (`generator.frames_fast`).

Frame count: the contract is exactly `len(audio) // 882` frames. After resampling, the model-rate speech is
zero-padded on the right to `frames * cutting_stride` samples when `int()` truncation made it shorter (the original
pads the tail with zeros anyway, so every frame it would produce is unchanged) and extra windows are dropped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from deepstory_kernel.checkpoints import load_checkpoint
from deepstory_kernel.contracts import PhonemeEvent
from deepstory_kernel.device import inference
from deepstory_kernel.media import SAMPLE_RATE, SAMPLES_PER_FRAME

from .align import align_face
from .config import SdaConfig
from .encoder_audio import AudioEncoder
from .encoder_identity import IdentityEncoder
from .generator import FrameGenerator, frames_fast, prepare_identity
from .windows import cut_windows, speech_from_float

NOISE_STD = 0.33
DEFAULT_WINDOW = 128  # frames per generator batch: ~250 MB of activations at GRID size; larger batches run faster per frame on CPU
WINDOW_BYTES_PER_FRAME = 2.5e6   # activations per GRID frame in fp32 (250 MB / 128 frames, with margin)
MAX_GPU_WINDOW = 1024


def numpy_allowed_globals() -> list[Any]:
    """The numpy types a pickled float ndarray needs under `weights_only=True` — nothing more.

    Found empirically: `_reconstruct`, `ndarray`, `dtype` and the concrete dtype class. Files written with numpy 1.x
    name `numpy.core.multiarray._reconstruct`; numpy 2 names `numpy._core...`; both spellings are allowed.
    """
    from numpy._core import multiarray

    return [
        multiarray._reconstruct,
        (multiarray._reconstruct, "numpy.core.multiarray._reconstruct"),  # numpy 1.x spelling (the 2019 files)
        np.ndarray,
        np.dtype,
        np.dtypes.Float32DType,  # numpy 2 pickles name the dtype class; the mean face is float32
    ]


def load_sda_dict(path: str | os.PathLike[str]) -> dict[str, Any]:
    """`grid.dat` → the raw dict (config values, 3 state dicts, numpy `mean_face`), loaded with weights_only."""
    return load_checkpoint(path, allowed_globals=numpy_allowed_globals())


@dataclass
class SdaNetworks:
    config: SdaConfig
    encoder: AudioEncoder
    encoder_id: IdentityEncoder
    generator: FrameGenerator
    mean_face: np.ndarray  # (68, 2) x, y in the model's frame


def build_networks(model_dict: Mapping[str, Any], device: torch.device | str = "cpu") -> SdaNetworks:
    """Build the three networks from a grid.dat-style dict and load their state dicts strictly."""
    config = SdaConfig.from_model_dict(model_dict)
    encoder, encoder_id, generator = AudioEncoder(config), IdentityEncoder(config), FrameGenerator(config)
    for name, net in (("encoder", encoder), ("encoder_id", encoder_id), ("generator", generator)):
        net.load_state_dict(model_dict[name], strict=True)
        net.to(device).eval()
    mean_face = model_dict["mean_face"]
    mean_face = mean_face.numpy() if isinstance(mean_face, torch.Tensor) else np.asarray(mean_face)
    return SdaNetworks(config, encoder, encoder_id, generator, mean_face)


def identity_tensor(identity: np.ndarray, img_size: tuple[int, int]) -> torch.Tensor:
    """uint8 (H, W, 3) → (1, 3, h, w) float in [-1, 1], as the original's torchvision transform (PIL bilinear resize,
    a no-op at the model's size, /255, (x − 0.5) / 0.5)."""
    h, w = img_size
    image = np.ascontiguousarray(identity, dtype=np.uint8)
    if image.shape[:2] != (h, w):
        image = np.asarray(Image.fromarray(image, "RGB").resize((w, h), Image.Resampling.BILINEAR))
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div(255)
    return x.sub(0.5).div(0.5).unsqueeze(0)


def frames_to_uint8(video_tanh: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) tanh output → uint8 (B, H, W, 3) with the original's 125·x + 125 scaling (clipped, truncated)."""
    scaled = video_tanh * 125 + 125
    return scaled.clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().cpu().numpy()


class SdaAnimator:
    """`BaseAnimator` backed by a loaded SDA model (e.g. GRID)."""

    def __init__(self, networks: SdaNetworks, device: torch.device | str, window: int | None = DEFAULT_WINDOW,
                 precision: str | None = None) -> None:
        """`window` None: from the free CUDA memory (DEFAULT_WINDOW elsewhere); `precision` None: the device's
        default (fp16 on CUDA, fp32 on CPU)."""
        from deepstory_kernel.device import batch_for_free_memory, default_precision

        self.nets = networks
        self.config = networks.config
        self.device = torch.device(device)
        self.precision = precision or default_precision(self.device)
        self.window = int(window) if window else batch_for_free_memory(
            self.device, WINDOW_BYTES_PER_FRAME, limit=MAX_GPU_WINDOW, default=DEFAULT_WINDOW)

    @property
    def frame_shape(self) -> tuple[int, int]:
        return self.config.img_size

    def align(self, image: np.ndarray, landmarks_xy: np.ndarray) -> np.ndarray:
        """Photo + 68 landmarks → the identity frame this model expects (aligned to its mean face)."""
        return align_face(image, landmarks_xy, self.nets.mean_face, self.config.img_size)

    def draw_noise(self, num_frames: int, seed: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(int(seed))
        return torch.randn(1, num_frames, self.config.aux_latent, generator=gen).mul_(NOISE_STD)

    def animate(self, audio: np.ndarray, identity: np.ndarray, seed: int,
                phonemes: Sequence[PhonemeEvent] = (), *, style: object = None) -> Iterator[np.ndarray]:
        """float32 mono at 22050 Hz → batches uint8 (B, H, W, 3), exactly len(audio) // 882 frames in total.
        `style` (the cast's motion sliders) is ignored: SDA's motion comes from its network."""
        num_frames = len(audio) // SAMPLES_PER_FRAME
        if num_frames == 0:
            return
        speech = speech_from_float(audio, SAMPLE_RATE, self.config.audio_rate)
        noise = self.draw_noise(num_frames, seed)
        yield from self.generate(speech, identity_tensor(identity, self.config.img_size), noise, num_frames)

    @inference
    def generate(self, speech: torch.Tensor, frame: torch.Tensor, noise: torch.Tensor,
                 num_frames: int | None = None, window: int | None = None,
                 raw: bool = False, fast: bool = True) -> Iterator[Any]:
        """Model-rate speech (N,), normalised identity (1, 3, h, w), noise (1, ≥T, aux) → frame batches.

        `raw=True` yields the tanh tensors (B, 3, h, w) instead of uint8 images (for reference checks);
        `fast=False` runs the decoder with the original's ops (see generator.py; equal up to float rounding).
        """
        from deepstory_kernel.device import autocast

        cfg, nets, dev = self.config, self.nets, self.device
        window = int(window or self.window)
        reduced = autocast(dev, self.precision)       # entered per step, never held across a `yield`
        stride = cfg.cutting_stride
        speech = speech.reshape(-1)
        if num_frames is not None and speech.numel() < num_frames * stride:
            speech = torch.nn.functional.pad(speech, (0, num_frames * stride - speech.numel()))
        windows = cut_windows(speech, cfg.audio_feat_samples, stride)
        total = windows.shape[0] if num_frames is None else num_frames
        windows = windows[:total]

        with reduced:
            codes = torch.cat([nets.encoder.frame_codes(windows[i:i + window].to(dev))
                               for i in range(0, total, window)])
            z, _ = nets.encoder.sequence(codes)                                  # (1, T, rnn_gen_dim), once: small
            noise_codes, _ = nets.generator.noise_codes(noise[:, :total].to(dev))  # (1, T, aux)
            z_id, skips = nets.encoder_id(frame.to(dev))
            skips_deepest_first = list(reversed(skips))
            context = prepare_identity(nets.generator, z_id, skips_deepest_first) if fast else None
        for start in range(0, total, window):
            stop = min(start + window, total)
            with autocast(dev, self.precision):
                dynamic = torch.cat([z[0, start:stop], noise_codes[0, start:stop]], 1)   # latent: audio, noise, id
                if context is not None:
                    video = frames_fast(nets.generator, dynamic, context)
                else:
                    latent = torch.cat([dynamic, z_id.expand(stop - start, -1)], 1)
                    video = nets.generator.frames(latent, skips_deepest_first)
            video = video.float()
            yield video if raw else frames_to_uint8(video)


def load_sda(path: str | os.PathLike[str], device: torch.device | str, window: int | None = None) -> SdaAnimator:
    """Plain loader (deepstory_core keeps the result in its model cache): grid.dat → ready `SdaAnimator`; the
    window (frames per batch) from the free memory on CUDA, DEFAULT_WINDOW elsewhere."""
    return SdaAnimator(build_networks(load_sda_dict(path), device), device, window)
