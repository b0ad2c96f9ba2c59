"""Command-line interface. Each command lives in its own module with a `register(subparsers)` function.

Errors the user can fix (`DeepstoryError`) are printed as one line and give exit code 2 — never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from deepstory_kernel.errors import DeepstoryError

# Command modules, in the order `--help` lists them.
COMMAND_MODULES = ("speak", "voices", "render", "demo", "base", "animate", "score", "models")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m deepstory_core", description="Deepstory Studio without the UI.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except DeepstoryError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished work is kept; run the same command again to resume.", file=sys.stderr)
        return 130
