"""`deepstory clean PROJECT_DIR`: delete the artifacts the project's current story no longer uses."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..cleanup import clean_up
from ..jobs import ProjectLock
from ..project import Project
from .common import existing_project_folder


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "clean", help="delete a project's artifacts that its current story no longer uses",
        description="Delete sentence audio, chunk audio, bases and clips made for older versions of the story, "
                    "cast or backends (they are rendered again if ever needed). The exported video is kept.")
    parser.add_argument("project", type=Path, help="the project folder (holds project.json)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    root = existing_project_folder(Path(args.project))
    with ProjectLock(root):   # never while a render of this project runs
        removed = clean_up(Project.open(root))
    summary = ", ".join(f"{count} in {stage}/" for stage, count in removed.items()) or "nothing to check"
    print(f"removed {sum(removed.values())} files ({summary})", file=sys.stderr)
    return 0
