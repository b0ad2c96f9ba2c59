"""The render engine: exact A/V sync over many chunks, caching, retry, resume after SIGKILL, bad input.

Most tests use the cheap real backends of `tests/render_backends.py` (contract-exact, fast); one renders end to end
with the real built-in backends.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from deepstory_core import render, video
from deepstory_core.cast import CastEntry
from deepstory_core.models import evict_models, loaded_models
from deepstory_core.project import Project
from deepstory_core.stages import base as base_stage
from deepstory_core.wavio import wav_info
from deepstory_kernel.errors import InputError, ModelUnavailableError, StorageError
from tests import render_backends

REPO = Path(__file__).resolve().parents[1]
CHEAP_VOICE = render_backends.CheapVoice
WORDS = "apple river stone cloud amber violet window garden silver morning".split()


@pytest.fixture(autouse=True)
def _cheap_backends():
    render_backends.register()


def _png(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]))
    assert ok
    return data.tobytes()


def _story(lines: int) -> str:
    out = []
    for i in range(lines):
        speaker = "Alice" if i % 2 == 0 else "Bob"
        words = " ".join(WORDS[(i + k) % len(WORDS)] for k in range(1 + i % 3))
        out.append(f"{speaker}: {words.capitalize()} {i}{'?' if i % 3 == 0 else '.'}")
    return "\n".join(out) + "\n"


def _project(root: Path, lines: int) -> Project:
    project = Project.create(root)
    project.settings = project.settings.with_changes(line_start_pause=0.1)  # short chunks: fast tests
    project.set_story(_story(lines))
    for speaker, seed, voice in (("Alice", 1, "espeak:en-us+f2"), ("Bob", 2, "espeak:en+m3")):
        stored = project.add_upload(_png(render_backends.face_image(seed)), "face.png")
        project.cast[speaker] = CastEntry(voice_id=voice, portrait=stored)
    project.save()
    return project


def _render(project: Project, **kwargs) -> render.RenderResult:
    return render.render_story(project, base_backend="cheap", animate_backend="cheap",
                               voice_factory=render_backends.CheapVoice, **kwargs)


def _finished_files(folder: Path, pattern: str = "*.npy") -> int:
    return len([p for p in folder.glob(pattern) if not p.name.startswith(".")]) if folder.is_dir() else 0


def _mtimes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} if folder.is_dir() else {}


def test_many_chunks_export_in_exact_sync(tmp_path):
    project = _project(tmp_path / "p", 151)
    project.settings = project.settings.with_changes(punctuation_pauses={}, line_start_pause=0.03)  # short chunks
    project.save()
    result = _render(project)
    assert result.chunks == 151
    assert result.rendered == {"base": 151, "animate": 151}
    frames = video.count_frames(result.video)
    rate, channels, samples = wav_info(project.root / "exports" / "story.wav")
    assert (rate, channels) == (22050, 1)
    assert frames * 882 == samples == result.samples
    lengths = {status.num_frames for status in render.chunk_status(project, "cheap", "cheap", voice_factory=CHEAP_VOICE)}
    assert len(lengths) > 5 and any(n % 2 for n in lengths)  # chunks of many (odd) lengths
    video_s, audio_s = video.stream_durations(result.video)
    assert abs(video_s - audio_s) < 0.040
    assert video_s == pytest.approx(samples / 22050, abs=0.001)
    srt = result.subtitles.read_text(encoding="utf-8")
    assert srt.count(" --> ") == 151
    # a second render renders nothing and gives the same bytes
    before = result.video.read_bytes()
    again = _render(project)
    assert again.rendered == {"base": 0, "animate": 0}
    assert again.reused == {"base": 151, "animate": 151}
    assert again.video.read_bytes() == before


def test_models_loaded_once_per_stage(tmp_path):
    project = _project(tmp_path / "p", 6)
    evict_models()
    loads = dict(render_backends.LOADS)
    _render(project)
    assert render_backends.LOADS["base"] - loads["base"] == 1
    assert render_backends.LOADS["animate"] - loads["animate"] == 1
    assert loaded_models() == []  # evicted after the render


def test_editing_one_sentence_rerenders_one_chunk(tmp_path):
    project = _project(tmp_path / "p", 7)
    first = _render(project)
    assert first.rendered == {"base": 7, "animate": 7}
    sentences = project.sentences
    sentences[3] = dataclasses.replace(sentences[3], text="Something completely different.")
    project.set_sentences(sentences)
    project.save()
    second = _render(project)
    assert second.rendered == {"base": 1, "animate": 1}
    assert second.reused == {"base": 6, "animate": 6}


def test_retry_changes_only_that_chunks_seed_and_artifacts(tmp_path):
    project = _project(tmp_path / "p", 5)
    _render(project)
    before = render.chunk_status(project, base_backend="cheap", animate_backend="cheap", voice_factory=CHEAP_VOICE)
    assert all(s.base and s.clip for s in before)
    result = render.retry_chunk(project, 2, base_backend="cheap", animate_backend="cheap", voice_factory=CHEAP_VOICE)
    assert result.rendered == {"base": 1, "animate": 1}
    after = render.chunk_status(Project.open(project.root), base_backend="cheap", animate_backend="cheap", voice_factory=CHEAP_VOICE)
    changed = [i for i in range(5) if (before[i].seed, before[i].clip_path) != (after[i].seed, after[i].clip_path)]
    assert changed == [2]
    assert before[2].seed != after[2].seed
    assert not np.array_equal(np.load(before[2].base_path), np.load(after[2].base_path))
    assert all(s.base and s.clip for s in after)
    final = _render(project)
    assert final.rendered == {"base": 0, "animate": 0}


def test_new_portrait_reanimates_only_that_speaker(tmp_path):
    project = _project(tmp_path / "p", 6)
    _render(project)
    project.cast["Bob"] = CastEntry("espeak:en+m3", project.add_upload(_png(render_backends.face_image(9)), "b.png"))
    project.save()
    result = _render(project)
    assert result.rendered["animate"] == 3 and result.reused["animate"] == 3  # Bob speaks lines 1, 3, 5


def test_deleted_artifacts_are_remade(tmp_path):
    project = _project(tmp_path / "p", 4)
    _render(project)
    status = render.chunk_status(project, base_backend="cheap", animate_backend="cheap", voice_factory=CHEAP_VOICE)
    status[1].clip_path.unlink()
    status[3].base_path.unlink()
    status[3].clip_path.unlink()
    result = _render(project)
    assert result.rendered == {"base": 1, "animate": 2}
    assert all(s.base and s.clip for s in render.chunk_status(project, base_backend="cheap", animate_backend="cheap", voice_factory=CHEAP_VOICE))


@pytest.mark.parametrize("stage", ["base", "clip"])
def test_render_killed_midway_resumes_to_identical_video(tmp_path, stage):
    reference = _project(tmp_path / "ref", 8)
    expected = _render(reference, out=tmp_path / "ref.mp4").video.read_bytes()

    project = _project(tmp_path / "p", 8)
    out = tmp_path / "killed.mp4"
    env = dict(os.environ, DEEPSTORY_TEST_BATCH_DELAY="0.05", PYTHONPATH=os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    proc = subprocess.Popen([sys.executable, "-m", "tests.render_backends", str(project.root), str(out)],
                            cwd=REPO, env=env)
    folder = project.root / "artifacts" / stage
    pattern = "*.npy" if stage == "base" else "*.mp4"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and _finished_files(folder, pattern) < 3 and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    status = render.chunk_status(project, base_backend="cheap", animate_backend="cheap", voice_factory=CHEAP_VOICE)
    finished_bases = sum(s.base for s in status)
    finished_clips = sum(s.clip for s in status)
    finished = finished_bases if stage == "base" else finished_clips
    assert 3 <= finished < 8, "the kill should land mid-way"
    assert not out.exists()
    leftovers = [p.name for p in folder.iterdir() if p.name.startswith(".")]
    assert len(leftovers) <= 1  # at most the temp file of the one chunk in progress

    resumed = _render(Project.open(project.root), out=out)
    # nothing finished is redone: only the chunks that were unfinished at the kill
    assert resumed.rendered == {"base": 8 - finished_bases, "animate": 8 - finished_clips}
    assert out.read_bytes() == expected
    render.remove_stale_temp_files(project, min_age_s=0)  # what a later render does with the killed one's temp
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]
    assert _finished_files(folder, pattern) == 8


def test_cancel_between_batches_keeps_finished_chunks(tmp_path):
    import threading

    from deepstory_core.progress import Cancelled

    project = _project(tmp_path / "p", 6)
    cancel = threading.Event()

    started: list[str] = []

    def progress(event):   # progress counts frames; a chunk's start is announced with its message
        if event.stage == "animate" and event.message.startswith("chunk") and event.message not in started:
            started.append(event.message)
            if len(started) == 3:
                cancel.set()  # the user presses stop while the third clip renders

    with pytest.raises(Cancelled):
        _render(project, progress=progress, cancel=cancel)
    clips = project.root / "artifacts" / "clip"
    assert _finished_files(clips, "*.mp4") == 2
    assert not [p for p in clips.iterdir() if p.name.startswith(".")]
    resumed = _render(project)
    assert resumed.rendered == {"base": 0, "animate": 4}


def test_render_until_a_stage_stops_there(tmp_path):
    project = _project(tmp_path / "p", 4)
    bases_only = _render(project, until="base")
    assert bases_only.rendered == {"base": 4, "animate": 0} and bases_only.video is None
    assert _finished_files(project.root / "artifacts" / "clip", "*.mp4") == 0
    clips_only = _render(project, until="animate")
    assert clips_only.rendered == {"base": 0, "animate": 4} and clips_only.video is None
    assert not render.export_path(project).exists()
    with pytest.raises(InputError, match="Unknown stage"):
        _render(project, until="voices")


def test_portrait_without_a_face_is_named(tmp_path):
    project = _project(tmp_path / "p", 4)
    flat = np.full((300, 240, 3), 128, np.uint8)
    project.cast["Bob"] = CastEntry("espeak:en+m3", project.add_upload(_png(flat), "wall.png"))
    project.save()
    with pytest.raises(InputError, match="Bob.*No face found"):
        _render(project)
    # Alice's chunks (rendered before Bob's turn came) are kept
    assert len(list((project.root / "artifacts" / "base").glob("*.npy"))) >= 1


@pytest.mark.parametrize("backends, missing", [({"base_backend": "sda"}, "grid.dat"),
                                               ({"animate_backend": "fom"}, "vox-cpk.pth.tar")])
def test_missing_weights_stop_before_any_work(tmp_path, monkeypatch, backends, missing):
    monkeypatch.setenv("DEEPSTORY_DATA", str(tmp_path / "no-models"))
    project = _project(tmp_path / "p", 2)
    with pytest.raises(ModelUnavailableError, match=missing):
        render.render_story(project, voice_factory=CHEAP_VOICE, **backends)
    assert not (project.root / "artifacts").exists()


def test_full_disk_gives_clear_message_and_keeps_earlier_work(tmp_path, monkeypatch):
    project = _project(tmp_path / "p", 5)
    calls = {"n": 0}
    real = os.posix_fallocate

    def failing_fallocate(fd, offset, length):
        calls["n"] += 1
        if calls["n"] >= 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, offset, length)

    monkeypatch.setattr(base_stage.os, "posix_fallocate", failing_fallocate)
    with pytest.raises(StorageError, match="disk is full"):
        _render(project)
    base_dir = project.root / "artifacts" / "base"
    kept = list(base_dir.glob("*.npy"))
    assert len(kept) == 2 and all(np.load(p).shape[1:] == (128, 96, 3) for p in kept)
    assert not [p for p in base_dir.iterdir() if p.name.startswith(".")]  # no temp files left
    monkeypatch.undo()
    result = _render(project)
    assert result.rendered["base"] == 3


def test_interrupted_export_keeps_previous_export(tmp_path, monkeypatch):
    project = _project(tmp_path / "p", 3)
    first = _render(project)
    previous = first.video.read_bytes()
    project.set_story(_story(3).replace("Apple", "Pear"))
    project.save()

    from deepstory_core.stages import export as export_stage

    def interrupted_mux(video_path, wav, out, srt=None, soft_subtitles=False):
        raise KeyboardInterrupt()

    monkeypatch.setattr(export_stage, "mux", interrupted_mux)
    with pytest.raises(KeyboardInterrupt):
        _render(project)
    assert first.video.read_bytes() == previous
    exports = project.root / "exports"
    assert not [p.name for p in exports.iterdir() if p.name.startswith(".")]


def test_full_frame_export_fits_portraits_of_different_sizes(tmp_path):
    project = _project(tmp_path / "p", 4)
    from skimage.data import astronaut

    big = cv2.resize(astronaut()[:400, 50:450], (263, 263))  # a real face; odd size: the export size is made even
    project.cast["Bob"] = CastEntry("espeak:en+m3", project.add_upload(_png(big), "big.png"))
    project.settings = project.settings.with_changes(canvas="512")
    project.save()
    result = _render(project, full_frame=True)
    assert video.video_size(result.video) == (512, 512)    # the story's canvas, every portrait fitted into it
    _, _, samples = wav_info(project.root / "exports" / "story.wav")
    assert video.count_frames(result.video) * 882 == samples
    # 256×256 clips of the same chunks are other artifacts: switching back renders clips, not bases
    back = _render(project, full_frame=False)
    assert back.rendered == {"base": 0, "animate": 4}
    assert video.video_size(back.video) == (256, 256)


def test_end_to_end_with_builtin_backends(tmp_path):
    project = Project.create(tmp_path / "p")
    project.set_story("Alice: Hello there, Bob.\nBob: Hi!\n")
    project.save()
    result = render.render_story(project)  # built-in voices, portraits, base and motion
    assert result.rendered == {"base": 2, "animate": 2}
    frames = video.count_frames(result.video)
    _, _, samples = wav_info(project.root / "exports" / "story.wav")
    assert frames * 882 == samples
    assert video.video_size(result.video) == (1280, 720)   # default: full frame on the 720p canvas
    video_s, audio_s = video.stream_durations(result.video)
    assert abs(video_s - audio_s) < 0.040
    # the portrait moves: frames differ over time
    batches = list(video.iter_video_frames(result.video, batch=64))
    stack = np.concatenate(batches).astype(np.int16)
    assert np.abs(stack - stack[0]).mean(axis=(1, 2, 3)).max() > 1.0


def _folder_digest(root: Path) -> str:
    """Every file's relative path, size, mtime and bytes: any write under `root` changes it."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*")):
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def test_chunk_status_never_synthesises_nor_writes(tmp_path):
    project = _project(tmp_path / "p", 4)
    before = _folder_digest(project.root)
    assert render.chunk_status(project, "cheap", "cheap", voice_factory=CHEAP_VOICE) == []   # no audio yet
    assert _folder_digest(project.root) == before
    _render(project, until="voice")
    before = _folder_digest(project.root)
    statuses = render.chunk_status(project, "cheap", "cheap", voice_factory=CHEAP_VOICE)
    assert len(statuses) == 4 and all(s.audio and not s.base and not s.clip for s in statuses)
    assert _folder_digest(project.root) == before


