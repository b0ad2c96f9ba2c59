"""Whether the exported video still shows the story: a fingerprint of everything a render depends on, written
beside the video at export and compared on every page.

Why: editing a sentence, a speaker, the cast or a setting after an export leaves `story.mp4` showing the old story;
the studio says so on every page instead of offering the stale video as if it were current.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from deepstory_kernel.errors import DeepstoryError

from .atomic import atomic_write_text
from .project import slugify

ExportState = Literal["none", "current", "stale"]


def story_fingerprint(project) -> str:
    """What the exported video depends on: sentences, cast, settings and per-chunk seeds (not the name)."""
    data = project.to_dict()
    relevant = {k: data[k] for k in ("sentences", "cast", "settings", "chunks")}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:24]


def _record_path(video: Path) -> Path:
    return video.with_name(video.name + ".json")


def record_export(video: str | Path, fingerprint: str) -> None:
    """Written after a successful export (with the fingerprint taken when the export started)."""
    atomic_write_text(_record_path(Path(video)), json.dumps({"fingerprint": fingerprint}))


def export_state(project, video: str | Path) -> ExportState:
    """"none" (no video), "current" (it shows the story as it is now) or "stale" (the story changed since)."""
    video = Path(video)
    if not video.is_file():
        return "none"
    try:
        recorded = json.loads(_record_path(video).read_text(encoding="utf-8")).get("fingerprint")
    except (OSError, ValueError, AttributeError):
        return "stale"   # an export from before fingerprints: nothing says it matches
    return "current" if recorded == story_fingerprint(project) else "stale"


def download_name(project, suffix: str) -> str:
    """Downloads are named after the project ("Lighthouse Storm" → lighthouse-storm.mp4)."""
    return f"{slugify(project.name, 60)}.{suffix.lstrip('.')}"


def safe_export_state(project, video: str | Path) -> ExportState:
    try:
        return export_state(project, video)
    except DeepstoryError:
        return "none"
