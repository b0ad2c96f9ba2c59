"""The built-in demo: a short two-speaker story with built-in voices and portraits — renders with nothing downloaded."""

from __future__ import annotations

import os
from pathlib import Path

from .cast import CastEntry
from .project import PROJECT_FILE, Project

DEMO_STORY = """\
Alice: Excuse me, is this the train to the coast?
Bob: It is. But it only leaves when the clock strikes nine.
Alice: Then I have time for a cup of tea. Would you like one?
Bob: Thank you, that is very kind. I have been waiting here since dawn.
Alice: Since dawn? Whatever for?
Bob: I wanted to see the sun rise over the station roof. It was worth it.
Alice: Then I shall come early tomorrow, and you can tell me where to stand.
Bob: By the old clock tower, just before six. The light comes through the glass like honey.
"""

DEMO_CAST = {
    "Alice": "espeak:en-us+f2",
    "Bob": "espeak:en-gb-scotland+m2",
}


def demo_portraits() -> list[str]:
    """The built-in portrait ids, in the order the demo's speakers take them."""
    from .render import _builtin_portrait_ids

    return _builtin_portrait_ids()


def create_demo_project(root: str | os.PathLike[str]) -> Project:
    """A project holding the demo story and cast (opened as it is when it already exists there)."""
    root = Path(root)
    project = Project.open(root) if (root / PROJECT_FILE).exists() else Project.create(root, name="Deepstory demo")
    if project.story_text != DEMO_STORY or not project.sentence_rows:
        project.set_story(DEMO_STORY)
    portraits = demo_portraits()
    for position, (speaker, voice) in enumerate(DEMO_CAST.items()):
        portrait = portraits[position % len(portraits)] if portraits else None
        project.cast[speaker] = CastEntry(voice_id=voice, portrait=portrait)
    project.save()
    return project
