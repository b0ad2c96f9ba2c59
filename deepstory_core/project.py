"""A project on disk: `project.json` (versioned) + `artifacts/` (content-addressed) + `uploads/` (sanitised names).

project.json holds everything the user decided: the story text, the edited sentence table, the cast, the settings
and per-chunk state (seed overrides). Everything computed lives in the artifact store and can be recomputed.
Chunk seeds are keyed by a chunk's *content* key, so re-planning (editing an earlier sentence) does not shift
the seeds of the chunks that did not change. Speaker names and user text never become paths.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import time
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepstory_kernel.errors import InputError, StorageError

from .artifacts import ArtifactStore
from .atomic import atomic_write_bytes, atomic_write_text
from .cast import CastEntry
from .paths import paths
from .project_schema import SchemaError, validate_project_data
from .settings import Settings

SCHEMA_VERSION = 1
PROJECT_FILE = "project.json"
# schema N → N+1 upgrades of the raw json dict; add one when the schema changes.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}

UPLOAD_EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".wav", ".mp3", ".flac", ".ogg", ".m4a",
                     ".mp4", ".txt", ".yaml", ".yml"}
_UPLOAD_NAME_RE = re.compile(r"^[0-9a-f]{20}\.[a-z0-9]{1,5}$")
_SEED_MASK = 0x7FFF_FFFF


def default_seed(content_key: str) -> int:
    """A chunk's seed before any retry: derived from its content, so the same chunk always looks the same."""
    return int(hashlib.sha256(f"seed:{content_key}".encode()).hexdigest()[:8], 16) & _SEED_MASK


