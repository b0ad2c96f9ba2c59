"""What several commands share: output checks, the default project of a story file, opening it with a cast."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from deepstory_kernel.errors import InputError

from ..cast import CastEntry, complete_cast
from ..project import PROJECT_FILE, Project, projects_root, slugify


def project_for_story(story_path: Path, text: str, project_dir: Path | None, cast: Mapping[str, CastEntry],
                      cast_file: Path | None = None) -> Project:
    """The story's project (opened, or made in the default folder), with the story text and the cast applied.

    An edited sentence table is kept when the story text did not change; portrait paths of the cast file become
    project uploads. Saved before returning.
    """
    root = Path(project_dir) if project_dir else default_project_folder(story_path)
    project = Project.open(root) if (root / PROJECT_FILE).exists() else Project.create(root, story_path.stem)
    if project.story_text != text or not project.sentence_rows:
        project.set_story(text)
    given = _resolve_portraits(project, cast, cast_file)
    project.cast = complete_cast(project.speakers(), {**project.cast, **given}, project.settings.default_speaker)
    project.save()
    return project


def _resolve_portraits(project: Project, cast: Mapping[str, CastEntry], cast_file: Path | None) -> dict[str, CastEntry]:
    """Portrait paths from a cast file become project uploads (stored by content hash, never by user name)."""
    resolved = {}
    for speaker, entry in cast.items():
        portrait = entry.portrait
        if portrait and not portrait.startswith("builtin:"):
            candidates = [Path(portrait).expanduser()]
            if cast_file is not None:
                candidates.insert(0, cast_file.parent / portrait)
            found = next((c for c in candidates if c.is_file()), None)
            if found is None:
                raise InputError(f"The portrait {portrait!r} of speaker {speaker[:40]!r} does not exist.")
            portrait = project.add_upload(found.read_bytes(), found.name)
        resolved[speaker] = CastEntry(entry.voice_id, portrait)
    return resolved


def default_project_folder(story_path: Path) -> Path:
    """One project per story file: `<projects>/<slug of the file name>-<hash of its absolute path>`."""
    digest = hashlib.sha256(str(story_path.resolve()).encode("utf-8")).hexdigest()[:10]
    return projects_root() / f"{slugify(story_path.stem)}-{digest}"


def check_writable(path: Path) -> None:
    """InputError unless a file can be created at `path` (tried for real: a temp file in its folder)."""
    if path.is_dir():
        raise InputError(f"The output {path} is a folder; give a file name such as {path / 'story.wav'}.")
    folder = path.parent
    if folder.exists() and not folder.is_dir():
        raise InputError(f"Cannot write {path}: {folder} is a file, not a folder; choose another output path.")
    if not folder.is_dir():
        raise InputError(f"Cannot write {path}: the folder {folder} does not exist; create it or choose another path.")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".deepstory-write-test-"):
            pass
    except OSError as err:
        raise InputError(f"Cannot write {path}: {err.strerror or err}; choose another output path.") from None
    if path.exists() and not os.access(path, os.W_OK) and not os.access(folder, os.W_OK):
        raise InputError(f"Cannot replace {path}: no permission; choose another output path.")


def format_duration(seconds: float) -> str:
    minutes, secs = divmod(seconds, 60)
    return f"{int(minutes)}:{secs:05.2f}"
