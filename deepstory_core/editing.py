"""Edits a writer makes in the studio's sentence table and speaker list, validated before they are saved.

Pages pass plain rows (dicts from `st.data_editor`); everything checked or derived here — empty rows dropped,
trailing punctuation recomputed from the edited text, speaker names validated — so the CLI and the UI agree.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from deepstory_kernel.errors import InputError

from .project import Project
from .story import MAX_SPEAKER_NAME, Sentence, trailing_punctuation


def sentence_table(project: Project) -> list[dict[str, Any]]:
    """Rows for the editor: one per sentence, in story order."""
    return [{"speaker": s.speaker, "text": s.text, "line_start": bool(s.line_start)} for s in project.sentences]


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
        sentences.append(Sentence(text, speaker, line_start, trailing_punctuation(text), line_index))
    if not sentences:
        raise InputError("The sentence table is empty: keep at least one sentence with text.")
    project.set_sentences(sentences)
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
        Sentence(s.text, new if s.speaker == old else s.speaker, s.line_start, s.trailing, s.line_index)
        for s in project.sentences
    )
    entry = project.cast.pop(old, None)
    if entry is not None and new not in project.cast:
        project.cast[new] = entry
    project.save()
