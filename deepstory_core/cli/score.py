"""`python -m deepstory_core score PROJECT` — lip-sync quality of a rendered project, measured by the face model.

Scores every rendered chunk that has none yet (stored beside the clips, so the studio's tables show them) and
prints one line per chunk; `--export VIDEO` also measures an exported story video as a whole.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from deepstory_kernel.errors import InputError

from ..project import Project
from .common import existing_project_folder


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "score", help="lip-sync quality of a rendered project's chunks (face model on the frames)",
        description="Measure each rendered chunk with the face model: jaw vs loudness, lips closing in silence and "
                    "on p/b/m, blinks, identity and seams. Scores are stored for the studio's tables.")
    parser.add_argument("project", type=Path, help="project folder (holds project.json)")
    parser.add_argument("--stage", choices=("animate", "base"), default="animate", help="which videos to score")
    parser.add_argument("--export", type=Path, metavar="VIDEO", help="also score this exported story video")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..quality_chunks import chunk_scores, score_export, score_missing

    project = Project.open(existing_project_folder(Path(args.project)))
    measured = score_missing(project, args.stage)
    scores = chunk_scores(project)
    if not scores:
        print(f"No rendered {args.stage} videos to score yet; render the project first.")
    for index in sorted(scores):
        score = scores[index].get(args.stage)
        if score is not None:
            new = " (new)" if index in measured else ""
            print(f"chunk {index + 1}{new}: {score.summary()}")
    if args.export is not None:
        if not Path(args.export).is_file():
            raise InputError(f"The video {args.export} does not exist.")
        print(f"export {args.export}: {score_export(project, args.export).summary()}")
    return 0
