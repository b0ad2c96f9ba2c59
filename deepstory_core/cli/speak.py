"""`python -m deepstory_core speak STORY.txt -o story.wav [--project DIR] [--cast cast.yaml]`

Story → multi-voice narrated story.wav + story.srt (beside it), with the built-in voices, nothing downloaded.
The chunk plan is printed on stdout, progress on stderr. Work is kept in a project folder (by default one derived
from the story file), so running again reuses every sentence already synthesised.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
from pathlib import Path
from typing import TextIO

from ..cast import complete_cast, load_cast_yaml
from ..errors import InputError
from ..progress import StderrProgressBar, no_progress
from ..project import PROJECT_FILE, Project, projects_root, slugify
from ..soundtrack import write_soundtrack
from ..stages.voice import StoryPlan, prepare_soundtrack
from ..story import read_story_file
from ..subtitles import subtitle_cues, write_srt


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "speak", help="story text → multi-voice story.wav + story.srt",
        description="Turn a story (lines like 'Alice: Who are you?') into a narrated WAV with one voice per "
                    "speaker, plus SRT subtitles beside it.",
    )
    parser.add_argument("story", type=Path, help="story text file (UTF-8)")
    parser.add_argument("-o", "--output", type=Path, default=Path("story.wav"), help="WAV to write (default story.wav)")
    parser.add_argument("--project", type=Path, help="project folder to keep the work in (default: one per story file)")
    parser.add_argument("--cast", type=Path, help="YAML mapping speaker → voice id (see the `voices` command)")
    parser.add_argument("--speaker-prefix", action="store_true", help="start each subtitle with its speaker's name")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # 1. check every input before any work, so a mistake costs nothing
    text = read_story_file(args.story)
    out_wav = Path(args.output)
    if out_wav.suffix.lower() != ".wav":
        raise InputError(f"The output {out_wav} must be a .wav file name (the subtitles go beside it as .srt).")
    out_srt = out_wav.with_suffix(".srt")
    check_writable(out_wav)
    check_writable(out_srt)
    cast_from_file = load_cast_yaml(args.cast) if args.cast else {}

    # 2. the project: open it (a damaged project.json stops here, kept as it is) or prepare a new one
    root = Path(args.project) if args.project else default_project_folder(Path(args.story))
    project = Project.open(root) if (root / PROJECT_FILE).exists() else Project(root, {"name": Path(args.story).stem})
    if project.story_text != text or not project.sentence_rows:
        project.set_story(text)  # an edited sentence table is kept when the story text did not change
    project.cast = complete_cast(project.speakers(), {**project.cast, **cast_from_file},
                                 project.settings.default_speaker)
    project.save()

    # 3. voices → chunks → soundtrack + subtitles
    progress = no_progress if args.quiet else StderrProgressBar()
    plan = prepare_soundtrack(project, progress)
    print_plan(plan, project, sys.stdout)
    write_soundtrack(project, plan, out_wav, progress)
    write_srt(out_srt, subtitle_cues(plan, project.sentences), plan.sample_rate, args.speaker_prefix)
    print(f"wrote {out_wav} ({format_duration(plan.duration)}, {len(plan.chunks)} chunks) and {out_srt}; "
          f"project: {root}", file=sys.stderr)
    return 0


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


def print_plan(plan: StoryPlan, project: Project, out: TextIO) -> None:
    """The chunk plan, one line per chunk: index, speaker, duration, sentences (1-based, inclusive)."""
    out.write(f"{'chunk':>5}  {'speaker':<24} {'duration':>9}  {'frames':>6}  sentences\n")
    for chunk in plan.chunks:
        first, last = chunk.sentence_ids[0] + 1, chunk.sentence_ids[-1] + 1
        sentences = f"{first}" if first == last else f"{first}-{last}"
        speaker = chunk.speaker if len(chunk.speaker) <= 24 else chunk.speaker[:23] + "…"
        out.write(f"{chunk.index:>5}  {speaker:<24} {chunk.duration(plan.sample_rate):>8.2f}s  "
                  f"{chunk.num_frames:>6}  {sentences} ({len(chunk.sentence_ids)})\n")
    out.write(f"{len(plan.chunks)} chunks, {len(plan.sentence_times)} sentences, "
              f"{format_duration(plan.duration)}\n")
    out.flush()
