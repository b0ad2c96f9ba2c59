"""The studio's core helpers (no streamlit): the story timeline, chunk previews, sentence audio state."""

from __future__ import annotations

import re

import cv2
import numpy as np

from deepstory_core import render, video
from deepstory_core.cast import CastEntry
from deepstory_core.chunks import Chunk
from deepstory_core.preview import base_preview, clip_preview
from deepstory_core.project import Project
from deepstory_core.sentence_audio import forget_sentence, plan_from_ready, sentence_audio
from deepstory_core.stages.voice import prepare_soundtrack
from deepstory_core.timeline import plan_rows, speaker_colors, timeline_svg
from tests import render_backends


def _chunk(index: int, speaker: str, start: int, samples: int) -> Chunk:
    return Chunk(index, speaker, (index,), ((0, samples),), samples, f"{index:024x}", start)


def test_timeline_bars_are_to_scale_and_coloured_by_speaker():
    chunks = [_chunk(0, "Alice", 0, 44100), _chunk(1, "Bob", 44100, 22050), _chunk(2, "Alice", 66150, 88200)]
    svg = timeline_svg(chunks, 22050, width=1000)
    bars = re.findall(r'<rect x="([\d.]+)" y="\d+" width="([\d.]+)" height="\d+" fill="(#\w+)" rx="2"/>', svg)
    assert len(bars) == 3
    (x0, w0, c0), (x1, w1, c1), (x2, w2, c2) = [(float(x), float(w), c) for x, w, c in bars]
    assert abs(x1 - 1000 * 2 / 7) < 0.01 and abs(x2 - 1000 * 3 / 7) < 0.01
    assert abs((w2 + 1) / (w0 + 1) - 2) < 0.01          # 4 s vs 2 s (bars leave a 1-unit gap)
    assert c0 == c2 != c1 and speaker_colors(["Alice", "Bob"]) == {"Alice": c0, "Bob": c1}
    assert "Chunk 2 · Bob · 1.0 s" in svg and "<script" not in timeline_svg([_chunk(0, "<script>", 0, 882)], 22050)
    assert [row["duration (s)"] for row in plan_rows(chunks, 22050)] == [2.0, 1.0, 4.0]


def _project(root) -> Project:
    render_backends.register()
    project = Project.create(root)
    project.settings = project.settings.with_changes(line_start_pause=0.1, base_backend="cheap",
                                                     animate_backend="cheap")
    project.set_story("Alice: Hello there.\nBob: Hi! How are you?\n")
    for speaker, seed in (("Alice", 1), ("Bob", 2)):
        ok, data = cv2.imencode(".png", render_backends.face_image(seed))
        project.cast[speaker] = CastEntry("espeak:en-us+f2", project.add_upload(data.tobytes(), "f.png"))
    project.save()
    return project


def test_sentence_audio_state_plan_and_forget(tmp_path):
    project = _project(tmp_path / "p")
    rows = sentence_audio(project)
    assert [r.ready for r in rows] == [False, False, False] and plan_from_ready(project, rows) is None
    plan = prepare_soundtrack(project)
    rows = sentence_audio(project)
    assert all(r.ready and r.num_samples > 0 for r in rows)
    assert plan_from_ready(project, rows) == plan            # the same plan, from stored lengths only
    assert forget_sentence(project, rows[1], plan) == 4      # its audio (npy+json) and its chunk's audio
    assert [r.ready for r in sentence_audio(project)] == [True, False, True]
    project.cast["Bob"] = CastEntry("espeak:xx-nope")
    assert "xx-nope" in sentence_audio(project)[1].problem


def test_previews_play_the_chunk_with_its_audio_in_sync(tmp_path):
    project = _project(tmp_path / "p")
    render.render_chunk(project, 0, "animate")
    status = render.chunk_status(project)[0]
    for make, source in ((base_preview, status.base_path), (clip_preview, status.clip_path)):
        path = make(project, source, status.content_key)
        assert path.is_file() and make(project, source, status.content_key) == path   # made once
        video_s, audio_s = video.stream_durations(path)
        assert abs(video_s - status.num_frames / 25) < 0.05 and abs(audio_s - video_s) < 0.06
    assert video.video_size(base_preview(project, status.base_path, status.content_key)) == (96, 128)


def test_a_hand_placed_face_is_rendered_and_keyed(tmp_path):
    """A portrait the detector cannot read renders once the user places the face; moving the box re-renders."""
    import pytest

    from deepstory_kernel.errors import InputError

    project = _project(tmp_path / "p")
    rng = np.random.default_rng(5)
    portrait = rng.integers(90, 160, (240, 200, 3)).astype(np.uint8)     # texture, no face
    ok, data = cv2.imencode(".png", portrait)
    project.cast["Alice"] = CastEntry("espeak:en-us+f2", project.add_upload(data.tobytes(), "noface.png"))
    project.settings = project.settings.with_changes(base_backend="builtin", animate_backend="builtin")
    project.save()
    with pytest.raises(InputError, match="No face found"):
        render.render_chunk(project, 0, "animate")
    project.cast["Alice"] = CastEntry("espeak:en-us+f2", project.cast["Alice"].portrait, (50.0, 40.0, 100.0, 120.0))
    render.render_chunk(project, 0, "animate")
    first = render.chunk_status(project)[0]
    assert first.clip and video.count_frames(first.clip_path) == first.num_frames
    project.cast["Alice"] = CastEntry("espeak:en-us+f2", project.cast["Alice"].portrait, (40.0, 40.0, 110.0, 130.0))
    moved = render.chunk_status(project)[0]
    assert moved.base_path != first.base_path and moved.clip_path != first.clip_path and not moved.clip
