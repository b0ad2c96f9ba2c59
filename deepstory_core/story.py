"""Story text → sentences, each with its speaker, line-start flag and trailing punctuation.

Story format (one story line per text line; blank lines are ignored):

* ``Name|text`` — a *pipe tag*: everything before the first ``|`` is the speaker, whatever it is (emoji, ``/``,
  ``..``, spaces — names are only ever labels, never file names). Use it for any name the colon rule refuses.
* ``Name: text`` — a *colon tag*, accepted only when the part before the first ``:`` looks like a name, so that
  prose with a colon stays narration. The exact rule (see `_colon_speaker`):
    - 1 to 4 words separated by spaces (runs of spaces collapse); no digits anywhere;
    - every word starts with an upper-case letter (``Alice``, ``Mock Turtle``, ``O'Brien``, ``Jean-Luc``), except
      lower-case name particles after the first word (``King of Hearts``, ``Ludwig van Beethoven``);
    - words contain only letters, ``'``, ``’`` and ``-``; a ``.`` is allowed only in a title (``Dr. Watson``,
      ``Mr. Smith``) or an initial (``J. Smith``) — so no sentence punctuation before the colon;
    - the first word is not a common label (``Note``, ``Warning``, ``Chapter``, ``Time``, ``Question``, …);
    - there is something to say after the colon.
  So ``At 10:30 she left.``, ``He said: run.``, ``Note: bring the key.`` and ``Yes. Alice: hi`` are narration.
* any other line belongs to the default speaker (the narrator).

Sentences are split per line, offline, with pysbd plus fixes for what it misses: a sentence end followed by a new
sentence inside quotes (``“Hello.” “Hi.”``), runs like ``Hello!!! What??``, ``Baker St. He…`` (street, not saint),
and splits it makes after titles (``Mr.``) are joined back. Fragments of pure punctuation join their neighbour.
Lines are processed one at a time (very long lines in pieces), so a 2 MB story parses in bounded working memory.
"""

from __future__ import annotations

import os
import re
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from deepstory_kernel.errors import InputError

MAX_SPEAKER_NAME = 60          # characters; a longer tag is almost certainly a mistake
MAX_STORY_BYTES = 64 * 1024 * 1024
_clock = time.monotonic       # (tests replace it)
MAX_SENTENCE_CHARS = 400      # ~25 s of speech: longer sentences are cut (well under a chunk's cut_size of 36 s)
_CLAUSE_BREAKS = (", ", "; ", ": ", " – ", " — ", " - ")
_MAX_PIECE = 2000              # pysbd is quadratic in text length: feed it at most this many characters at once
_COLON_MAX_WORDS = 4

# Titles that never end a sentence (lower-case, without the dot).
_TITLES = frozenset("mr mrs ms mx dr prof rev fr sr sra capt col gen lt sgt maj cmdr hon messrs mme mlle mssr".split())
# Lower-case abbreviations after which a capital letter does not start a new sentence.
_INNER_ABBREVIATIONS = frozenset("e.g i.e cf vs viz approx vol no fig pp ca".split())
# Words that look like names before a colon but introduce prose labels.
_LABEL_WORDS = frozenset(
    """note notes warning caution important tip hint example examples answer question update summary chapter
    part book act scene step result source title author date time location place subject re fw to from cc bcc
    edit ps p.s nb n.b ingredients moral epilogue prologue postscript verse""".split()
)
_NAME_PARTICLES = frozenset("of the de del della der den van von la le du da di al bin ibn y and".split())

_SENTENCE_END = ".!?…"
_CLOSERS = "\"'”’»)]"
_CURLY_CLOSERS = "”’»)]"
# A sentence end (terminal run + closing quotes), whitespace, then a new sentence (opening quote or capital/digit).
_BOUNDARY = re.compile(
    r"(?P<end>[.!?…]+[\"'”’»)\]]*)(?P<space>\s+)(?=[\"“‘«(\[]*[^\W\d_a-z])"
)
_INNER_END = re.compile(r"[.!?…]\S*\s+\S")   # a possible sentence end before the end of the text
_WORD_BEFORE = re.compile(r"([\w.'’-]+)$")
_NAME_WORD = re.compile(r"^[^\W\d_][^\W\d_'’-]*(?:['’-][^\W\d_]+)*['’]?$")


