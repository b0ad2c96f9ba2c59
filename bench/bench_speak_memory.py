"""Peak memory of `speak` does not grow with the story: a ~2-minute and a ~20-minute story, each rendered to
story.wav + story.srt in its own fresh process (own project folder, nothing cached), peak RSS compared.

    python bench/bench_speak_memory.py [--short-minutes 2] [--long-minutes 20] [--keep DIR]

The stories are dialogue in the shape of data/stories/example.txt (Alice, the Caterpillar, a narrator), built from
that text's own vocabulary so that every sentence is different (no sentence is synthesised once and reused).
Target: long/short peak RSS ratio ≤ ~1.1 (flat).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "data" / "stories" / "example.txt"
SECONDS_PER_SENTENCE = 3.3   # measured average with the built-in voices, pauses included (calibrates the length)


def make_story(minutes: float, seed: int = 0) -> str:
    """Unique sentences from the example's words, in lines of 1–3 sentences by alternating speakers."""
    words = re.findall(r"[a-z']+", EXAMPLE.read_text(encoding="utf-8").lower())
    vocabulary = sorted(set(w for w in words if len(w) > 1))
    rng = random.Random(seed)
    speakers = ["Alice", "Caterpillar", None]
    lines: list[str] = []
    sentences = 0
    target = int(minutes * 60 / SECONDS_PER_SENTENCE)
    while sentences < target:
        count = rng.randint(1, 3)
        parts = []
        for _ in range(count):
            sentence = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(4, 12)))
            parts.append(sentence[0].upper() + sentence[1:] + rng.choice([".", ".", "?", "!", "..."]))
        speaker = speakers[len(lines) % 3]
        lines.append((f"{speaker}: " if speaker else "") + " ".join(parts))
        sentences += count
    return "\n".join(lines) + "\n"


def child(story: Path, out: Path, project: Path) -> None:
    """Runs in the measured process: the real CLI, then its own peak RSS as one JSON line."""
    sys.path.insert(0, str(REPO))
    from deepstory_core.cli import main

    start = time.perf_counter()
    code = main(["speak", str(story), "-o", str(out), "--project", str(project), "--quiet"])
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"code": code, "peak_rss_mib": peak_kib / 1024, "seconds": seconds}), file=sys.stderr)


def measure(minutes: float, folder: Path) -> dict:
    story = folder / f"story-{minutes:g}min.txt"
    story.write_text(make_story(minutes, seed=int(minutes * 1000)), encoding="utf-8")
    out = folder / f"story-{minutes:g}min.wav"
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(story), str(out), str(folder / f"project-{minutes:g}min")],
        capture_output=True, text=True, check=False, cwd=REPO,
    )
    result_line = [line for line in proc.stderr.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not result_line:
        raise SystemExit(f"render of the {minutes:g}-minute story failed:\n{proc.stderr[-2000:]}")
    result = json.loads(result_line[-1])
    if result["code"] != 0:
        raise SystemExit(f"speak exited {result['code']}:\n{proc.stderr[-2000:]}")
    import wave

    with wave.open(str(out), "rb") as w:
        result["audio_minutes"] = w.getnframes() / w.getframerate() / 60
    result["cues"] = out.with_suffix(".srt").read_text(encoding="utf-8").count(" --> ")
    result["chunks"] = sum(1 for line in proc.stdout.splitlines() if re.match(r"^\s+\d+\s", line))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short-minutes", type=float, default=2.0)
    parser.add_argument("--long-minutes", type=float, default=20.0)
    parser.add_argument("--keep", type=Path, help="keep the stories, WAVs and projects in this folder")
    parser.add_argument("--child", nargs=3, metavar=("STORY", "OUT", "PROJECT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*map(Path, args.child))
        return

    with tempfile.TemporaryDirectory(prefix="bench-speak-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        results = {}
        for minutes in (args.short_minutes, args.long_minutes):
            results[minutes] = r = measure(minutes, folder)
            print(f"{r['audio_minutes']:6.2f} min of audio, {r['cues']:5d} cues, {r['chunks']:4d} chunks: "
                  f"peak RSS {r['peak_rss_mib']:7.1f} MiB, {r['seconds']:6.1f} s "
                  f"({r['audio_minutes'] * 60 / r['seconds']:.0f}x real time)")
        short, long = results[args.short_minutes], results[args.long_minutes]
        print(f"story length ratio {long['audio_minutes'] / short['audio_minutes']:.1f}x, "
              f"peak RSS ratio {long['peak_rss_mib'] / short['peak_rss_mib']:.3f}x (target ≤ ~1.1)")


if __name__ == "__main__":
    main()
