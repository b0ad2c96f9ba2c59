"""DCTTS (Text2Mel + SSRN + Griffin-Lim) compatible with the published pytorch-dc-tts voices used by deepstory."""

from .griffin_lim import spectrogram_to_wav
from .hparams import DEFAULT_HPARAMS, HParams
from .loader import expected_ssrn_shapes, expected_text2mel_shapes, load_dctts
from .ssrn import SSRN
from .synthesis import MelSynthesis, synthesize_mel, synthesize_wav
from .text import normalize_text, text_to_ids
from .text2mel import Text2Mel

__all__ = [
    "DEFAULT_HPARAMS", "HParams", "MelSynthesis", "SSRN", "Text2Mel", "expected_ssrn_shapes",
    "expected_text2mel_shapes", "load_dctts", "normalize_text", "spectrogram_to_wav", "synthesize_mel",
    "synthesize_wav", "text_to_ids",
]