@dataclass(frozen=True)
class Sentence:
    text: str          # the sentence as spoken/displayed
    speaker: str
    line_start: bool   # first sentence of its story line (gets the line-start pause)
    trailing: str      # its trailing punctuation run, e.g. ".", "?!", "...", "…", ".”", '!"'
    line_index: int    # 0-based index of the story line it came from (blank lines count)
    say_as: str = ""   # how the voice should read it (a respelling); "" = the text. Subtitles show the text.


@dataclass(frozen=True)
class ParseOptions:
    speaker_tags: bool = True
    default_speaker: str = "Narrator"
    group: int = 1     # join up to N consecutive sentences of one line into one item (the original's n_gram)


# ---------------------------------------------------------------------------------------------------- reading

def decode_story(data: bytes) -> str:
    """UTF-8 (a BOM is accepted) → text with '\\n' line ends; anything else is an InputError saying where."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise InputError("The story is UTF-16 text; save it as UTF-8 and try again.")
    if b"\x00" in data[:65536]:
        raise InputError("The story file looks binary (it contains NUL bytes); give a plain UTF-8 text file.")
    bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    try:
        text = data[bom:].decode("utf-8")
    except UnicodeDecodeError as err:
        offset = err.start + bom
        line = data[:offset].count(b"\n") + 1
        raise InputError(
            f"The story is not valid UTF-8 text: byte {data[offset]:#04x} at byte offset {offset} (line {line}) "
            "cannot be decoded; save the file as UTF-8 and try again."
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_story_file(path: str | os.PathLike[str]) -> str:
    """Read a story file as UTF-8 text; every problem is an InputError naming the file.

    Only regular files are read (a FIFO would block, /dev/zero never ends), and never more than MAX_STORY_BYTES."""
    from .inputs import read_bounded

    p = Path(path)
    try:
        data = read_bounded(p, MAX_STORY_BYTES, "story file")
    except InputError as err:
        message = str(err)
        if "supported" in message:
            message += " Split the story into parts."
        raise InputError(message) from None
    try:
        return decode_story(data)
    except InputError as err:
        raise InputError(f"{p}: {err}") from None


# ---------------------------------------------------------------------------------------------------- tags

def _clean_name(name: str) -> str:
    name = "".join(" " if unicodedata.category(c).startswith("C") or c.isspace() else c for c in name)
    return " ".join(name.split())


def _is_name_word(word: str, first: bool) -> bool:
    if not first and word in _NAME_PARTICLES:
        return True
    if word.endswith("."):
        core = word[:-1]
        title = core.lower() in _TITLES or core.lower() == "st"
        return title or (len(core) == 1 and core.isalpha() and core.isupper())
    return bool(_NAME_WORD.match(word)) and word[0].isupper()


def _colon_speaker(prefix: str) -> str | None:
    """The speaker named by `prefix` (the text before a line's first ':'), or None when it is prose."""
    prefix = prefix.strip()
    if not prefix or any(c.isdigit() for c in prefix):
        return None
    words = prefix.split()
    if len(words) > _COLON_MAX_WORDS:
        return None
    if words[0].lower().rstrip(".") in _LABEL_WORDS or words[0].lower() in _LABEL_WORDS:
        return None
    if not all(_is_name_word(w, i == 0) for i, w in enumerate(words)):
        return None
    return " ".join(words)


_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))   # zero-width and soft hyphen


def normalize_line(line: str) -> str:
    """NFC (a decomposed `José` is the same name as a composed one) without zero-width characters (`Bob\u200b`
    is Bob) — so a tag is recognised as a tag and never read aloud as part of the text."""
    return unicodedata.normalize("NFC", line).translate(_INVISIBLE)


