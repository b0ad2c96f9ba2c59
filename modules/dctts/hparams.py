"""DCTTS hyper-parameters (the published pytorch-dc-tts defaults, as vendored by deepstory).

A frozen value object instead of the original's class attributes: the original bound these as default arguments
when its modules were imported, so changing a size meant re-importing. Here every constructor takes its sizes
explicitly and `HParams` is only where the defaults are written down once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HParams:
    vocab: str = "PE abcdefghijklmnopqrstuvwxyz'.,!?"  # P = padding (0), E = end of sentence (1)
    sr: int = 22050
    n_fft: int = 2048
    hop_length: int = 275      # int(22050 * 0.0125); the original comment says 276, the value is 275
    win_length: int = 1102     # int(22050 * 0.05)
    n_mels: int = 80
    e: int = 128               # character embedding size
    d: int = 512               # Text2Mel hidden size
    c: int = 640               # SSRN hidden size
    reduction_rate: int = 4    # SSRN upsamples the mel frames 4x in time
    power: float = 1.2         # magnitude exponent before Griffin-Lim
    n_iter: int = 50           # Griffin-Lim iterations
    preemphasis: float = 0.97
    max_db: float = 140
    ref_db: float = 20
    dropout_rate: float = 0.05  # training only; inference never applies it

    @property
    def f_prime(self) -> int:
        """Linear-spectrogram bins that SSRN outputs."""
        return 1 + self.n_fft // 2

    @property
    def pad_index(self) -> int:
        return self.vocab.index("P")

    @property
    def eos_index(self) -> int:
        return self.vocab.index("E")


DEFAULT_HPARAMS = HParams()
