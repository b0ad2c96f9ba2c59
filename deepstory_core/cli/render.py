"""`python -m deepstory_core render STORY.txt -o OUT.mp4 [--project DIR] [--cast cast.yaml] [--base builtin|sda]
[--animate builtin|fom] [--retry-chunk N] [--full-frame | --face-crop] [--canvas 512|720p|1080p] [--soft-subtitles]
[--ray local[:N]|auto|ray://HOST:10001]`

Story → talking-portrait video (+ .srt beside it). Work is kept in a project folder (one per story file by
default), so running again renders only what changed, and a killed render resumes where it stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path

from deepstory_kernel.errors import InputError

from ..backends import ANIMATE_BACKENDS, BASE_BACKENDS
from ..cast import load_cast_yaml
from ..inputs import refuse_outputs_that_are_inputs
from ..jobs import ProjectLock
from ..progress import StderrProgressBar, no_progress
from ..project import Project
from ..render import render_story, retry_chunk
from ..stages.export import subtitles_path, webvtt_path
from ..story import read_story_file
from .common import (
    cast_portrait_paths,
    check_writable,
    format_duration,
    locked_project_folder,
    project_for_story,
    story_project_root,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "render", help="story text → talking-portrait video (.mp4 + .srt)",
        description="Render a story (lines like 'Alice: Who are you?') into a video where each speaker's portrait "
                    "speaks its lines in its own voice. Only what changed since the last run is rendered.",
    )
    parser.add_argument("story", type=Path, help="story text file (UTF-8)")
    parser.add_argument("-o", "--output", type=Path, default=Path("story.mp4"), help="video to write (default story.mp4)")
    add_render_options(parser)
    parser.add_argument("--cast", type=Path, help="YAML: speaker → voice id, or {voice: ..., portrait: IMAGE}")
    parser.add_argument("--retry-chunk", type=int, metavar="N", action="append",
                        help="draw a new seed for chunk N (1-based, as printed by `speak`) before rendering")
    parser.set_defaults(func=run)


def add_render_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", type=Path, help="project folder to keep the work in")
    parser.add_argument("--base", choices=sorted(BASE_BACKENDS), help="base animation backend (default builtin)")
    parser.add_argument("--animate", choices=sorted(ANIMATE_BACKENDS), help="animate (motion transfer) backend (default builtin)")
    frame = parser.add_mutually_exclusive_group()
    frame.add_argument("--full-frame", action="store_true",
                       help="the animated face in the whole portrait, fitted into the canvas (the default)")
    frame.add_argument("--face-crop", action="store_true", help="256×256 face crops instead of the whole portrait")
    parser.add_argument("--canvas", choices=("512", "720p", "1080p"), help="full-frame output size (default 720p)")
    parser.add_argument("--soft-subtitles", action="store_true", help="also embed the subtitles as a track")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--ray", metavar="WHERE", type=_ray_option,
                        help="render bases and clips on a Ray cluster: local[:N] (start N local workers), auto (the "
                             "cluster on this machine), ray://HOST:10001 or HOST:PORT; default: the project's setting")
    parser.add_argument("--ray-shared-project", action="store_true",
                        help="the project folder is on a path every Ray node shares: workers write in place")


def _ray_option(value: str) -> str:
    """`--ray` checked at parse time (a malformed address is a usage error, exit code 2)."""
    from ..distributed import parse_ray_target

    try:
        parse_ray_target(value)
    except InputError as err:
        raise argparse.ArgumentTypeError(str(err)) from err
    return value


def apply_options(project: Project, args: argparse.Namespace) -> None:
    changes = {}
    if args.base:
        changes["base_backend"] = args.base
    if args.animate:
        changes["animate_backend"] = args.animate
    changes["full_frame"] = not args.face_crop          # export options: as given on this command line
    if args.canvas:
        changes["canvas"] = args.canvas
    changes["soft_subtitles"] = bool(args.soft_subtitles)
    project.settings = project.settings.with_changes(**changes)


def run(args: argparse.Namespace) -> int:
    # every input and output is checked before the project is touched
    text = read_story_file(args.story)
    out = Path(args.output)
    if out.suffix.lower() != ".mp4":
        raise InputError(f"The output {out} must be an .mp4 file name (the subtitles go beside it as .srt).")
    check_writable(out, example="story.mp4")
    check_writable(subtitles_path(out), example="story.srt")
    check_writable(webvtt_path(out), example="story.vtt")
    cast_from_file = load_cast_yaml(args.cast) if args.cast else {}
    refuse_outputs_that_are_inputs([out, subtitles_path(out), webvtt_path(out)],
                                   [args.story, args.cast, *cast_portrait_paths(cast_from_file, args.cast)])
    root = story_project_root(Path(args.story), args.project)
    with locked_project_folder(root):   # before any write: a refused second render changes nothing
        project = project_for_story(Path(args.story), text, args.project, cast_from_file, args.cast,
                                    no_progress if args.quiet else StderrProgressBar())
        apply_options(project, args)
        project.save()
        return render_project(project, out, args, retry=args.retry_chunk or [], locked=True)


def _ray_runner(project: Project, args: argparse.Namespace):
    """`--ray` as given, else the project's setting; with `--ray-shared-project` an executor writing in place."""
    target = args.ray
    if not args.ray_shared_project:
        return target
    from ..distributed import RayExecutor

    return RayExecutor(target if target is not None else project.settings.ray or "local", shared_store=True)


def render_project(project: Project, out: Path, args: argparse.Namespace, retry: Sequence[int] = (),
                   locked: bool = False) -> int:
    """Render `project` to `out`; `locked`: the caller already holds the project lock."""
    progress = no_progress if args.quiet else StderrProgressBar()
    with contextlib.nullcontext() if locked else ProjectLock(project.root):  # one render per project at a time
        retried = [retry_chunk(project, number - 1, progress=progress) for number in retry]
        result = render_story(project, progress, out=out, ray=_ray_runner(project, args))
    bases = result.rendered["base"] + sum(r.rendered["base"] for r in retried)
    clips = result.rendered["animate"] + sum(r.rendered["animate"] for r in retried)
    print(f"wrote {result.video} ({format_duration(result.frames / project.settings.fps)}, {result.chunks} chunks; "
          f"rendered {bases} bases and {clips} clips, reused {result.chunks - clips} clips) and {result.subtitles}; "
          f"project: {project.root}", file=sys.stderr)
    return 0
