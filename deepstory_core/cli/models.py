"""`python -m deepstory_core models`: every backend, its status, and exactly which file goes where.

Cheap checks (file headers and pickles) plus one NaN/Inf scan of each weight file, remembered per exact file,
so this is fast after the first run even with all models present.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import registry


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("models", help="which model files are installed, and where missing ones go")
    parser.add_argument("--data", type=Path, default=None, help="data folder (default: ./data of the install)")
    parser.set_defaults(func=run)


def render_table(data: Path | None = None) -> str:
    rows = []
    details = []
    for entry in registry.entries(data):
        result = registry.check(entry)
        rows.append((entry.backend_id, entry.stage, result.status, entry.title))
        if entry.builtin:
            continue
        for model_file in entry.files:
            file_result = registry.check_file(model_file, entry)
            line = f"  [{file_result.status}] {model_file.path}  — {model_file.what}"
            if file_result.status != "missing" and not file_result.ready:
                line += f"\n      {file_result.message}"
            if not file_result.ready:
                line += f"\n      fix: {file_result.fix}"
            details.append((entry.backend_id, line))
    widths = [max(len(r[i]) for r in rows + [("backend", "stage", "status", "")]) for i in range(3)]
    out = [f"{'backend':<{widths[0]}}  {'stage':<{widths[1]}}  {'status':<{widths[2]}}  description"]
    out += [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:<{widths[2]}}  {d}" for a, b, c, d in rows]
    out.append("")
    current = None
    for backend_id, line in details:
        if backend_id != current:
            out.append(f"{backend_id}:")
            current = backend_id
        out.append(line)
    return "\n".join(out)


def run(args: argparse.Namespace) -> int:
    print(render_table(args.data))
    return 0
