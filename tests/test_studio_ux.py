"""The library side of the studio's UX (#13): frame-level progress with time left, re-parse keeping table edits,
the story text following the table, the stale-export notice, WebVTT + burned-in subtitles, the render queue,
per-speaker motion sliders, and face checks before a render. Cheap contract-exact backends, tiny stories."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from deepstory_core import render
from deepstory_core.cast import CastEntry
from deepstory_core.editing import apply_sentence_table, parse_into_project, sentence_table
from deepstory_core.exported import download_name, export_state
from deepstory_core.jobs import JobManager
from deepstory_core.progress import ProgressEvent, StageProgress, format_duration
from deepstory_core.project import Project
from deepstory_core.render_queue import RenderQueue
from deepstory_core.video import iter_video_frames
from deepstory_kernel.contracts import MotionStyle
from tests import render_backends

STORY = "Alice: Hello there, Bob.\nBob: Hi! Lovely day.\n"


@pytest.fixture(autouse=True)
def _cheap_backends():
    render_backends.register()




def _project(root: Path, story: str = STORY) -> Project:
    project = Project.create(root, name="Lighthouse Storm")
    project.settings = project.settings.with_changes(line_start_pause=0.1, base_backend="cheap",
                                                     animate_backend="cheap")
    project.set_story(story)
    for speaker, seed, voice in (("Alice", 1, "espeak:en-us+f2"), ("Bob", 2, "espeak:en+m3")):
        project.cast[speaker] = CastEntry(voice, project.add_upload(render_backends.png_bytes(render_backends.face_image(seed)), "f.png"))
    project.save()
    return project


def _render(project: Project, **kwargs) -> render.RenderResult:
    return render.render_story(project, voice_factory=render_backends.CheapVoice, **kwargs)


# -- progress ------------------------------------------------------------------------------------------------------
def test_stage_progress_counts_units_and_estimates_time_left():
    events: list[ProgressEvent] = []
    now = [0.0]
    tracker = StageProgress(events.append, "base", 100, "frames", clock=lambda: now[0])
    tracker.start_item("chunk 1 (Alice)")
    assert events[-1].eta_s is None                     # no rate yet
    now[0] = 5.0                                        # the first batch also paid for loading the model
    tracker.advance(10)
    now[0] = 6.0
    tracker.advance(10)                                 # 10 frames/s since the first batch → 80 frames left = 8 s
    assert events[-1].done == 20 and events[-1].eta_s == pytest.approx(8.0)
    assert events[-1].label() == "Base: chunk 1 (Alice) · 20/100 frames · about 8 s left"
    tracker.finish()
    assert events[-1].fraction == 1.0 and events[-1].eta_s == 0.0
    assert format_duration(75) == "1 min 15 s" and format_duration(3700) == "1 h 01 min"


def test_progress_moves_inside_one_chunk_for_every_stage(tmp_path):
    """One chunk, many batches: base and animate report frames after every batch, the voice stage per sentence,
    the export per frame when burning in subtitles — one callback type for all."""
    project = _project(tmp_path / "p", "Alice: " + " ".join(["A long sentence that keeps going."] * 4) + "\n")
    project.settings = project.settings.with_changes(burn_subtitles=True)
    project.save()
    events: list[ProgressEvent] = []
    result = _render(project, progress=events.append)
    assert result.chunks == 1
    frames = result.frames
    for stage in ("base", "animate", "export"):
        seen = [e for e in events if e.stage == stage]
        assert {e.unit for e in seen} == {"frames"} and seen[-1].done == seen[-1].total == frames, stage
        if stage == "export":
            continue    # ffmpeg reports the burn-in's frames every 0.1 s: a short encode may end before the first
        inside = sorted({e.done for e in seen if 0 < e.done < frames})
        assert len(inside) >= 3, (stage, inside)        # the bar moves during the one chunk
        assert any(e.eta_s is not None and e.eta_s > 0 for e in seen if 0 < e.done < frames), stage
    voice = [e for e in events if e.stage == "voice"]
    assert voice and voice[-1].unit == "sentences" and voice[-1].done == voice[-1].total


# -- story table ---------------------------------------------------------------------------------------------------
def test_reparse_keeps_table_edits_or_asks(tmp_path):
    project = _project(tmp_path / "p")
    rows = sentence_table(project)
    rows[0]["text"] = "Good evening, Bob."
    rows[1]["speaker"] = "Carol"
    apply_sentence_table(project, rows)
    # the Story text follows the saved table
    assert project.story_text == "Alice: Good evening, Bob.\nCarol: Hi!\nBob: Lovely day.\n"
    # parsing the unchanged text keeps the table as it is
    outcome = parse_into_project(project, project.story_text)
    assert outcome.action == "kept" and "did not change" in outcome.message
    assert [r["text"] for r in sentence_table(project)][0] == "Good evening, Bob."

    # an edit made in the table only (text not following): new text asks before throwing it away
    project.sentence_rows[0]["text"] = "Edited in the table only."
    project.save()
    outcome = parse_into_project(project, "Alice: Something new.\n")
    assert outcome.action == "needs_confirm" and outcome.edits_lost == 1
    assert "Replace my edits" in outcome.message
    assert Project.open(project.root).sentence_rows[0]["text"] == "Edited in the table only."   # nothing changed
    outcome = parse_into_project(project, "Alice: Something new.\n", replace_edits=True)
    assert outcome.action == "parsed" and Project.open(project.root).sentence_rows[0]["text"] == "Something new."


# -- export --------------------------------------------------------------------------------------------------------
def test_webvtt_and_burned_in_subtitles_and_stale_export(tmp_path):
    plain = _project(tmp_path / "plain")
    result = _render(plain)
    assert export_state(plain, result.video) == "current"
    vtt = result.video.with_suffix(".vtt").read_text(encoding="utf-8")
    srt = result.video.with_suffix(".srt").read_text(encoding="utf-8")
    assert vtt.startswith("WEBVTT\n\n1\n00:00:00.")
    assert vtt.count("-->") == srt.count("-->") == 3 and "Hello there, Bob." in vtt
    assert srt.split("\n")[1].replace(",", ".") == vtt.split("\n")[3]      # the same times

    burned = _project(tmp_path / "burned")
    burned.settings = burned.settings.with_changes(burn_subtitles=True, subtitle_size="large",
                                                   subtitle_position="bottom")
    burned.save()
    burned_video = _render(burned).video
    a = np.concatenate(list(iter_video_frames(result.video)))
    b = np.concatenate(list(iter_video_frames(burned_video)))
    assert a.shape == b.shape
    start, end = (_seconds(t) for t in srt.split("\n")[1].split(" --> "))
    middle = int((start + end) / 2 * 25)                  # inside the first cue
    height = a.shape[1]
    low, high = int(height * 0.8), int(height * 0.15)
    bottom = np.abs(a[middle, low:].astype(int) - b[middle, low:].astype(int)).mean()
    top = np.abs(a[middle, :high].astype(int) - b[middle, :high].astype(int)).mean()
    assert bottom > 8 * max(top, 0.5), (bottom, top)      # text drawn at the bottom, the rest only re-encoded
    white = (b[middle, low:] > 235).all(axis=-1).sum()
    assert white > 50, white                              # white glyph pixels
    OUTPUT = Path(__file__).resolve().parent / "output"
    OUTPUT.mkdir(exist_ok=True)
    cv2.imwrite(str(OUTPUT / "burned_subtitles.png"), np.ascontiguousarray(b[middle][..., ::-1]))

    # editing the story afterwards makes the export stale (every page says so)
    plain.sentence_rows[0]["text"] = "Changed."
    plain.save()
    assert export_state(Project.open(plain.root), result.video) == "stale"
    assert download_name(plain, "mp4") == "lighthouse-storm.mp4"


def _seconds(stamp: str) -> float:
    hours, minutes, rest = stamp.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(rest.replace(",", "."))


# -- queue ---------------------------------------------------------------------------------------------------------
def test_render_queue_runs_projects_in_order_and_cancels(tmp_path):
    manager = JobManager()
    order: list[str] = []
    gate = threading.Event()

    def work_for(root: Path):
        def work(progress, cancel):
            order.append(root.name)
            if root.name == "first":
                gate.wait(10)                            # the first render runs until the test lets it go
            return root.name

        return work

    queue = RenderQueue(manager, work_for, poll_s=0.02)
    roots = [tmp_path / name for name in ("first", "second", "third")]
    for root in roots:
        root.mkdir()
    entries = [queue.add(root, root.name) for root in roots]
    assert queue.add(roots[0]).id == entries[0].id       # a project is not queued twice
    deadline = time.monotonic() + 5
    while not manager.any_running() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [e.state for e in queue.entries()] == ["running", "waiting", "waiting"]
    assert queue.cancel(entries[1].id)                  # a waiting render leaves the queue
    gate.set()
    assert queue.wait_idle(10)
    assert order == ["first", "third"]
    assert [e.state for e in queue.entries()] == ["done", "cancelled", "done"]
    queue.clear_finished()
    assert queue.entries() == []


# -- motion sliders ------------------------------------------------------------------------------------------------
def test_motion_slider_rerenders_only_that_speakers_chunks_and_changes_the_preview(tmp_path):
    from deepstory_core.preview import motion_preview, motion_preview_path

    project = _project(tmp_path / "p")
    first = _render(project)
    assert first.rendered["base"] == 2
    before = motion_preview(project, "Bob")
    project.cast["Bob"] = CastEntry(project.cast["Bob"].voice_id, project.cast["Bob"].portrait,
                                    motion=MotionStyle(mouth=0.0))
    project.save()
    project = Project.open(project.root)
    assert project.cast["Bob"].motion == MotionStyle(mouth=0.0)          # stored in the cast
    second = _render(project)
    assert second.rendered == {"base": 1, "animate": 1}                   # only Bob's chunk
    after_path = motion_preview_path(project, "Bob")
    assert after_path != before and not after_path.is_file()
    after = motion_preview(project, "Bob")
    a = np.concatenate(list(iter_video_frames(before)))
    b = np.concatenate(list(iter_video_frames(after)))
    assert len(a) == len(b) == 75                                         # 3 s at 25 fps
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 2               # the slider changes the picture


def test_face_checks_flag_a_portrait_without_a_face(tmp_path):
    from deepstory_core.face_check import check_cast

    project = _project(tmp_path / "p")
    texture = np.random.default_rng(3).integers(90, 160, (240, 200, 3)).astype(np.uint8)
    project.cast["Bob"] = CastEntry("espeak:en+m3", project.add_upload(render_backends.png_bytes(texture), "noface.png"))
    project.save()
    checks = {c.speaker: c for c in check_cast(project)}
    assert checks["Alice"].ok and checks["Alice"].detector == "aligned"
    assert not checks["Bob"].ok and "Bob" in checks["Bob"].problem and "No face" in checks["Bob"].problem
    started = time.monotonic()
    assert not check_cast(project)[1].ok                                 # remembered: no second analysis
    assert time.monotonic() - started < 0.5


def test_cli_bar_shows_frames_and_time_left():
    import io

    from deepstory_core.progress import StderrProgressBar

    stream = io.StringIO()
    now = [0.0]
    tracker = StageProgress(StderrProgressBar(stream), "animate", 400, "frames", clock=lambda: now[0])
    tracker.start_item("chunk 1 (Alice)")
    for _ in range(3):
        now[0] += 1.0
        time.sleep(0.11)            # the bar redraws at most 10 times a second
        tracker.advance(16)
    text = stream.getvalue()
    assert "48/400 frames ~22 s left" in text, text
    tracker.finish()
    assert stream.getvalue().endswith("\n")
