"""SDA audio encoder: a 1-D conv stack turns each 0.2 s window into a code, a 2-layer GRU runs over the codes.

State-dict names match the original `RNN` (`encoder.cl.*`, `encoder.activations.*`, `rnn.*`).
"""

from __future__ import annotations

import torch
from torch import nn

from .config import SdaConfig


class AudioFrameEncoder(nn.Module):
    """Window (B, 1, samples) → code (B, code_size). The original's trailing `squeeze()` is replaced by a reshape
    so a single-window batch keeps its batch dimension."""

    def __init__(self, config: SdaConfig, num_feature_maps: int = 16) -> None:
        super().__init__()
        self.code_size = config.aud_enc_dim
        self.cl = nn.ModuleList()
        self.activations = nn.ModuleList()
        layout = config.audio_conv_layout()
        channels_in = 1
        for i, (kernel, stride, padding) in enumerate(layout[:-1]):
            channels_out = num_feature_maps if i == 0 else channels_in * 2
            self.cl.append(nn.Conv1d(channels_in, channels_out, kernel, stride=stride, padding=padding))
            self.activations.append(nn.Sequential(nn.BatchNorm1d(channels_out), nn.ReLU(True)))
            channels_in = channels_out
        self.cl.append(nn.Conv1d(channels_in, self.code_size, layout[-1][0]))
        self.activations.append(nn.Tanh())

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        x = windows
        for conv, activation in zip(self.cl, self.activations):
            x = activation(conv(x))
        return x.reshape(x.shape[0], self.code_size)


class AudioEncoder(nn.Module):
    """Windows → per-frame audio latent z (1, T, rnn_gen_dim)."""

    def __init__(self, config: SdaConfig) -> None:
        super().__init__()
        self.audio_feat_samples = config.audio_feat_samples
        self.encoder = AudioFrameEncoder(config)
        self.rnn = nn.GRU(config.aud_enc_dim, config.rnn_gen_dim, 2, batch_first=True)

    def frame_codes(self, windows: torch.Tensor) -> torch.Tensor:
        """(T, samples) windows → (T, aud_enc_dim) codes; each window is independent, so callers may batch freely."""
        return self.encoder(windows.reshape(-1, 1, self.audio_feat_samples).contiguous())

    def sequence(self, codes: torch.Tensor, hidden: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the GRU over (T, aud_enc_dim) codes; returns z (1, T, rnn_gen_dim) and the hidden state to carry on."""
        z, h = self.rnn(codes.unsqueeze(0), hidden)
        return z, h

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        return self.sequence(self.frame_codes(windows))[0]
