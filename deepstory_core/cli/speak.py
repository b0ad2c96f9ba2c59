"""`python -m deepstory_core speak STORY.txt -o story.wav [--project DIR] [--cast cast.yaml]`

Story → multi-voice narrated story.wav + story.srt (beside it), with the built-in voices, nothing downloaded.
The chunk plan is printed on stdout, progress on stderr. Work is kept in a project folder (by default one derived
from the story file), so running again reuses every sentence already synthesised.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from deepstory_kernel.errors import InputError

from ..cast import load_cast_yaml
from ..inputs import refuse_outputs_that_are_inputs
from ..progress import StderrProgressBar, no_progress
from ..project import Project
from ..soundtrack import write_soundtrack
from ..stages.voice import StoryPlan, prepare_soundtrack
from ..story import read_story_file
from ..subtitles import subtitle_cues, write_srt
from .common import (
    cast_portrait_paths,
    check_writable,
    format_duration,
    locked_project_folder,
    project_for_story,
    story_project_root,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "speak", help="story text → multi-voice story.wav + story.srt",
        description="Turn a story (lines like 'Alice: Who are you?') into a narrated WAV with one voice per "
                    "speaker, plus SRT subtitles beside it.",
    )
    parser.add_argument("story", type=Path, help="story text file (UTF-8)")
    parser.add_argument("-o", "--output", type=Path, default=Path("story.wav"), help="WAV to write (default story.wav)")
    parser.add_argument("--project", type=Path, help="project folder to keep the work in (default: one per story file)")
    parser.add_argument("--cast", type=Path, help="YAML mapping speaker → voice id (see the `voices` command)")
    parser.add_argument("--speaker-prefix", action="store_true", help="start each subtitle with its speaker's name")
    parser.add_argument("--check", action="store_true",
                        help="voice check: transcribe every sentence (Whisper tiny.en, offline) and list the lines "
                             "whose words a listener may not recover")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # 1. check every input before any work, so a mistake costs nothing
    text = read_story_file(args.story)
    out_wav = Path(args.output)
    if out_wav.suffix.lower() != ".wav":
        raise InputError(f"The output {out_wav} must be a .wav file name (the subtitles go beside it as .srt).")
    out_srt = out_wav.with_suffix(".srt")
    check_writable(out_wav, example="story.wav")
    check_writable(out_srt, example="story.srt")
    cast_from_file = load_cast_yaml(args.cast) if args.cast else {}
    refuse_outputs_that_are_inputs([out_wav, out_srt],
                                   [args.story, args.cast, *cast_portrait_paths(cast_from_file, args.cast)])

    # 2. the project, locked before anything in it is written (a damaged project.json stops here, kept as it is)
    with locked_project_folder(story_project_root(Path(args.story), args.project)):
        progress = no_progress if args.quiet else StderrProgressBar()
        project = project_for_story(Path(args.story), text, args.project, cast_from_file, args.cast, progress)

        # 3. voices → chunks → soundtrack + subtitles
        plan = prepare_soundtrack(project, progress)
        print_plan(plan, project, sys.stdout)
        write_soundtrack(project, plan, out_wav, progress)
        write_srt(out_srt, subtitle_cues(plan, project.sentences), plan.sample_rate, args.speaker_prefix)
    print(f"wrote {out_wav} ({format_duration(plan.duration)}, {len(plan.chunks)} chunks) and {out_srt}; "
          f"project: {project.root}", file=sys.stderr)
    if args.check:
        from ..voice_check import check_voices

        print_checks(check_voices(project, progress=progress), sys.stdout)
    return 0


def print_checks(checks, out: TextIO) -> None:
    """The voice check: overall word error rate, then each flagged line with what the recogniser heard."""
    from ..voice_check import FLAG_WER, summary_wer

    flagged = [c for c in checks if c.flagged]
    out.write(f"voice check: word error rate {100 * summary_wer(checks):.1f}% over {len(checks)} sentences; "
              f"{len(flagged)} flagged (more than {100 * FLAG_WER:.0f}% of the words not recovered)\n")
    for c in flagged:
        missed = ", ".join(c.missed[:8]) or "-"
        out.write(f"  sentence {c.index + 1} ({c.speaker[:24]}): score {c.score:.0f}  "
                  f"text \u201c{c.text[:80]}\u201d  heard \u201c{c.heard[:80]}\u201d  missed: {missed}\n")
    if flagged:
        out.write("  respell a flagged line for speech with its \u201csay as\u201d text (Voices page) or choose "
                  "another voice.\n")
    out.flush()


def print_plan(plan: StoryPlan, project: Project, out: TextIO) -> None:
    """The chunk plan, one line per chunk: number, speaker, duration, sentences (all 1-based, inclusive) — the
    numbers `render --retry-chunk N` takes."""
    out.write(f"{'chunk':>5}  {'speaker':<24} {'duration':>9}  {'frames':>6}  sentences\n")
    for chunk in plan.chunks:
        first, last = chunk.sentence_ids[0] + 1, chunk.sentence_ids[-1] + 1
        sentences = f"{first}" if first == last else f"{first}-{last}"
        speaker = chunk.speaker if len(chunk.speaker) <= 24 else chunk.speaker[:23] + "…"
        out.write(f"{chunk.index + 1:>5}  {speaker:<24} {chunk.duration(plan.sample_rate):>8.2f}s  "
                  f"{chunk.num_frames:>6}  {sentences} ({len(chunk.sentence_ids)})\n")
    out.write(f"{len(plan.chunks)} chunks, {len(plan.sentence_times)} sentences, "
              f"{format_duration(plan.duration)}\n")
    out.flush()
