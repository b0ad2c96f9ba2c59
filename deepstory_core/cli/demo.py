"""`python -m deepstory_core demo -o demo.mp4` — the built-in two-speaker demo, rendered with nothing downloaded."""

from __future__ import annotations

import argparse
from pathlib import Path

from deepstory_kernel.errors import InputError

from ..demo import create_demo_project
from ..project import projects_root
from ..stages.export import subtitles_path
from .common import check_writable
from .render import add_render_options, apply_options, render_project


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="render the built-in two-speaker demo story (no downloads)",
        description="Render a short built-in story with the built-in voices, portraits and animation.",
    )
    parser.add_argument("-o", "--output", type=Path, default=Path("demo.mp4"), help="video to write (default demo.mp4)")
    add_render_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = Path(args.output)
    if out.suffix.lower() != ".mp4":
        raise InputError(f"The output {out} must be an .mp4 file name.")
    check_writable(out, example="demo.mp4")
    check_writable(subtitles_path(out), example="demo.srt")
    project = create_demo_project(Path(args.project) if args.project else projects_root() / "demo")
    apply_options(project, args)
    project.save()
    return render_project(project, out, args)