def split_speaker(line: str, options: ParseOptions, line_index: int = 0) -> tuple[str, str]:
    """(speaker, text) of one story line, following the module's tag rules (on the normalised line)."""
    line = normalize_line(line)
    if options.speaker_tags:
        name: str | None = None
        text = line
        if "|" in line:
            head, text = line.split("|", 1)
            name = _clean_name(head)
            if not name:
                name = None
        else:
            colon = line.find(":")
            if colon > 0:
                name = _colon_speaker(line[:colon])
                if name is not None:
                    text = line[colon + 1:]
                    if not text.strip():
                        name, text = None, line   # "Alice:" alone is a heading, not an empty speech
        if name is not None:
            if len(name) > MAX_SPEAKER_NAME:
                raise InputError(
                    f"Line {line_index + 1}: the speaker name is {len(name)} characters long (at most "
                    f"{MAX_SPEAKER_NAME}): '{name[:40]}…'; shorten the name before the tag separator."
                )
            return name, text.strip()
    return options.default_speaker, line.strip()


# ---------------------------------------------------------------------------------------------------- sentences

def trailing_punctuation(text: str) -> str:
    """The run of punctuation at the end of `text` (whitespace ignored): '.', '?!', '...', '.”', '!"', ''."""
    text = text.rstrip()
    i = len(text)
    while i > 0 and unicodedata.category(text[i - 1]).startswith("P"):
        i -= 1
    return text[i:]


def _has_speakable(text: str) -> bool:
    return any(c.isalnum() for c in text)


@lru_cache(maxsize=1)
def _segmenter():
    import pysbd  # imported lazily: it compiles many regexes

    return pysbd.Segmenter(language="en", clean=False, char_span=False)