class Project:
    """Load with `Project.open(root)`, make with `Project.create(root)`, change attributes, then `save()`."""

    def __init__(self, root: str | os.PathLike[str], data: dict[str, Any] | None = None) -> None:
        self.root = Path(root)
        data = data or {}
        self.name: str = str(data.get("name") or self.root.name)
        self.created: float = float(data.get("created", time.time()))
        self.story_text: str = str(data.get("story", ""))
        self.settings: Settings = Settings.from_dict(data.get("settings", {}))
        self.sentence_rows: list[dict[str, Any]] = [dict(row) for row in data.get("sentences", [])]
        self.cast: dict[str, CastEntry] = {str(k): CastEntry.from_dict(v) for k, v in data.get("cast", {}).items()}
        self.chunk_state: dict[str, dict[str, Any]] = {str(k): dict(v) for k, v in data.get("chunks", {}).items()}
        self.store = ArtifactStore(self.root / "artifacts")

    # -- files -------------------------------------------------------------------------------------------------
    @property
    def project_file(self) -> Path:
        return self.root / PROJECT_FILE

    @property
    def uploads_dir(self) -> Path:
        return self.root / "uploads"

    @classmethod
    def create(cls, root: str | os.PathLike[str], name: str | None = None) -> Project:
        root = Path(root)
        if (root / PROJECT_FILE).exists():
            raise InputError(f"{root} already holds a project; open it instead of creating a new one.")
        project = cls(root, {"name": name or root.name})
        project.save()
        return project

    @classmethod
    def open(cls, root: str | os.PathLike[str]) -> Project:
        root = Path(root)
        path = root / PROJECT_FILE
        data = _load_project_json(path)
        try:
            return cls(root, data)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            backup = _keep_damaged_copy(path)
            raise StorageError(f"{path} has damaged contents ({type(err).__name__}: {err}); a copy was kept as "
                               f"{backup.name}. Fix or delete it.") from err

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION,
            "name": self.name,
            "created": self.created,
            "story": self.story_text,
            "settings": self.settings.to_dict(),
            "sentences": self.sentence_rows,
            "cast": {speaker: entry.to_dict() for speaker, entry in self.cast.items()},
            "chunks": self.chunk_state,
        }

    def save(self) -> None:
        """Atomic: a crash leaves the previous project.json, never half of one. Nothing is written when the file
        already holds exactly this (so a read-only, finished project can still be opened and exported)."""
        text = json.dumps(self.to_dict(), ensure_ascii=False, indent=1)
        try:
            if self.project_file.read_bytes() == text.encode("utf-8"):
                return
        except OSError:
            pass
        atomic_write_text(self.project_file, text)

    def rename(self, display_name: str) -> None:
        """Change the display name only; the folder keeps its safe name."""
        display_name = " ".join(display_name.split())
        if not display_name:
            raise InputError("A project name cannot be empty.")
        self.name = display_name[:200]
        self.save()

    # -- story and sentences -----------------------------------------------------------------------------------
    @property
    def parse_options(self):  # -> story.ParseOptions
        from .story import ParseOptions

        return ParseOptions(speaker_tags=self.settings.speaker_tags, default_speaker=self.settings.default_speaker,
                            group=self.settings.sentence_group)

    @property
    def sentences(self) -> list:  # -> list[story.Sentence]
        """The sentence table as `story.Sentence`s; fields a row lacks get defaults (trailing from the text)."""
        from .story import Sentence, trailing_punctuation

        fields = {f.name for f in dataclasses.fields(Sentence)}
        result = []
        for row in self.sentence_rows:
            values = {k: v for k, v in row.items() if k in fields}
            values.setdefault("line_start", False)
            values.setdefault("line_index", 0)
            values.setdefault("trailing", trailing_punctuation(str(row["text"])))
            result.append(Sentence(**values))
        return result

    def set_sentences(self, sentences) -> None:
        """Replace the sentence table (e.g. after edits in the UI)."""
        self.sentence_rows = [_sentence_row(s) for s in sentences]

    def set_story(self, text: str, progress: Callable[[int, int], None] | None = None) -> None:
        """New story text: parse it with the project's options and replace the sentence table (`progress`: see
        `story.parse_story`)."""
        from .story import parse_story

        sentences = parse_story(text, self.parse_options, progress)
        self.story_text = text
        self.set_sentences(sentences)

    def speakers(self) -> list[str]:
        """Speakers in order of first appearance."""
        return list(dict.fromkeys(row["speaker"] for row in self.sentence_rows))

    # -- per-chunk state ---------------------------------------------------------------------------------------
    def seed_for(self, content_key: str) -> int:
        state = self.chunk_state.get(content_key, {})
        return int(state["seed"]) if "seed" in state else default_seed(content_key)

    def retry_chunk(self, chunk_or_key: Any) -> int:
        """Give a chunk a new seed (hence new base/animate keys); returns it. Call `save()` to keep it."""
        content_key = getattr(chunk_or_key, "content_key", chunk_or_key)
        current = self.seed_for(content_key)
        digest = hashlib.sha256(f"retry:{content_key}:{current}".encode()).hexdigest()
        new_seed = int(digest[:8], 16) & _SEED_MASK
        if new_seed == current:
            new_seed = (current + 1) & _SEED_MASK
        self.chunk_state.setdefault(content_key, {})["seed"] = new_seed
        return new_seed

    # -- uploads -----------------------------------------------------------------------------------------------
    def add_upload(self, data: bytes, original_name: str = "") -> str:
        """Store user-given bytes under a content hash + a known extension; returns the stored name."""
        suffix = Path(original_name or "").suffix.lower()
        extension = suffix if suffix in UPLOAD_EXTENSIONS else ".bin"
        stored = hashlib.sha256(data).hexdigest()[:20] + extension
        path = self.uploads_dir / stored
        if not path.is_file():
            atomic_write_bytes(path, data)
        return stored

    def upload_path(self, stored_name: str) -> Path:
        """Path of an upload by its stored name; anything that is not such a name is refused."""
        if not _UPLOAD_NAME_RE.match(stored_name or ""):
            raise InputError(f"{stored_name!r} is not the name of an upload in this project.")
        return self.uploads_dir / stored_name


