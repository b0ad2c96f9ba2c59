"""The stage commands on their own (`base`, `animate`) and the zero-download `demo`, with the real built-ins."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from deepstory_core import video
from deepstory_core.cli import main
from deepstory_core.wavio import wav_info


@pytest.fixture(scope="module")
def grid(samples_dir) -> tuple[Path, Path]:
    return samples_dir / "grid" / "utterance_50khz.wav", samples_dir / "grid" / "face_aligned_128x96.bmp"


@pytest.fixture(scope="module")
def portrait(tmp_path_factory) -> Path:
    from skimage.data import astronaut

    path = tmp_path_factory.mktemp("portrait") / "astronaut.png"
    image = cv2.resize(astronaut(), (301, 301))  # odd size on purpose
    cv2.imwrite(str(path), image[..., ::-1])
    return path


def _expected_frames(wav: Path) -> int:
    from deepstory_core.audio import load_audio_file

    audio, rate = load_audio_file(wav)
    samples = -(-len(audio) * 22050 // rate)
    return max(1, -(-samples // 882))


def test_base_npy_from_aligned_face_and_animate(tmp_path, grid, portrait, capsys):
    wav, face = grid
    out = tmp_path / "base.npy"
    assert main(["base", str(wav), "--face", str(face), "-o", str(out), "--seed", "3", "--quiet"]) == 0
    frames = np.load(out, mmap_mode="r")
    assert frames.dtype == np.uint8 and frames.shape[1:] == (128, 96, 3)
    assert abs(len(frames) - _expected_frames(wav)) <= 1
    assert np.abs(frames.astype(np.int16) - frames[0]).mean(axis=(1, 2, 3)).max() > 1  # it moves

    clip = tmp_path / "clip.mp4"
    assert main(["animate", str(out), "--portrait", str(portrait), "-o", str(clip), "--quiet"]) == 0
    assert video.count_frames(clip) == len(frames)
    assert video.video_size(clip) == (256, 256)

    full = tmp_path / "full.mp4"
    assert main(["animate", str(out), "--portrait", str(portrait), "-o", str(full), "--full-frame", "--quiet"]) == 0
    assert video.video_size(full) == (300, 300)
    assert video.count_frames(full) == len(frames)


def test_base_mp4_from_portrait_keeps_sound_through_animate(tmp_path, grid, portrait):
    wav, _ = grid
    base = tmp_path / "base.mp4"
    assert main(["base", str(wav), "--face", str(portrait), "-o", str(base), "--quiet"]) == 0
    assert video.video_size(base) == (96, 128)
    frames = video.count_frames(base)
    video_s, audio_s = video.stream_durations(base)
    assert abs(video_s - audio_s) < 0.040 and video_s == pytest.approx(frames / 25, abs=1e-3)

    clip = tmp_path / "clip.mp4"
    assert main(["animate", str(base), "--portrait", str(portrait), "-o", str(clip), "--quiet"]) == 0
    assert video.count_frames(clip) == frames
    assert video.stream_kinds(clip) == {"video", "audio"}


def test_stage_commands_explain_bad_input(tmp_path, grid, capsys):
    wav, face = grid
    wall = tmp_path / "wall.png"
    cv2.imwrite(str(wall), np.full((300, 300, 3), 128, np.uint8))
    assert main(["base", str(wav), "--face", str(wall), "-o", str(tmp_path / "b.npy")]) == 2
    assert "face" in capsys.readouterr().err.lower()
    assert main(["base", str(wav), "--face", str(face), "-o", str(tmp_path / "b.gif")]) == 2
    assert ".npy" in capsys.readouterr().err
    assert main(["animate", str(tmp_path / "missing.npy"), "--portrait", str(face), "-o", str(tmp_path / "c.mp4")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not list(tmp_path.glob("b.*")) and not (tmp_path / "c.mp4").exists()


def test_demo_renders_with_nothing_downloaded(tmp_path, capsys):
    out = tmp_path / "demo.mp4"
    assert main(["demo", "-o", str(out), "--project", str(tmp_path / "demo"), "--quiet"]) == 0
    frames = video.count_frames(out)
    _, _, samples = wav_info(tmp_path / "demo" / "exports" / "story.wav")
    assert frames * 882 == samples
    assert 20 < frames / 25 < 50
    video_s, audio_s = video.stream_durations(out)
    assert abs(video_s - audio_s) < 0.040
    srt = out.with_suffix(".srt").read_text(encoding="utf-8")
    assert "train to the coast" in srt
    assert "rendered" in capsys.readouterr().err
    # a second run renders nothing
    assert main(["demo", "-o", str(out), "--project", str(tmp_path / "demo"), "--quiet"]) == 0
    assert "rendered 0 bases and 0 clips" in capsys.readouterr().err


def test_render_command_with_cast_portraits_and_retry(tmp_path, portrait, capsys):
    story = tmp_path / "story.txt"
    story.write_text("Alice: Good morning.\nBob: Morning! Lovely day.\nAlice: It is.\n", encoding="utf-8")
    cast = tmp_path / "cast.yaml"
    cast.write_text(f"Alice:\n  voice: espeak:en-us+f2\n  portrait: {portrait}\nBob: espeak:en+m7\n", encoding="utf-8")
    out = tmp_path / "story.mp4"
    args = ["render", str(story), "-o", str(out), "--project", str(tmp_path / "p"), "--cast", str(cast), "--quiet"]
    assert main(args) == 0
    assert "rendered 3 bases and 3 clips" in capsys.readouterr().err
    first = out.read_bytes()
    assert out.with_suffix(".srt").is_file()
    uploads = list((tmp_path / "p" / "uploads").iterdir())
    assert len(uploads) == 1 and uploads[0].read_bytes() == portrait.read_bytes()  # stored by hash, not by name

    assert main(args + ["--retry-chunk", "2"]) == 0
    assert "rendered 1 bases and 1 clips, reused 2 clips" in capsys.readouterr().err
    assert out.read_bytes() != first
    assert main(["render", str(story), "-o", str(tmp_path / "x.gif")]) == 2
    assert ".mp4" in capsys.readouterr().err
