"""Default casting: which voice each speaker gets when the user has not chosen one.

Why cues: casting by order alone gave "Father" a female voice and "Mara" a male one. A speaker's register is
guessed from, strongest first:
1. a title or kinship word in the speaker's name (Mr, Mrs, Miss, Sir, Lady, Father, Mother, King, Queen, Uncle,
   Aunt, …);
2. pronouns right after the name in narration ("Mara opened the door. She …") — he/him/his vs she/her/hers;
3. the first name in an offline list (`gender-guesser`, from the registry; no download).
The narrator speaks with the natural Piper voice. The others get distinct voices of their register: the speakers
of a multi-speaker Piper model when one is installed (a model's config says nothing about its speakers, so each
candidate's register is measured: the median pitch of a short probe sentence, lower than `REGISTER_SPLIT_HZ` =
male; speakers are probed in id order only until every character has one, and remembered per model file), else
the built-in espeak-ng variants. Deterministic: the same story gives the same cast.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

FEMALE, MALE, UNKNOWN = "female", "male", "unknown"

_FEMALE_WORDS = frozenset("""mrs miss ms mme mlle madam madame lady dame queen princess duchess countess empress
    baroness mother mom mum mommy mummy mama ma aunt auntie aunty grandma grandmother granny nana sister sis nun
    abbess wife daughter niece girl woman lass maiden mistress widow witch goddess heroine señora senora signora
    frau fräulein""".split())
_MALE_WORDS = frozenset("""mr sir lord master king prince duke count earl emperor baron father dad daddy papa pa
    uncle grandpa grandfather grandad granddad brother bro monk friar abbot husband son nephew boy man lad
    gentleman widower wizard god hero señor senor signor herr monsieur fr""".split())
_PRONOUNS = {"he": MALE, "him": MALE, "his": MALE, "himself": MALE,
             "she": FEMALE, "her": FEMALE, "hers": FEMALE, "herself": FEMALE}
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
_PRONOUN_WINDOW = 12      # words after a mention in which the first pronoun counts
REGISTER_SPLIT_HZ = 165.0
MAX_PROBED_SPEAKERS = 48
PROBE_TEXT = "Hello, how are you today? I am glad to see you."
_TITLE_WEIGHT, _NAME_WEIGHT, _PRONOUN_WEIGHT, _PRONOUN_CAP = 5, 2, 3, 6


@lru_cache(maxsize=1)
def _name_detector():
    try:
        import gender_guesser.detector as detector
    except ImportError:   # pragma: no cover - pinned in requirements.txt
        return None
    return detector.Detector(case_sensitive=False)


def _words(text: str) -> list[str]:
    return [w.lower().replace("’", "'") for w in _WORD.findall(text)]


def _title_score(name_words: list[str]) -> int:
    for word in name_words:
        if word in _FEMALE_WORDS:
            return -_TITLE_WEIGHT
        if word in _MALE_WORDS:
            return _TITLE_WEIGHT
    return 0


def _first_name_score(name_words: list[str]) -> int:
    detector = _name_detector()
    candidates = [w for w in name_words if w not in _FEMALE_WORDS and w not in _MALE_WORDS and len(w) > 1
                  and w not in ("of", "the", "de", "van", "von", "le", "la")]
    if detector is None or not candidates:
        return 0
    guess = detector.get_gender(candidates[0].capitalize())
    return {"male": _NAME_WEIGHT, "mostly_male": 1, "female": -_NAME_WEIGHT, "mostly_female": -1}.get(guess, 0)


def _pronoun_score(name_words: list[str], narration: Sequence[list[str]], other_names: set[str]) -> int:
    """+3 per mention followed by he/him/his, −3 by she/her/hers, in the next words of the narration (stopping at
    another speaker's name, so "Mara met Tom. He …" counts for Tom, not Mara)."""
    key = name_words[-1] if name_words else ""
    if not key:
        return 0
    score = 0
    for i, sentence in enumerate(narration):
        words = sentence + (narration[i + 1] if i + 1 < len(narration) else [])
        for j, word in enumerate(sentence):
            if word != key:
                continue
            for follower in words[j + 1: j + 1 + _PRONOUN_WINDOW]:
                if follower in other_names:
                    break
                if follower in _PRONOUNS:
                    score += _PRONOUN_WEIGHT if _PRONOUNS[follower] == MALE else -_PRONOUN_WEIGHT
                    break
    return max(-_PRONOUN_CAP, min(_PRONOUN_CAP, score))


def speaker_registers(speakers: Sequence[str], narrator: str, sentences: Sequence = ()) -> dict[str, str]:
    """'female' / 'male' / 'unknown' per speaker (the narrator included), from the cues in the module docstring.

    `sentences` are the story's `Sentence`s (speaker + text); without them only the names are used.
    """
    narration = [_words(s.text) for s in sentences if getattr(s, "speaker", None) == narrator]
    name_words = {speaker: _words(speaker) for speaker in speakers}
    registers = {}
    for speaker in speakers:
        words = name_words[speaker]
        others = {w[-1] for s, w in name_words.items() if s != speaker and w} - set(words)
        score = _title_score(words)
        if score == 0:
            score = _pronoun_score(words, narration, others) + _first_name_score(words)
        registers[speaker] = MALE if score > 0 else FEMALE if score < 0 else UNKNOWN
    return registers


def cast_by_cues(speakers: Sequence[str], narrator: str, sentences: Sequence = (),
                 data_dir: Path | None = None) -> dict[str, str]:
    """Voice id per speaker (see the module docstring). Distinct voices until a register's list runs out."""
    from . import registry
    from .paths import data_dir as default_data_dir
    from .voice_piper import BUNDLED_NAME, multi_speaker_models
    from .voices import (
        ESPEAK_NARRATOR_VOICE,
        FEMALE_VOICES,
        MALE_VOICES,
        NARRATOR_VOICE,
        SPEAKER_VOICE_ORDER,
    )

    data = Path(data_dir) if data_dir is not None else default_data_dir()
    unique = list(dict.fromkeys(speakers))
    registers = speaker_registers(unique, narrator, sentences)
    bundled_ready = registry.check(registry.piper_entry(BUNDLED_NAME, data)).ready
    narrator_voice = NARRATOR_VOICE if bundled_ready else ESPEAK_NARRATOR_VOICE
    multi = multi_speaker_models(data)
    if multi:
        return _cast_with_model_speakers(unique, narrator, narrator_voice, registers, multi[0], data)
    pools = {FEMALE: list(FEMALE_VOICES), MALE: list(MALE_VOICES), UNKNOWN: list(SPEAKER_VOICE_ORDER)}
    cast: dict[str, str] = {}
    used: set[str] = {narrator_voice}
    for speaker in unique:
        if speaker == narrator:
            cast[speaker] = narrator_voice
            continue
        pool = pools[registers[speaker]] or pools[UNKNOWN]
        choice = next((v for v in pool if v not in used), None)
        if choice is None:   # every voice of the register taken: repeat, least used first, in order
            counts = {v: list(cast.values()).count(v) for v in pool}
            choice = min(pool, key=lambda v: (counts[v], pool.index(v)))
        cast[speaker] = choice
        used.add(choice)
    return cast



def _cast_with_model_speakers(speakers: list[str], narrator: str, narrator_voice: str, registers: dict[str, str],
                              model: tuple[str, int], data: Path) -> dict[str, str]:
    """Each character gets the next unused speaker of the model whose measured register matches (any unused one
    when none is left within `MAX_PROBED_SPEAKERS`); speakers repeat only when the model has too few."""
    name, count = model
    cast: dict[str, str] = {}
    used: set[int] = set()
    for speaker in speakers:
        if speaker == narrator:
            cast[speaker] = narrator_voice
            continue
        wanted = registers[speaker]
        free = [k for k in range(count) if k not in used] or list(range(count))
        choice = free[0]
        if wanted != UNKNOWN:
            for k in free[:MAX_PROBED_SPEAKERS]:
                if model_speaker_register(name, k, data) == wanted:
                    choice = k
                    break
        used.add(choice)
        cast[speaker] = f"piper:{name}#{choice}"
    return cast


def model_speaker_register(name: str, speaker: int, data: Path) -> str:
    """'male' / 'female' of one speaker of a Piper model, from the median pitch of a probe sentence."""
    from .voice_piper import voice_files

    model_path, config_path = voice_files(name, data)
    stat_m, stat_c = model_path.stat(), config_path.stat()
    return _measured_register(str(model_path), stat_m.st_size, stat_m.st_mtime_ns, str(config_path),
                              stat_c.st_mtime_ns, name, speaker, str(data))


@lru_cache(maxsize=4096)
def _measured_register(model_path: str, size: int, mtime: int, config_path: str, config_mtime: int, name: str,
                       speaker: int, data: str) -> str:
    from .voices import get_voice, synthesize_sentence

    speech = synthesize_sentence(get_voice(f"piper:{name}#{speaker}", Path(data)), PROBE_TEXT)
    return MALE if median_pitch(speech.audio, speech.sample_rate) < REGISTER_SPLIT_HZ else FEMALE


def median_pitch(audio, sample_rate: int) -> float:
    """Median autocorrelation pitch (Hz) of the voiced 40 ms frames, 60–500 Hz; 0.0 when nothing is voiced."""
    import numpy as np

    frame, hop = int(0.04 * sample_rate), int(0.02 * sample_rate)
    low, high = int(sample_rate / 500), int(sample_rate / 60)
    pitches = []
    for start in range(0, len(audio) - frame, hop):
        x = np.asarray(audio[start:start + frame], dtype=np.float64)
        x = x - x.mean()
        if np.sqrt(np.mean(x ** 2)) < 0.02:
            continue
        spectrum = np.fft.rfft(x, 2 * frame)
        correlation = np.fft.irfft(spectrum * np.conj(spectrum))[:frame]
        if correlation[0] <= 0:
            continue
        correlation = correlation / correlation[0]
        lag = low + int(np.argmax(correlation[low:high]))
        if correlation[lag] > 0.5:
            pitches.append(sample_rate / lag)
    return float(np.median(pitches)) if pitches else 0.0


def default_voices(speakers: Sequence[str], narrator: str, sentences: Sequence = (),
                   data_dir: Path | None = None) -> dict[str, str]:
    """Voice id per speaker: the narrator speaks with the natural Piper voice, the others get distinct voices
    matched to the story's cues (titles, kinship words, pronouns near the name, first names); see `casting`.

    With more speakers than voices the list starts again (voices then repeat).
    """
    return cast_by_cues(speakers, narrator, sentences, data_dir)
