"""Voice check (QA): does a listener hear the words of each line? Whisper tiny.en transcribes every synthesised
sentence; the word error rate against the sentence's text is its score, and lines whose words cannot be recovered
are flagged, so the writer can respell them for speech (the sentence's "say as" text).

Results are artifacts keyed by the sentence's audio key (and the text, and this checker's version), so the Voices
page shows scores without transcribing again and a changed line is checked afresh.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from deepstory_kernel.errors import ModelUnavailableError

from .progress import Cancelled, CancelToken, ProgressCallback, ProgressEvent, no_progress

CHECK_STAGE = "voice_check"
CHECK_VERSION = 1
FLAG_WER = 0.25          # a line is flagged when more than a quarter of its words are not recovered
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")
_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
         "seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SPELLING = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint", "ok": "okay", "colour": "color",
             "grey": "gray", "towards": "toward", "whilst": "while"}


def number_words(n: int) -> list[str]:
    """0 ≤ n < 10⁹ as English words ("42" → forty two), so digits and spelled numbers compare equal."""
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        return [_TENS[n // 10]] + (number_words(n % 10) if n % 10 else [])
    for size, name in ((10 ** 6, "million"), (1000, "thousand"), (100, "hundred")):
        if n >= size:
            rest = n % size
            return number_words(n // size) + [name] + (number_words(rest) if rest else [])
    return []  # pragma: no cover - unreachable


def normalize_words(text: str) -> list[str]:
    """Lower-case words without punctuation; hyphens split, apostrophes kept inside words, a few spellings unified
    and numbers written out, so "Mr. Grey's 42 dogs" and "mister gray's forty-two dogs" compare equal."""
    text = text.lower().replace("’", "'").replace("‘", "'").replace("-", " ").replace("—", " ")
    words = []
    for word in _WORD.findall(text.replace(",", "")):
        if word.isdigit() and len(word) < 10:
            words += number_words(int(word))
        else:
            words.append(_SPELLING.get(word, word))
    return words


def word_errors(reference: Sequence[str], heard: Sequence[str]) -> tuple[int, list[str]]:
    """(edit distance in words, reference words not recovered), by a Levenshtein alignment."""
    n, m = len(reference), len(heard)
    cost = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        cost[i][0] = i
    for j in range(m + 1):
        cost[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            same = reference[i - 1] == heard[j - 1]
            cost[i][j] = min(cost[i - 1][j] + 1, cost[i][j - 1] + 1, cost[i - 1][j - 1] + (0 if same else 1))
    missed, i, j = [], n, m
    while i > 0:
        if j > 0 and reference[i - 1] == heard[j - 1] and cost[i][j] == cost[i - 1][j - 1]:
            i, j = i - 1, j - 1
        elif j > 0 and cost[i][j] == cost[i - 1][j - 1] + 1:
            missed.append(reference[i - 1])
            i, j = i - 1, j - 1
        elif cost[i][j] == cost[i - 1][j] + 1:
            missed.append(reference[i - 1])
            i -= 1
        else:
            j -= 1
    return cost[n][m], missed[::-1]


def word_error_rate(reference: str, heard: str) -> float:
    ref = normalize_words(reference)
    distance, _ = word_errors(ref, normalize_words(heard))
    return distance / max(len(ref), 1)


@dataclass(frozen=True)
class LineCheck:
    """The check of one sentence: what was heard, its word error rate, the words not recovered."""

    index: int
    speaker: str
    text: str
    heard: str
    wer: float
    missed: tuple[str, ...]

    @property
    def flagged(self) -> bool:
        return self.wer > FLAG_WER

    @property
    def score(self) -> float:
        """0–100: the share of the line's words a listener (the recogniser) recovered."""
        return round(100.0 * max(0.0, 1.0 - self.wer), 1)


def transcribe(audio, sample_rate: int) -> str:
    """Whisper tiny.en on float32 audio at any rate; ModelUnavailableError when the recogniser is missing."""
    from modules.asr.whisper import SAMPLE_RATE, RecognizerUnavailable
    from modules.asr.whisper import transcribe as run

    from .audio import resample

    try:
        return run(resample(audio, sample_rate, SAMPLE_RATE))
    except RecognizerUnavailable as err:
        raise ModelUnavailableError(f"The voice check needs Whisper tiny.en: {err}.") from None


def check_key(audio_key: str, text: str) -> str:
    from .artifacts import artifact_key

    return artifact_key(CHECK_STAGE, audio=audio_key, text=text, version=CHECK_VERSION)


def _result(row, heard: str) -> LineCheck:
    ref = normalize_words(row.text)
    distance, missed = word_errors(ref, normalize_words(heard))
    return LineCheck(row.index, row.speaker, row.text, heard, distance / max(len(ref), 1), tuple(missed))


def stored_checks(project, rows) -> dict[int, LineCheck]:
    """Checks already made for these Voices-page rows (`sentence_audio` rows), by sentence index; nothing is run."""
    found = {}
    for row in rows:
        if row.key is None or not row.ready:
            continue
        key = check_key(row.key, row.text)
        if project.store.exists(CHECK_STAGE, key, "json"):
            try:
                heard = str(project.store.read_json(CHECK_STAGE, key)["heard"])
            except Exception:   # a damaged check is simply made again
                continue
            found[row.index] = _result(row, heard)
    return found


def check_voices(project, rows=None, progress: ProgressCallback = no_progress,
                 cancel: CancelToken | None = None) -> list[LineCheck]:
    """Check every sentence that has audio (transcribing only those not checked before); in story order."""
    from .sentence_audio import load_sentence_audio, sentence_audio

    rows = sentence_audio(project) if rows is None else rows
    ready = [row for row in rows if row.ready and row.key is not None]
    done = stored_checks(project, ready)
    results = []
    for number, row in enumerate(ready, start=1):
        if row.index not in done:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            heard = transcribe(load_sentence_audio(project, row), project.settings.sample_rate)
            project.store.write_json(CHECK_STAGE, check_key(row.key, row.text), {"heard": heard})
            done[row.index] = _result(row, heard)
        results.append(done[row.index])
        progress(ProgressEvent("check", number, len(ready), f"sentence {row.index + 1}"))
    return results


def summary_wer(checks: Sequence[LineCheck]) -> float:
    """Word error rate over all checked lines together (errors / reference words)."""
    words = sum(len(normalize_words(c.text)) for c in checks)
    errors = sum(c.wer * max(len(normalize_words(c.text)), 1) for c in checks)
    return errors / max(words, 1)
