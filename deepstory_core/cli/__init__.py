"""Command-line interface. Each command lives in its own module with a `register(subparsers)` function.

Errors the user can fix (`DeepstoryError`) are printed as one line and give exit code 2 — never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from deepstory_kernel.errors import DeepstoryError

# Command modules, in the order `--help` lists them.
COMMAND_MODULES = ("speak", "voices", "render", "demo", "base", "animate", "score", "models", "clean")


def build_parser() -> argparse.ArgumentParser:
    prog = "deepstory" if Path(sys.argv[0]).name == "deepstory" else "python -m deepstory_core"   # console script or -m
    parser = argparse.ArgumentParser(prog=prog, description="Deepstory Studio without the UI.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _report_warnings()
    from ..progress import forget_open_line

    forget_open_line()
    try:
        return int(args.func(args) or 0)
    except DeepstoryError as err:
        print(f"{_line_break()}error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # the progress bar's line may be unfinished: the message starts on a line of its own
        print(f"{_line_break()}interrupted: finished work is kept; run the same command again to resume.",
              file=sys.stderr)
        return 130


def _line_break() -> str:
    """A newline when the progress bar left its line unfinished (the message then starts on a line of its own)."""
    from ..progress import line_open

    return "\n" if line_open() else ""


class _StderrWarnings(logging.Handler):
    """`warning: <message>` lines on stderr for what the engine reports while it continues (a damaged artifact
    moved aside and made again), each on its own line even while a progress bar is drawn."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"{_line_break()}warning: {record.getMessage()}", file=sys.stderr)


def _report_warnings() -> None:
    logger = logging.getLogger("deepstory")
    if not any(isinstance(h, _StderrWarnings) for h in logger.handlers):
        logger.addHandler(_StderrWarnings(logging.WARNING))
