"""Lip-sync quality of the EXPORTED video, measured by the face model (MediaPipe) — issue #10's "done when" numbers.

Renders (1) the built-in demo and (2) a story whose speakers are real photographs (astronaut, Grace Hopper in
greyscale, the cameraman looking down, a tilted photo, a 112 px face), then decodes each exported mp4 and runs
the face model on every frame against the soundtrack: r(jawOpen, RMS), r(lip gap, RMS), lip gap loud ÷ silent,
closed in silence, lips closed on p/b/m, blinks per minute, identity SSIM outside mouth and eyes, seam.
Prints each number with its target and PASS/FAIL, and the render's real-time factor.

Usage: python bench/bench_lipsync_quality.py [--quick] [--full-frame] [--workdir DIR] [--only demo|photos] [--controls]
  --quick: two short lines per story (~10 s of video each) — for tuning loops.
  --controls: also score a crude jaw-drop warp (must pass) and a still portrait (must fail): the measure works.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from face_photos import HOPPER_FACE_PX, astronaut, cameraman, face_width_scaled, greyscale, hopper, rotated  # noqa: E402

from deepstory_core import quality as Q  # noqa: E402
from deepstory_core.cast import CastEntry  # noqa: E402
from deepstory_core.project import Project  # noqa: E402

PHOTO_STORY = """\
Eileen: People keep asking me what the launch felt like. Imagine a big bump, then a push that never stops.
Grace: My first computer filled a whole room, and it broke because a moth was stuck in the machine.
Camera: Please be quiet for a moment. Maybe the light will break through before the storm.
Tilted: Bob bought a bag of plums, and mum made a bubbly pudding by the pump.
Small: Thank you, everybody. Remember, the best programs begin with a simple problem.
"""
QUICK_PHOTO_STORY = """\
Eileen: People keep asking me what the launch felt like. Imagine a big bump.
Grace: Bob bought a bag of plums, and mum made a pudding.
"""
QUICK_DEMO_STORY = """\
Alice: Excuse me, is this the train to the coast? Maybe we can both be there by dawn.
Grace: It is. But it only leaves when the clock strikes nine, my dear.
"""

PHOTO_CAST: dict[str, tuple[str, Callable[[], np.ndarray]]] = {   # speaker → (voice, portrait maker)
    "Eileen": ("espeak:en-us+f2", astronaut),
    "Grace": ("espeak:en-us+f3", lambda: greyscale(hopper())),
    "Camera": ("espeak:en-us+m1", cameraman),
    "Tilted": ("espeak:en+f4", lambda: rotated(astronaut(), 20)),
    "Small": ("espeak:en-gb-scotland+m2", lambda: face_width_scaled(hopper(), HOPPER_FACE_PX, 112)),
}


def photo_project(root: Path, quick: bool) -> Project:
    project = Project.open(root) if (root / "project.json").exists() else Project.create(root, name="real photos")
    text = QUICK_PHOTO_STORY if quick else PHOTO_STORY
    if project.story_text != text:
        project.set_story(text)
    for speaker, (voice, make) in PHOTO_CAST.items():
        image = make()
        ok, png = cv2.imencode(".png", image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        assert ok
        stored = project.add_upload(png.tobytes(), f"{speaker.lower()}.png")
        project.cast[speaker] = CastEntry(voice_id=voice, portrait=stored)
    project.save()
    return project


def demo_project(root: Path, quick: bool) -> Project:
    from deepstory_core.demo import create_demo_project

    project = create_demo_project(root)
    if quick and project.story_text != QUICK_DEMO_STORY:
        project.set_story(QUICK_DEMO_STORY)
        project.save()
    return project


def _fmt(value: float | None, fmt: str) -> str:
    return "n/a" if value is None else format(value, fmt)


def report(name: str, score: Q.LipSyncScore, render_s: float) -> list[tuple[str, bool]]:
    seconds = score.frames / 25
    rows = [
        ("r(jawOpen, RMS)", _fmt(score.r_jaw_open, ".2f"), f">= {Q.R_JAW_MIN}",
         score.r_jaw_open is not None and score.r_jaw_open >= Q.R_JAW_MIN),
        ("r(inner-lip gap, RMS)", _fmt(score.r_lip_gap, ".2f"), "(info)", None),
        ("lip gap loud / silent", _fmt(score.gap_loud_over_silent, ".2f"), f">= {Q.GAP_RATIO_MIN}",
         score.gap_loud_over_silent is not None and score.gap_loud_over_silent >= Q.GAP_RATIO_MIN),
        ("silent frames, lips closed", _fmt(score.silent_closed, ".0%"), "(info)", None),
        (f"p/b/m with lips closed (n={score.bilabials})", _fmt(score.bilabial_closed, ".0%"),
         f">= {Q.BILABIAL_CLOSED_MIN:.0%}", score.bilabial_closed is not None
         and score.bilabial_closed >= Q.BILABIAL_CLOSED_MIN),
        ("blinks per minute", f"{score.blinks_per_min:.1f}", f"{Q.BLINKS_PER_MIN[0]:.0f}-{Q.BLINKS_PER_MIN[1]:.0f}",
         Q.BLINKS_PER_MIN[0] <= score.blinks_per_min <= Q.BLINKS_PER_MIN[1]),
        ("eyes shut for a single frame (flicker)", f"{score.eye_flickers}", "0", score.eye_flickers == 0),
        ("identity SSIM (outside mouth, eyes)", _fmt(score.identity_ssim, ".3f"), f">= {Q.IDENTITY_SSIM_MIN}",
         score.identity_ssim is not None and score.identity_ssim >= Q.IDENTITY_SSIM_MIN),
        ("seam (share of face outline)", _fmt(score.seam, ".3f"), f"<= {Q.SEAM_MAX}",
         score.seam is not None and score.seam <= Q.SEAM_MAX),
        ("face found in frames", f"{score.face_found:.0%}", f">= {Q.FACE_FOUND_MIN:.0%}",
         score.face_found >= Q.FACE_FOUND_MIN),
    ]
    timing = (f", render {render_s:.1f} s ({seconds / render_s:.1f}x real time incl. voices)" if render_s > 0 else "")
    print(f"\n== {name}: {score.frames} frames ({seconds:.1f} s){timing}")
    results = []
    for label, value, target, ok in rows:
        verdict = "" if ok is None else ("PASS" if ok else "FAIL")
        print(f"  {label:40s} {value:>8s}  target {target:10s} {verdict}")
        if ok is not None:
            results.append((f"{name}: {label}", bool(ok)))
    return results


def run_one(name: str, project: Project, full_frame: bool, landmarker: object) -> list[tuple[str, bool]]:
    from deepstory_core.quality_chunks import score_export
    from deepstory_core.render import render_story

    out = project.root / "exports" / "bench.mp4"
    if full_frame:
        project.settings = project.settings.with_changes(full_frame=True)
        project.save()
    start = time.perf_counter()
    render_story(project, out=out)
    render_s = time.perf_counter() - start
    start = time.perf_counter()
    score = score_export(project, out, landmarker)
    score_s = time.perf_counter() - start
    results = report(name, score, render_s)
    print(f"  scored in {score_s:.1f} s ({score.frames / 25 / max(score_s, 1e-6):.2f}x real time); video: {out}")
    return results


def run_controls(landmarker: object) -> list[tuple[str, bool]]:
    """The measure itself checked: a crude jaw-drop warp of a real portrait driven by real speech (positive)
    and the still portrait (negative), on the GRID utterance."""
    import scipy.io.wavfile
    from lipsync_controls import jaw_drop_frames, loudness_envelope
    from scipy.signal import resample_poly

    from modules.face.mesh import detect_mesh

    grid = Path(os.environ.get("DEEPSTORY_SHARED", REPO.parent / "shared")) / "samples" / "grid"
    rate, data = scipy.io.wavfile.read(grid / "utterance_50khz.wav")
    audio = resample_poly(data.astype(np.float32) / 32768.0, 22050, rate).astype(np.float32)
    portrait = np.ascontiguousarray(astronaut()[0:400, 96:416])
    n = len(audio) // 882
    mesh = detect_mesh(portrait, landmarker)  # type: ignore[arg-type]
    level = loudness_envelope(Q.frame_rms(audio, 22050, n))
    results = []
    for name, frames in (("control: jaw-drop warp", list(jaw_drop_frames(portrait, mesh, level))),
                         ("control: still portrait", [np.repeat(portrait[None], n, axis=0)])):
        score = Q.score_frames(frames, audio, 22050, portrait=portrait, landmarker=landmarker)
        results += report(name, score, 0.0)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="two short lines per story")
    parser.add_argument("--full-frame", action="store_true", help="export full-frame (the portrait's resolution)")
    parser.add_argument("--workdir", type=Path, help="where the projects go (default: a fresh temp folder)")
    parser.add_argument("--only", choices=("demo", "photos"))
    parser.add_argument("--controls", action="store_true", help="also score the positive/negative controls")
    args = parser.parse_args()
    os.environ.setdefault("DEEPSTORY_DEVICE", "cpu")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_lipsync_quality_"))
    suffix = "-quick" if args.quick else ""
    from modules.face.mesh import FaceLandmarker

    results: list[tuple[str, bool]] = []
    with FaceLandmarker() as landmarker:
        if args.controls:
            run_controls(landmarker)      # not counted: the still portrait is meant to fail
        if args.only in (None, "demo"):
            results += run_one("demo", demo_project(workdir / f"demo{suffix}", args.quick), args.full_frame, landmarker)
        if args.only in (None, "photos"):
            results += run_one("real photos", photo_project(workdir / f"photos{suffix}", args.quick), args.full_frame,
                               landmarker)
    failed = [name for name, ok in results if not ok]
    print(f"\n{len(results) - len(failed)}/{len(results)} targets met" + (f"; failing: {', '.join(failed)}" if failed else ""))

    return 0


if __name__ == "__main__":
    raise SystemExit(main())
