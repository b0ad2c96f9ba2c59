"""Text → DCTTS character ids: deepstory's `normalize_text` rules and the pytorch-dc-tts vocabulary.

The published voices were trained on text normalised this way, so pauses (brackets, colons, dashes, ellipses)
become commas and anything outside the 34-symbol vocabulary becomes a space.
"""

from __future__ import annotations

import re
import unicodedata

import torch

from .hparams import DEFAULT_HPARAMS

# Applied in this order (the order matters: the trailing ellipsis must become a full stop before the generic
# ellipsis rule turns it into a comma).
_PAUSE_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"(\.\.\.)$|…$", "."),                                                   # sentence-final ellipsis
        (r"\(|\)|:|;| “|(\s*-+\s+)|(\s+-+\s*)|\s*-{2,}\s*|(\.\.\.)|…|—", ", "),   # pause marks → comma
        (r"\s*,[^\w]*,\s*", ", "),                                                # runs of commas → one
        (r"\s*,\s*", ", "),                                                       # one space after a comma
        (r"\.,", "."),
        (r"[‘’“”]", ""),                                                          # curly quotes vanish
    )
)

# Letters that Unicode decomposition does not reduce to ASCII (what `unidecode` would give for them).
_TRANSLITERATION = {
    "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D",
    "ł": "l", "Ł": "L", "þ": "th", "Þ": "Th", "ð": "d", "Ð": "D", "ı": "i", "–": "-", "‐": "-", "‑": "-",
    "«": "<<", "»": ">>", "‹": "<", "›": ">", "„": ",,", "‚": ",", "¡": "!", "¿": "?",
}


def to_ascii(text: str) -> str:
    """Transliterate accented letters to ASCII (é → e, ß → ss); characters with no ASCII form are dropped."""
    out = []
    for char in text:
        if ord(char) < 128:
            out.append(char)
            continue
        if char in _TRANSLITERATION:
            out.append(_TRANSLITERATION[char])
            continue
        decomposed = unicodedata.normalize("NFKD", char)
        out.append("".join(c for c in decomposed if ord(c) < 128))
    return "".join(out)


def normalize_text(text: str, vocab: str = DEFAULT_HPARAMS.vocab) -> str:
    """deepstory's normalisation: pause marks → commas, quotes stripped, ASCII, lower case, vocabulary only."""
    for pattern, replacement in _PAUSE_RULES:
        text = pattern.sub(replacement, text)
    text = to_ascii(text).lower()
    text = re.sub(f"[^{re.escape(vocab)}]", " ", text)
    return re.sub(r" +", " ", text).strip()


def text_to_ids(text: str, vocab: str = DEFAULT_HPARAMS.vocab) -> torch.Tensor:
    """Normalised text plus the end-of-sentence symbol "E" as int64 ids, shape (1, N)."""
    symbols = normalize_text(text, vocab) + "E"
    index = {char: i for i, char in enumerate(vocab)}
    return torch.tensor([[index[char] for char in symbols]], dtype=torch.int64)