def _pieces(line: str) -> Iterator[str]:
    """Cut a very long line at sentence-like boundaries so pysbd never sees more than ~_MAX_PIECE characters."""
    start = 0
    n = len(line)
    while n - start > _MAX_PIECE:
        cut = -1
        for m in re.finditer(r"[.!?…][\"'”’»)\]]*\s+", line[start + _MAX_PIECE // 2: start + _MAX_PIECE]):
            cut = start + _MAX_PIECE // 2 + m.end()
        if cut < 0:
            space = line.rfind(" ", start + 1, start + _MAX_PIECE)
            cut = space + 1 if space > start else start + _MAX_PIECE
        yield line[start:cut]
        start = cut
    if start < n:
        yield line[start:]


def _ends_with_non_terminal(text: str) -> bool:
    """True when the last word of `text` is a title/abbreviation whose dot does not end a sentence."""
    m = _WORD_BEFORE.search(text)
    if not m or not text.endswith("."):
        return False
    word = m.group(1)[:-1].lstrip("'’")
    low = word.lower()
    if low in _TITLES or low in _INNER_ABBREVIATIONS:
        return True
    if len(word) == 1 and word.isupper():
        return True                      # an initial: "J. K. Rowling"
    if low == "st":
        # "St. Paul" (saint) continues; "Baker St. He" (street, after a capitalised word) ends a sentence
        before = text[: m.start()].rstrip().split(" ")[-1] if text[: m.start()].strip() else ""
        return not (before[:1].isupper() and before.isalpha())
    return False


def _split_more(segment: str) -> list[str]:
    """Split where pysbd missed a boundary: end punctuation, space, then a capital or an opening quote."""
    parts: list[str] = []
    start = 0
    for m in _BOUNDARY.finditer(segment):
        end = m.end("end")
        candidate = segment[start:end]
        if _ends_with_non_terminal(candidate):
            continue
        parts.append(candidate)
        start = m.end()
    parts.append(segment[start:])
    return [p for p in (x.strip() for x in parts) if p]


def split_sentences(text: str) -> list[str]:
    """One line of prose → its sentences (stripped, in order, nothing dropped except whitespace)."""
    if not _INNER_END.search(text):
        return [text.strip()]            # one sentence at most: skip pysbd (most dialogue lines)
    raw: list[str] = []
    for piece in _pieces(text):
        for seg in _segmenter().segment(piece):
            raw.extend(_split_more(seg))
    merged: list[str] = []
    for seg in raw:
        if merged and seg[0] in _CURLY_CLOSERS:
            # pysbd sometimes cuts between "!" and its closing curly quote: "‘Well!", "’ thought Alice."
            k = 0
            while k < len(seg) and seg[k] in _CURLY_CLOSERS:
                k += 1
            merged[-1] += seg[:k]
            seg = seg[k:].strip()
            if not seg:
                continue
            if seg[0].islower():
                merged[-1] = f"{merged[-1]} {seg}"
                continue
        if merged and (not _has_speakable(seg) or _ends_with_non_terminal(merged[-1])):
            merged[-1] = f"{merged[-1]} {seg}" if not _glues(merged[-1], seg) else merged[-1] + seg
        else:
            merged.append(seg)
    # a punctuation-only first fragment joins the next sentence
    if len(merged) > 1 and not _has_speakable(merged[0]):
        merged[1] = f"{merged[0]} {merged[1]}"
        del merged[0]
    return merged


def _glues(previous: str, fragment: str) -> bool:
    """Closing punctuation split off by pysbd ('”', '…') is glued back without a space."""
    return bool(fragment) and fragment[0] in _CLOSERS + _SENTENCE_END + ",;:"


def iter_sentences(text: str, options: ParseOptions = ParseOptions(),
                   progress: Callable[[int, int], None] | None = None) -> Iterator[Sentence]:
    """Sentences of a story, one line at a time (the streaming form of `parse_story`)."""
    group = max(1, int(options.group))
    done, last_report, reported = 0, _clock(), False
    for index, line in enumerate(_iter_lines(text)):
        done += len(line) + 1
        if progress is not None and _clock() - last_report > 0.25:
            progress(min(done, len(text)), len(text))
            last_report, reported = _clock(), True
        if not line.strip():
            continue
        speaker, body = split_speaker(line, options, index)
        if not _has_speakable(body):
            continue
        sentences = split_sentences(body)
        for k in range(0, len(sentences), group):
            joined = " ".join(sentences[k:k + group])
            for part, piece in enumerate(cut_long_sentence(joined)):
                yield Sentence(piece, speaker, k == 0 and part == 0, trailing_punctuation(piece), index)
    if progress is not None and reported:
        progress(len(text), len(text))


def cut_long_sentence(text: str, limit: int = MAX_SENTENCE_CHARS) -> list[str]:
    """A sentence longer than `limit` characters cut into pieces of at most `limit`: at a clause break (, ; : –)
    in the second half of the window when there is one, else at the last space (a single word longer than the
    limit is cut inside). Each piece becomes a sentence of its own — its own audio, chunk slot and subtitle cue —
    so a 30-minute sentence without punctuation costs the memory of one piece, not of the whole."""
    pieces = []
    text = text.strip()
    while len(text) > limit:
        window = text[:limit + 1]
        cut = max(window.rfind(mark) + len(mark) - 1 for mark in _CLAUSE_BREAKS)
        if cut < limit // 2:
            cut = window.rfind(" ")
        if cut <= 0:
            cut = limit
        pieces.append(text[:cut].strip())
        text = text[cut:].strip()
    if text:
        pieces.append(text)
    return pieces


def _iter_lines(text: str) -> Iterator[str]:
    start = 0
    while start <= len(text):
        end = text.find("\n", start)
        if end < 0:
            end = len(text)
        yield text[start:end].rstrip("\r")
        start = end + 1


def parse_story(text: str, options: ParseOptions = ParseOptions(),
                progress: Callable[[int, int], None] | None = None) -> list[Sentence]:
    """All sentences of a story; an InputError when there is nothing to speak. `progress(characters done, total)`
    is called a few times a second on long stories (a 5 MB story takes minutes to split into sentences)."""
    if options.speaker_tags and not options.default_speaker.strip():
        raise InputError("The default speaker name is empty; set a name such as 'Narrator'.")
    sentences = list(iter_sentences(text, options, progress))
    if not sentences:
        raise InputError("The story is empty: it has no words to speak; write at least one line of text.")
    return sentences


__all__: Sequence[str] = (
    "MAX_SPEAKER_NAME", "Sentence", "ParseOptions", "parse_story", "iter_sentences", "split_sentences",
    "split_speaker", "decode_story", "read_story_file", "trailing_punctuation",
)