def test_clean_up_removes_only_what_the_story_no_longer_uses(tmp_path, capsys):
    from deepstory_core.cleanup import clean_up
    from deepstory_core.cli import main

    project = _project(tmp_path / "p", 5)
    project.settings = project.settings.with_changes(base_backend="cheap", animate_backend="cheap")
    project.save()
    _render(project)
    sentences = project.sentences
    sentences[2] = dataclasses.replace(sentences[2], text="A different line for chunk three.")
    project.set_sentences(sentences)
    project.save()
    _render(project)        # the old sentence's audio, chunk audio, base and clip are now unused
    store = project.store
    before = {stage: len(store.keys(stage)) for stage in ("voice", "chunk_audio", "base", "clip")}
    removed = clean_up(project, voice_factory=CHEAP_VOICE)
    assert set(removed) == {"voice", "chunk_audio", "base", "clip"} and all(removed.values())   # files (+ sidecars)
    assert {stage: len(store.keys(stage)) for stage in before} == {stage: n - 1 for stage, n in before.items()}
    again = _render(project)
    assert again.rendered == {"base": 0, "animate": 0}      # everything the story uses was kept
    assert main(["clean", str(project.root)]) == 0          # the CLI (real voices: their keys differ, so the
    assert "removed" in capsys.readouterr().err             # cheap voices' audio counts as unused there)