def _sentence_row(sentence: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(sentence) and not isinstance(sentence, type):
        row = dataclasses.asdict(sentence)
    else:
        row = dict(sentence)
    for required in ("text", "speaker"):
        if required not in row:
            raise InputError(f"A sentence needs a {required!r}; got {sorted(row)}.")
    row["text"], row["speaker"] = str(row["text"]), str(row["speaker"])
    return row


def _load_project_json(path: Path) -> dict[str, Any]:
    """Read, validate and migrate project.json; a damaged file is kept aside and reported in one line."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as err:
        raise StorageError(f"No project at {path.parent}: {PROJECT_FILE} is missing.") from err
    except OSError as err:
        raise StorageError(f"Cannot read {path}: {err.strerror or err}.") from err
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        backup = _keep_damaged_copy(path)
        raise StorageError(f"{path} is damaged (not UTF-8 at byte {err.start}); a copy was kept as "
                           f"{backup.name}. Fix or delete it.") from err
    except json.JSONDecodeError as err:
        backup = _keep_damaged_copy(path)
        raise StorageError(f"{path} is damaged (line {err.lineno}: {err.msg}); a copy was kept as "
                           f"{backup.name}. Fix or delete it.") from err
    schema = data.get("schema") if isinstance(data, dict) else None
    if not isinstance(schema, int) or isinstance(schema, bool):
        backup = _keep_damaged_copy(path)
        raise StorageError(f"{path} is not a Deepstory project file (no schema number); a copy was kept as "
                           f"{backup.name}. Fix or delete it.")
    if schema > SCHEMA_VERSION:
        raise InputError(f"{path} was written by a newer Deepstory (schema {schema}; this one reads up to "
                         f"{SCHEMA_VERSION}). Update Deepstory to open it.")
    while schema < SCHEMA_VERSION:
        if schema not in MIGRATIONS:
            raise InputError(f"{path} uses schema {schema}, which this Deepstory cannot upgrade.")
        data = MIGRATIONS[schema](data)
        schema = data["schema"] = schema + 1
    try:
        validate_project_data(data)
    except SchemaError as err:
        backup = _keep_damaged_copy(path)
        raise StorageError(f"{path} is damaged: {err}; a copy was kept as {backup.name}. Fix or delete it.") from None
    return data


def _keep_damaged_copy(path: Path) -> Path:
    """Copy a damaged project.json aside (once per distinct content) so nothing the user made is lost."""
    content = path.read_bytes()
    for existing in path.parent.glob(f"{PROJECT_FILE}.corrupt-*"):
        try:
            if existing.read_bytes() == content:
                return existing
        except OSError:
            continue
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    backup = path.with_name(f"{PROJECT_FILE}.corrupt-{stamp}")
    n = 1
    while backup.exists():
        backup = path.with_name(f"{PROJECT_FILE}.corrupt-{stamp}-{n}")
        n += 1
    try:
        shutil.copyfile(path, backup)
    except OSError:
        return path  # read-only folder: the damaged file itself stays untouched anyway
    return backup


# -- the projects home ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProjectSummary:
    root: Path
    name: str
    modified: float
    damaged: bool = False


def projects_root() -> Path:
    """Where projects live: $DEEPSTORY_PROJECTS, else `<repo>/projects` (`deepstory_core.paths`)."""
    return paths().projects


def slugify(text: str, max_length: int = 40) -> str:
    """ASCII lowercase letters, digits and dashes only — safe as a folder name on every OS."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:max_length].strip("-")
    return slug or "project"


def new_project_folder(name: str, home: Path | None = None) -> Path:
    return (home or projects_root()) / f"{slugify(name)}-{uuid.uuid4().hex[:8]}"


def create_project(name: str, home: Path | None = None) -> Project:
    """A new project in the projects home: folder `<slug>-<random>`, display name as given."""
    return Project.create(new_project_folder(name, home), name=" ".join(name.split())[:200] or "Untitled")


def list_projects(home: Path | None = None) -> list[ProjectSummary]:
    """Projects in the home folder, most recently modified first; damaged ones are listed as such."""
    home = home or projects_root()
    if not home.is_dir():
        return []
    found = []
    for folder in home.iterdir():
        path = folder / PROJECT_FILE
        if not path.is_file():
            continue
        modified = path.stat().st_mtime
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            name = str(data.get("name") or folder.name)
            found.append(ProjectSummary(folder, name, modified))
        except (ValueError, OSError, AttributeError):
            found.append(ProjectSummary(folder, folder.name, modified, damaged=True))
    return sorted(found, key=lambda s: s.modified, reverse=True)
