"""Peak memory of `speak` and `render` on a story made of ONE 30-minute sentence (no punctuation at all) vs a
1-minute story — each in its own fresh process, nothing cached. Target: long/short peak RSS ≤ 1.2× (#12 item 7).

    python bench/bench_long_sentence_memory.py [--long-minutes 30] [--short-minutes 1] [--keep DIR]

Voices: the built-in espeak narrator (fast), so the bench measures the engine, not a neural voice. `render` uses the
cheap contract-exact base/animate backends of tests/render_backends.py (the built-in lip-sync would take an hour on
45 000 frames; its memory is per batch either way) — what is measured is the engine's memory for one sentence that
long: parsing, voice stage, chunk plan, soundtrack, clips and export.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORDS_PER_MINUTE = 155     # the narrator voice, measured on this vocabulary
VOCABULARY = """river stone cloud amber violet window garden silver morning apple lantern meadow harbour pebble
whisper candle orchard thunder velvet marble feather canyon saddle timber copper willow glacier pepper rabbit
kettle compass ribbon basket thistle maple cedar falcon island mirror needle pocket quiet rustle shadow""".split()


def one_sentence(minutes: float, seed: int = 1) -> str:
    rng = random.Random(seed)
    words = [rng.choice(VOCABULARY) for _ in range(int(minutes * WORDS_PER_MINUTE))]
    return " ".join(words) + "\n"          # no punctuation anywhere: one sentence


def short_story(minutes: float, seed: int = 2) -> str:
    rng = random.Random(seed)
    lines, words = [], 0
    while words < minutes * WORDS_PER_MINUTE:
        sentence = [rng.choice(VOCABULARY) for _ in range(rng.randint(5, 12))]
        words += len(sentence)
        lines.append(" ".join(sentence).capitalize() + ".")
    return "\n".join(lines) + "\n"


def child(command: str, story: Path, out: Path, project: Path) -> None:
    """Runs in the measured process: the real CLI, then its own peak RSS as one JSON line."""
    sys.path.insert(0, str(REPO))
    argv = [command, str(story), "-o", str(out), "--project", str(project), "--quiet"]
    if command == "render":
        from tests import render_backends

        render_backends.register()
        argv += ["--base", "cheap", "--animate", "cheap"]
    from deepstory_core.cli import main

    start = time.perf_counter()
    code = main(argv)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"code": code, "peak_rss_mib": peak_kib / 1024, "seconds": time.perf_counter() - start}),
          file=sys.stderr)


def measure(command: str, name: str, text: str, folder: Path) -> dict:
    story = folder / f"{name}.txt"
    story.write_text(text, encoding="utf-8")
    out = folder / f"{name}-{command}.{'wav' if command == 'speak' else 'mp4'}"
    proc = subprocess.run([sys.executable, __file__, "--child", command, str(story), str(out),
                           str(folder / f"project-{name}-{command}")], capture_output=True, text=True, cwd=REPO)
    lines = [line for line in proc.stderr.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines or json.loads(lines[-1])["code"] != 0:
        raise SystemExit(f"{command} of {name} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(lines[-1])
    srt = out.with_suffix(".srt").read_text(encoding="utf-8")
    result["cues"] = srt.count(" --> ")
    last = srt.strip().split("\n\n")[-1].splitlines()[1].split(" --> ")[1]
    h, m, s = last.replace(",", ".").split(":")
    result["minutes"] = (int(h) * 3600 + int(m) * 60 + float(s)) / 60
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long-minutes", type=float, default=30.0)
    parser.add_argument("--short-minutes", type=float, default=1.0)
    parser.add_argument("--commands", default="speak,render")
    parser.add_argument("--keep", type=Path)
    parser.add_argument("--child", nargs=4, metavar=("COMMAND", "STORY", "OUT", "PROJECT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], *map(Path, args.child[1:]))
        return
    with tempfile.TemporaryDirectory(prefix="bench-long-sentence-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        stories = {"short": short_story(args.short_minutes), "one-sentence": one_sentence(args.long_minutes)}
        for command in args.commands.split(","):
            results = {}
            for name, text in stories.items():
                results[name] = r = measure(command, name, text, folder)
                print(f"{command:>6} {name:>12}: {r['minutes']:6.2f} min, {r['cues']:4d} cues, peak RSS "
                      f"{r['peak_rss_mib']:7.1f} MiB, {r['seconds']:6.1f} s", flush=True)
            ratio = results["one-sentence"]["peak_rss_mib"] / results["short"]["peak_rss_mib"]
            print(f"{command:>6}: one {results['one-sentence']['minutes']:.0f}-minute sentence / "
                  f"{results['short']['minutes']:.1f}-minute story peak RSS = {ratio:.3f}x (target ≤ 1.2)", flush=True)


if __name__ == "__main__":
    main()
