"""What several commands share: output checks, the default project of a story file, opening it with a cast."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from deepstory_kernel.errors import InputError, StorageError

from ..cast import CastEntry, complete_cast
from ..jobs import ProjectLock
from ..progress import ProgressCallback, ProgressEvent, no_progress
from ..project import PROJECT_FILE, Project, projects_root, slugify


@contextlib.contextmanager
def locked_project_folder(root: Path) -> Iterator[None]:
    """Hold the project's lock (the one the studio and every other command take) for the whole command, before
    anything in the project is written: a refused second command changes nothing. A new folder
    is removed again when the command fails before it made anything (no empty projects left behind)."""
    created = not root.exists()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StorageError(f"Cannot create the project folder {root}: {err.strerror or err}.") from None
    try:
        with ProjectLock(root):
            yield
    except BaseException:
        if created and not _holds_work(root):
            shutil.rmtree(root, ignore_errors=True)
        raise


def _holds_work(root: Path) -> bool:
    """Whether a project folder holds computed artifacts (kept after a failure: the next run reuses them)."""
    artifacts = root / "artifacts"
    return artifacts.is_dir() and any(p.is_file() and not p.name.startswith(".") for p in artifacts.rglob("*"))


def existing_project_folder(root: Path) -> Path:
    """A folder the user named as a project: refused in one line unless it holds a project.json."""
    if not (root / PROJECT_FILE).is_file():
        raise InputError(f"{root} is not a project folder (it has no {PROJECT_FILE}).")
    return root


def story_project_root(story_path: Path, project_dir: Path | None) -> Path:
    return Path(project_dir) if project_dir else default_project_folder(story_path)


def project_for_story(story_path: Path, text: str, project_dir: Path | None, cast: Mapping[str, CastEntry],
                      cast_file: Path | None = None, progress: ProgressCallback = no_progress) -> Project:
    """The story's project (opened, or made in the default folder), with the story text and the cast applied.

    An edited sentence table is kept when the story text did not change; portrait paths of the cast file become
    project uploads. Saved before returning.
    """
    root = story_project_root(story_path, project_dir)
    project = Project.open(root) if (root / PROJECT_FILE).exists() else Project.create(root, story_path.stem)
    if project.story_text != text or not project.sentence_rows:
        project.set_story(text, lambda done, total: progress(ProgressEvent("parse", done, total, "characters")))
    given = _resolve_portraits(project, cast, cast_file)
    project.cast = complete_cast(project.speakers(), {**project.cast, **given}, project.settings.default_speaker,
                                 project.sentences)
    project.save()
    return project


def _resolve_portraits(project: Project, cast: Mapping[str, CastEntry], cast_file: Path | None) -> dict[str, CastEntry]:
    """Portrait paths from a cast file become project uploads (checked to be images first, then stored by content
    hash, never by user name)."""
    from ..portraits import add_portrait_upload

    resolved = {}
    for speaker, entry in cast.items():
        portrait = entry.portrait
        if portrait and not portrait.startswith("builtin:"):
            found = _find_portrait(portrait, speaker, cast_file)
            portrait = add_portrait_upload(project, found, f"the portrait of {speaker[:40]!r}")
        resolved[speaker] = dataclasses.replace(entry, portrait=portrait)
    return resolved


def _find_portrait(portrait: str, speaker: str, cast_file: Path | None) -> Path:
    candidates = [Path(portrait).expanduser()]
    if cast_file is not None:
        candidates.insert(0, cast_file.parent / portrait)
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        raise InputError(f"The portrait {portrait!r} of speaker {speaker[:40]!r} does not exist.")
    return found


def cast_portrait_paths(cast: Mapping[str, CastEntry], cast_file: Path | None) -> list[Path]:
    """The portrait files a cast file names (inputs a command must never overwrite)."""
    paths = []
    for speaker, entry in cast.items():
        if entry.portrait and not entry.portrait.startswith("builtin:"):
            with contextlib.suppress(InputError):
                paths.append(_find_portrait(entry.portrait, speaker, cast_file))
    return paths


def default_project_folder(story_path: Path) -> Path:
    """One project per story file: `<projects>/<slug of the file name>-<hash of its absolute path>`."""
    digest = hashlib.sha256(str(story_path.resolve()).encode("utf-8")).hexdigest()[:10]
    return projects_root() / f"{slugify(story_path.stem)}-{digest}"


def check_writable(path: Path, example: str = "story.wav") -> None:
    """InputError unless a file can be created at `path` (tried for real: a temp file in its folder);
    `example`: the file name the "is a folder" hint suggests."""
    if path.is_dir():
        raise InputError(f"The output {path} is a folder; give a file name such as {path / example}.")
    if path.exists() and not path.is_file():
        raise InputError(f"The output {path} is not a regular file; choose another output path.")
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
