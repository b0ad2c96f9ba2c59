"""#12 items 8–9: damaged artifacts are named, moved aside and made again — never exported silently, never an
ffmpeg failure on a temp file or a traceback; a full disk in the voice stage says the disk is full."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from deepstory_core import integrity, render
from deepstory_core.cast import CastEntry
from deepstory_core.project import Project
from deepstory_kernel.errors import StorageError
from tests import render_backends
from tests.test_render import _png, _story

CHEAP_VOICE = render_backends.CheapVoice


@pytest.fixture(autouse=True)
def _cheap_backends():
    render_backends.register()
    integrity.clear_memory()


def _project(root: Path, lines: int = 4) -> Project:
    project = Project.create(root)
    project.settings = project.settings.with_changes(line_start_pause=0.1)
    project.set_story(_story(lines))
    for speaker, seed in (("Alice", 1), ("Bob", 2)):
        stored = project.add_upload(_png(render_backends.face_image(seed)), "face.png")
        project.cast[speaker] = CastEntry(voice_id="espeak:en-us+f2", portrait=stored)
    project.save()
    return project


def _render(project: Project, out: Path) -> render.RenderResult:
    integrity.clear_memory()   # a new process: nothing verified yet
    return render.render_story(project, base_backend="cheap", animate_backend="cheap", voice_factory=CHEAP_VOICE,
                               out=out)


def _clips(project: Project) -> list[Path]:
    statuses = render.chunk_status(project, "cheap", "cheap", voice_factory=CHEAP_VOICE)
    return [s.clip_path for s in statuses]


@pytest.fixture
def rendered(tmp_path):
    project = _project(tmp_path / "p")
    out = tmp_path / "story.mp4"
    _render(project, out)
    return project, out, out.read_bytes()


def test_garbage_clip_is_named_moved_aside_and_made_again(rendered, tmp_path, caplog):
    project, out, expected = rendered
    clip = _clips(project)[1]
    clip.write_bytes(b"\x00garbage, no mp4 at all" * 50)
    with caplog.at_level(logging.WARNING, logger="deepstory"):
        result = _render(project, out)
    assert result.rendered["animate"] == 1
    assert "The clip of chunk 2 was damaged" in caplog.text and "moved aside" in caplog.text
    damaged = list((project.store.root / "damaged").iterdir())
    assert any(p.name.startswith(f"clip-{clip.stem}.mp4") for p in damaged)   # kept for inspection
    assert out.read_bytes() == expected


def test_two_swapped_clips_are_never_exported_in_the_wrong_order(rendered):
    project, out, expected = rendered
    first, second = _clips(project)[:2]
    a, b = first.read_bytes(), second.read_bytes()
    first.write_bytes(b)
    second.write_bytes(a)
    result = _render(project, out)
    assert result.rendered["animate"] == 2
    assert out.read_bytes() == expected


def test_clip_of_the_wrong_length_without_a_seal_is_made_again(rendered):
    project, out, expected = rendered
    clips = _clips(project)
    longest = max(clips, key=lambda p: p.stat().st_size)
    shortest = min(clips, key=lambda p: p.stat().st_size)
    Path(str(shortest) + ".json").unlink()           # a clip from before seals: checked by its frame count
    shortest.write_bytes(longest.read_bytes())
    result = _render(project, out)
    assert result.rendered["animate"] == 1
    assert out.read_bytes() == expected


def test_damaged_base_is_made_again(rendered):
    project, out, expected = rendered
    base = render.chunk_status(project, "cheap", "cheap", voice_factory=CHEAP_VOICE)[0].base_path
    base.write_bytes(base.read_bytes()[:1000])       # truncated
    _clips(project)[0].unlink()                       # so the animate stage needs that base
    result = _render(project, out)
    assert result.rendered == {"base": 1, "animate": 1}
    assert out.read_bytes() == expected


@pytest.mark.parametrize("damage", ["no num_samples", "wrong length", "garbage npy"])
def test_damaged_sentence_audio_is_synthesised_again(rendered, damage, caplog):
    project, out, expected = rendered
    store = project.store
    key = store.keys("voice", "json")[0]
    if damage == "no num_samples":
        record = json.loads(store.path("voice", key, "json").read_text())
        del record["num_samples"]
        store.path("voice", key, "json").write_text(json.dumps(record))
    elif damage == "wrong length":
        np.save(store.path("voice", key, "npy"), np.zeros(17, np.float32))
    else:
        store.path("voice", key, "npy").write_bytes(b"\x93NUMPY garbage")
    with caplog.at_level(logging.WARNING, logger="deepstory"):
        _render(project, out)
    assert f"voice/{key}" in caplog.text
    assert out.read_bytes() == expected


def test_chunk_audio_of_the_wrong_length_is_written_again(rendered):
    project, out, expected = rendered
    key = project.store.keys("chunk_audio", "npy")[0]
    np.save(project.store.path("chunk_audio", key, "npy"), np.zeros(882, np.float32))
    _render(project, out)
    assert out.read_bytes() == expected


def test_full_disk_in_the_voice_stage_says_the_disk_is_full(tmp_path, monkeypatch):
    """numpy reports a full disk as a short write without errno ("85760 requested and 56288 written")."""
    from deepstory_core import artifacts

    project = _project(tmp_path / "p", 3)

    def full_disk_save(file, array, allow_pickle=False):
        raise OSError(f"{array.nbytes} requested and {array.nbytes // 2} written")

    monkeypatch.setattr(artifacts.np, "save", full_disk_save)
    with pytest.raises(StorageError, match="The disk is full: could not write .*voice"):
        _render(project, tmp_path / "o.mp4")
    assert not [p for p in (project.store.root / "voice").iterdir()]   # no temp files, no half artifacts


def test_a_studio_job_tells_what_was_moved_aside(rendered):
    """The studio's job panel shows the job's warnings: a user learns why a chunk was rendered again (the server
    log is not where a user looks). Warnings logged by other threads are not the job's."""
    from deepstory_core.jobs import JobManager

    project, out, expected = rendered
    _clips(project)[1].write_bytes(b"\x00garbage, no mp4 at all" * 50)
    manager = JobManager()
    manager.start(project.root, "export", lambda progress, cancel: _render(project, out))
    logging.getLogger("deepstory").warning("a warning of the page's own thread")
    status = manager.wait(project.root, timeout=300)
    assert status is not None and status.state == "done"
    assert any("The clip of chunk 2 was damaged" in note and "moved aside" in note for note in status.notes)
    assert not any("page's own thread" in note for note in status.notes)
    assert out.read_bytes() == expected
