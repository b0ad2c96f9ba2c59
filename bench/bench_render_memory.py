"""Render memory vs story length, and the render's real-time factor, with the built-in backends.

Renders a short story and a long one, each in its own fresh subprocess (so peak RSS is that render's alone), and
prints both peaks, their ratio (target ≤ 1.2: memory is bounded by one chunk, not by the story) and the real-time
factor (story seconds per second of rendering, whole render: voices, bases, clips, export).

Both stories repeat the same pattern of speaker turns (the same longest chunk), so only the length differs.

    python3 bench/bench_render_memory.py                      # 1 vs 10 minutes (~8 min on a 2-core CPU)
    python3 bench/bench_render_memory.py --minutes 1 30       # the full target (~15+ min)
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SENTENCES = [
    "The lantern swung in the wind as the carriage climbed the hill.",
    "Nobody had travelled this road since the winter storms.",
    "Do you hear that sound behind the trees?",
    "It is only the river, running fast with melted snow.",
    "We should reach the village before the moon rises.",
    "I hope the innkeeper kept a fire burning for us.",
    "Tell me again why we left the city in such a hurry.",
    "Because the letter said the house would be sold on Monday.",
]
# Sentences per turn, repeated: turns of 1 to 6 sentences give chunks of a few to ~25 seconds.
TURN_PATTERN = [2, 1, 4, 3, 6, 1, 2, 5]
SECONDS_PER_SENTENCE = 3.6  # measured roughly for the built-in voices (speech + pauses)


def make_story(minutes: float) -> str:
    lines, total, turn, sentence = [], 0.0, 0, 0
    while total < minutes * 60:
        speaker = "Alice" if turn % 2 == 0 else "Bob"
        count = TURN_PATTERN[turn % len(TURN_PATTERN)]
        for _ in range(count):
            lines.append(f"{speaker}: {SENTENCES[sentence % len(SENTENCES)]}")
            sentence += 1
            total += SECONDS_PER_SENTENCE
        turn += 1
    return "\n".join(lines) + "\n"


def child(minutes: float, folder: Path) -> None:
    from deepstory_core.project import Project
    from deepstory_core.render import render_story

    project = Project.create(folder / "project")
    project.set_story(make_story(minutes))
    project.save()
    started = time.monotonic()
    result = render_story(project, out=folder / "story.mp4")
    elapsed = time.monotonic() - started
    print(json.dumps({
        "minutes": minutes,
        "story_s": result.frames / 25,
        "chunks": result.chunks,
        "elapsed_s": elapsed,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


def run_one(minutes: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="deepstory-bench-") as folder:
        proc = subprocess.run([sys.executable, __file__, "--child", str(minutes), folder], cwd=REPO,
                              stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, nargs=2, default=[1.0, 10.0], metavar=("SHORT", "LONG"))
    parser.add_argument("--child", type=float, help=argparse.SUPPRESS)
    parser.add_argument("folder", nargs="?", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.folder)
        return
    short, long = (run_one(m) for m in args.minutes)
    for run in (short, long):
        print(f"{run['minutes']:>5.1f}-minute story: {run['story_s']:7.1f} s of video, {run['chunks']:4d} chunks, "
              f"peak RSS {run['peak_rss_mb']:7.1f} MB, "
              f"render {run['elapsed_s']:7.1f} s, real-time factor {run['story_s'] / run['elapsed_s']:.2f}×")
    print(f"peak RSS ratio long/short: {long['peak_rss_mb'] / short['peak_rss_mb']:.3f} (target ≤ 1.2)")


if __name__ == "__main__":
    main()
