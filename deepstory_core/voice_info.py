"""What every voice engine shares (espeak, DC-TTS, Piper, …) without importing any of them: voice ids, their
listing entry, and the check that a sentence has something to speak."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from deepstory_kernel.errors import InputError

ESPEAK_PREFIX = "espeak:"
DCTTS_PREFIX = "dctts:"


@dataclass(frozen=True)
class VoiceInfo:
    voice_id: str
    label: str
    backend: str        # "espeak" | "dctts" | "piper"
    available: bool
    note: str = ""      # why it is unavailable, or what it needs


_TRUNCATE = 60


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _TRUNCATE else text[: _TRUNCATE - 1] + "…"


def check_speakable(text: str) -> None:
    """InputError unless `text` has something an English espeak voice can read: a Latin letter or a digit.

    Text made only of other scripts (CJK, Cyrillic, …), emoji or punctuation would be spelled out as
    "Chinese letter …" or be silent, so it is refused with the sentence named. Mixed text is accepted.
    """
    has_other_script = False
    for c in text:
        if c.isdigit() and c.isascii():
            return
        if c.isalpha():
            if unicodedata.name(c, "").startswith("LATIN"):
                return
            has_other_script = True
    if has_other_script:
        problem = "it has no Latin letters (the built-in English voices cannot read other scripts)"
    else:
        problem = "it has no letters or digits to speak"
    raise InputError(
        f"Cannot speak the sentence \u201c{_short(text)}\u201d: {problem}; edit the sentence or give that "
        "speaker a voice for its language."
    )
