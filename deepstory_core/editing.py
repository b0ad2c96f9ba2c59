"""Edits a writer makes in the studio's sentence table and speaker list, validated before they are saved.

Pages pass plain rows (dicts from `st.data_editor`); everything checked or derived here — empty rows dropped,
trailing punctuation recomputed from the edited text, speaker names validated — so the CLI and the UI agree.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from deepstory_kernel.errors import DeepstoryError, InputError

from .project import Project
from .story import MAX_SPEAKER_NAME, Sentence, trailing_punctuation


def sentence_table(project: Project) -> list[dict[str, Any]]:
    """Rows for the editor: one per sentence, in story order."""
    return [{"speaker": s.speaker, "text": s.text, "line_start": bool(s.line_start), "say_as": s.say_as}
            for s in project.sentences]


def _clean_cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return " ".join(str(value).split())


def validate_speaker_name(name: str) -> str:
    name = _clean_cell(name)
    if not name:
        raise InputError("A speaker name cannot be empty.")
    if len(name) > MAX_SPEAKER_NAME:
        raise InputError(f"The speaker name '{name[:40]}…' is {len(name)} characters long; use at most "
                         f"{MAX_SPEAKER_NAME}.")
    return name


def apply_sentence_table(project: Project, rows: Iterable[Mapping[str, Any]], default_speaker: str | None = None) -> int:
    """Replace the project's sentences with the edited rows; returns how many sentences remain.

    Rows with no text are dropped (that is how a writer deletes by clearing a cell); a row with no speaker gets
    the default speaker; each sentence's trailing punctuation is recomputed from its (maybe edited) text.
    Nothing is saved when any row is invalid.
    """
    default_speaker = default_speaker or project.settings.default_speaker
    previous = project.sentences
    sentences: list[Sentence] = []
    for number, row in enumerate(rows, start=1):
        text = _clean_cell(row.get("text"))
        if not text:
            continue
        speaker_cell = _clean_cell(row.get("speaker")) or default_speaker
        try:
            speaker = validate_speaker_name(speaker_cell)
        except InputError as err:
            raise InputError(f"Row {number}: {err}") from None
        line_start = bool(row.get("line_start", True)) if row.get("line_start") is not None else True
        line_index = previous[number - 1].line_index if number - 1 < len(previous) else (
            sentences[-1].line_index + 1 if sentences else 0)
        say_as = _clean_cell(row.get("say_as"))
        sentences.append(Sentence(text, speaker, line_start, trailing_punctuation(text), line_index, say_as))
    if not sentences:
        raise InputError("The sentence table is empty: keep at least one sentence with text.")
    project.set_sentences(sentences)
    project.story_text = story_text_from_sentences(sentences, project.settings.speaker_tags)
    project.save()
    return len(sentences)


def rename_speaker(project: Project, old: str, new: str) -> None:
    """Rename (or, when `new` already speaks, merge into) a speaker in the sentences and the cast."""
    new = validate_speaker_name(new)
    if old not in project.speakers():
        raise InputError(f"There is no speaker named '{old}' in this story.")
    if old == new:
        return
    project.set_sentences(
        dataclasses.replace(s, speaker=new if s.speaker == old else s.speaker) for s in project.sentences
    )
    entry = project.cast.pop(old, None)
    if entry is not None and new not in project.cast:
        project.cast[new] = entry
    project.story_text = story_text_from_sentences(project.sentences, project.settings.speaker_tags)
    project.save()


def story_text_from_sentences(sentences: Iterable[Sentence], speaker_tags: bool = True) -> str:
    """The story text that parses back into this table: one line per table line (a new line where a row starts
    one or the speaker changes), `Speaker: …` when speaker tags are on. The Story box follows the table with it."""
    lines: list[tuple[str, list[str]]] = []
    for sentence in sentences:
        if not lines or sentence.line_start or lines[-1][0] != sentence.speaker:
            lines.append((sentence.speaker, []))
        lines[-1][1].append(sentence.text)
    return "".join((f"{speaker}: " if speaker_tags else "") + " ".join(texts) + "\n" for speaker, texts in lines)


def _essence(sentences: Iterable[Sentence]) -> list[tuple[str, str]]:
    return [(" ".join(s.text.split()), s.speaker) for s in sentences]


def edited_rows(project: Project) -> int:
    """How many rows of the table differ from what parsing the project's story text gives (edits made in the
    table that a re-parse would throw away)."""
    from .story import parse_story

    parsed = _essence(parse_story(project.story_text, project.parse_options)) if project.story_text.strip() else []
    current = _essence(project.sentences)
    remaining = list(parsed)
    lost = 0
    for row in current:
        if row in remaining:
            remaining.remove(row)
        else:
            lost += 1
    return lost


@dataclass(frozen=True)
class ParseOutcome:
    """What pressing Parse story did (or would do): `needs_confirm` means nothing was changed yet."""

    action: str                  # "parsed" | "kept" | "needs_confirm"
    sentences: int
    speakers: int
    edits_lost: int = 0

    @property
    def message(self) -> str:
        counts = f"{self.sentences} sentences, {self.speakers} speakers."
        if self.action == "kept":
            return f"The story text did not change, so the table and your edits in it are kept ({counts})"
        if self.action == "needs_confirm":
            return (f"Parsing replaces the sentence table: {self.edits_lost} row(s) you edited in the table would be "
                    f"lost. Press **Replace my edits** to parse anyway, or change the text to include them.")
        return f"Parsed: {counts}"


def parse_into_project(project: Project, text: str, replace_edits: bool = False, **options: Any) -> ParseOutcome:
    """The Story page's Parse: unchanged text and options keep the table (edits included); new text replaces
    the table, but only after confirmation (`replace_edits`) when that would lose rows edited in the table."""
    settings = project.settings.with_changes(**options) if options else project.settings
    same = text == project.story_text and settings == project.settings and bool(project.sentence_rows)
    if same:
        return ParseOutcome("kept", len(project.sentence_rows), len(project.speakers()))
    lost = edited_rows(project) if project.sentence_rows else 0
    if lost and not replace_edits:
        return ParseOutcome("needs_confirm", len(project.sentence_rows), len(project.speakers()), lost)
    previous = project.settings
    project.settings = settings
    try:
        project.set_story(text)
    except DeepstoryError:
        project.settings = previous
        raise
    project.save()
    return ParseOutcome("parsed", len(project.sentence_rows), len(project.speakers()), lost)


def set_say_as(project: Project, index: int, say_as: str) -> None:
    """Give sentence `index` (0-based) a "say as" respelling ("" removes it): its audio (and key) change, its
    subtitle does not. Saved at once."""
    sentences = project.sentences
    if not 0 <= index < len(sentences):
        raise InputError(f"There is no sentence {index + 1}; the story has {len(sentences)}.")
    say_as = _clean_cell(say_as)
    if say_as == sentences[index].text:
        say_as = ""
    sentences[index] = dataclasses.replace(sentences[index], say_as=say_as)
    project.set_sentences(sentences)
    project.save()
