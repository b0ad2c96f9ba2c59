"""The built-in demo: a short two-speaker story with built-in voices and portraits — renders with nothing downloaded."""

from __future__ import annotations

import os
from pathlib import Path

from .cast import CastEntry
from .project import PROJECT_FILE, Project

DEMO_STORY = """\
Alice: Excuse me, is this the train to the coast?
Grace: It is. But it only leaves when the clock strikes nine.
Alice: Then I have time for a cup of tea. Would you like one?
Grace: Thank you, that is very kind. I have been waiting here since dawn.
Alice: Since dawn? Whatever for?
Grace: I wanted to see the sun rise over the station roof. It was worth it.
Alice: Then I shall come early tomorrow, and you can tell me where to stand.
Grace: By the old clock tower, just before six. The light comes through the glass like honey.
"""

# speaker → (voice id, built-in portrait id): two different people with two clearly different voices.
DEMO_CAST = {
    "Alice": ("espeak:en-us+f2", "builtin:eileen"),
    "Grace": ("espeak:en-us+f3", "builtin:hopper"),
}


DEMO_FOLDER = "demo"


def is_demo(project) -> bool:
    """The demo a fresh install opens on (its folder in the projects home)."""
    return project.root.name == DEMO_FOLDER


def create_demo_project(root: str | os.PathLike[str]) -> Project:
    """A project holding the demo story and cast (opened as it is when it already exists there)."""
    root = Path(root)
    project = Project.open(root) if (root / PROJECT_FILE).exists() else Project.create(root, name="Deepstory demo")
    if project.story_text != DEMO_STORY or not project.sentence_rows:
        project.set_story(DEMO_STORY)
    for speaker, (voice, portrait) in DEMO_CAST.items():
        project.cast[speaker] = CastEntry(voice_id=voice, portrait=portrait)
    project.save()
    return project
