"""Video I/O: streaming writer/reader, exact frame counts, stream-copy concat, AAC mux sync, atomic outputs."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from deepstory_core import video
from deepstory_kernel.errors import DeepstoryError, InputError, StorageError


def _frames(count: int, seed: int, size=(64, 48)) -> np.ndarray:
    height, width = size
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 255, height * width * 3).reshape(height, width, 3)
    shift = rng.integers(0, 60, count)
    return np.stack([(base + s) % 256 for s in shift]).astype(np.uint8)


def _write_wav(path: Path, samples: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    data = (rng.standard_normal(samples) * 2000).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(22050)
        out.writeframes(data.tobytes())


def test_writer_streams_batches_and_reader_gives_them_back(tmp_path):
    frames = _frames(23, 0)
    path = tmp_path / "clip.mp4"
    with video.ClipWriter(path, (48, 64)) as writer:
        for start in range(0, 23, 5):
            writer.write(frames[start:start + 5])
    assert video.count_frames(path) == 23
    assert video.video_size(path) == (48, 64)
    batches = list(video.iter_video_frames(path, batch=4))
    assert [len(b) for b in batches] == [4, 4, 4, 4, 4, 3]
    decoded = np.concatenate(batches)
    assert decoded.shape == (23, 64, 48, 3)
    # lossy but close: mean absolute error of a few grey levels
    assert np.abs(decoded.astype(int) - frames.astype(int)).mean() < 6


def test_writer_is_deterministic(tmp_path):
    frames = _frames(17, 1)
    video.write_clip(tmp_path / "a.mp4", [frames[:9], frames[9:]])
    video.write_clip(tmp_path / "b.mp4", [frames[:4], frames[4:]])
    assert (tmp_path / "a.mp4").read_bytes() == (tmp_path / "b.mp4").read_bytes()


def test_failed_write_leaves_nothing_at_destination(tmp_path):
    path = tmp_path / "clip.mp4"
    with pytest.raises(RuntimeError):
        with video.ClipWriter(path, (48, 64)) as writer:
            writer.write(_frames(3, 2))
            raise RuntimeError("killed mid-clip")
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_previous_file(tmp_path):
    path = tmp_path / "clip.mp4"
    video.write_clip(path, [_frames(5, 3)])
    before = path.read_bytes()
    with pytest.raises(ValueError):
        with video.ClipWriter(path, (48, 64)) as writer:
            writer.write(np.zeros((2, 10, 10, 3), np.uint8))  # wrong size
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


def test_concat_and_mux_keep_exact_sync(tmp_path):
    lengths = [7, 13, 1, 26, 9]
    clips = []
    for index, count in enumerate(lengths):
        clips.append(tmp_path / f"c{index}.mp4")
        video.write_clip(clips[-1], [_frames(count, index)])
    joined = tmp_path / "joined.mp4"
    video.concat_clips(clips, joined)
    total = sum(lengths)
    assert video.count_frames(joined) == total
    wav = tmp_path / "sound.wav"
    _write_wav(wav, total * 882)
    srt = tmp_path / "story.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:01,000\nHello there.\n\n", encoding="utf-8")
    out = tmp_path / "story.mp4"
    video.mux(joined, wav, out, srt=srt, soft_subtitles=True)
    video_s, audio_s = video.stream_durations(out)
    assert video_s == pytest.approx(total / 25, abs=1e-3)
    assert abs(video_s - audio_s) < 0.040
    # the soft subtitle track is there
    import subprocess
    info = subprocess.run([video.ffmpeg_exe(), "-hide_banner", "-i", str(out)], capture_output=True, text=True)
    assert "mov_text" in info.stderr


def test_read_frames_any_reads_npy_memory_mapped_and_video(tmp_path):
    frames = _frames(11, 4)
    np.save(tmp_path / "f.npy", frames)
    got = list(video.read_frames_any(tmp_path / "f.npy", batch=4))
    assert [len(b) for b in got] == [4, 4, 3]
    assert np.array_equal(np.concatenate(got), frames)
    video.write_clip(tmp_path / "f.mp4", [frames])
    assert sum(len(b) for b in video.read_frames_any(tmp_path / "f.mp4")) == 11


def test_clear_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        video.count_frames(tmp_path / "missing.mp4")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    with pytest.raises(DeepstoryError):
        list(video.iter_video_frames(bad))
    np.save(tmp_path / "wrong.npy", np.zeros((3, 4), np.float32))
    with pytest.raises(InputError, match="uint8 frames"):
        list(video.read_frames_any(tmp_path / "wrong.npy"))
    # ffmpeg failing on output: the message carries ffmpeg's last stderr line
    clip = tmp_path / "c.mp4"
    video.write_clip(clip, [_frames(3, 5)])
    with pytest.raises(StorageError, match="ffmpeg failed"):
        video.mux(clip, bad, tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()
