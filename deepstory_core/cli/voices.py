"""`python -m deepstory_core voices`: list the voice ids a cast file may use."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..voices import NARRATOR_VOICE, list_voices


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("voices", help="list the available voices (ids for cast.yaml)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="data folder holding dctts/ voices (default: $DEEPSTORY_DATA, else data/ of the install)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    voices = list_voices(args.data_dir)
    width = max(len(v.voice_id) for v in voices)
    for v in voices:
        status = "available" if v.available else "unavailable"
        extra = " (narrator default)" if v.voice_id == NARRATOR_VOICE else ""
        note = f" — {v.note}" if v.note else ""
        print(f"{v.voice_id:<{width}}  {status:<11}  {v.label}{extra}{note}")
    return 0
