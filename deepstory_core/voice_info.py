"""What a voice id is, shared by every voice engine (espeak, DC-TTS, …) without importing any of them."""

from __future__ import annotations

from dataclasses import dataclass

ESPEAK_PREFIX = "espeak:"
DCTTS_PREFIX = "dctts:"


@dataclass(frozen=True)
class VoiceInfo:
    voice_id: str
    label: str
    backend: str        # "espeak" | "dctts" | "piper"
    available: bool
    note: str = ""      # why it is unavailable, or what it needs
