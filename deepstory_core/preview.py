"""Small playable previews of one chunk for the studio: base frames or the animated clip, with the chunk's audio.

Why: a base is a `.npy` of frames and a clip is video only — neither plays in a browser with sound. A preview is a
derived artifact (`artifacts/preview/<key>.mp4`), keyed by the frames' artifact and the chunk audio, so it is
made once, atomically, and re-made only when what it shows changes. Frames stream from the memory-mapped base
into the encoder in batches, so a preview costs one batch of memory.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from deepstory_kernel.errors import StorageError

from .artifacts import artifact_key
from .stages.voice import CHUNK_AUDIO_STAGE
from .video import ClipWriter, mux
from .wavio import WavWriter

STAGE = "preview"
EXT = "mp4"
BATCH = 64
PREVIEW_VERSION = 1


def _write_chunk_wav(project, content_key: str, out: Path) -> Path:
    audio = project.store.read_npy(CHUNK_AUDIO_STAGE, content_key, mmap=True)
    with WavWriter(out, project.settings.sample_rate) as writer:
        for start in range(0, len(audio), 1 << 16):
            writer.write(np.asarray(audio[start:start + (1 << 16)]))
    return out


def _with_audio(project, video: Path, content_key: str, out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix=".preview-", dir=out.parent) as tmp:
        wav = _write_chunk_wav(project, content_key, Path(tmp) / "chunk.wav")
        mux(video, wav, out)


def base_preview(project, base_path: Path, content_key: str) -> Path:
    """An mp4 (96×128, 25 fps, with the chunk's audio) of a chunk's base frames; made once per base."""
    key = artifact_key(STAGE, kind="base", frames=Path(base_path).stem, audio=content_key, v=PREVIEW_VERSION)
    out = project.store.path(STAGE, key, EXT)
    if out.is_file():
        return out
    try:
        frames = np.load(base_path, mmap_mode="r")
    except (OSError, ValueError) as err:
        raise StorageError(f"The base of this chunk ({Path(base_path).name}) cannot be read ({err}); "
                           f"render it again.") from err
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".preview-", dir=out.parent) as tmp:
        silent = Path(tmp) / "frames.mp4"
        height, width = frames.shape[1:3]
        with ClipWriter(silent, (width, height)) as writer:
            for start in range(0, len(frames), BATCH):
                writer.write(np.ascontiguousarray(frames[start:start + BATCH]))
        del frames
        _with_audio(project, silent, content_key, out)
    return out


def clip_preview(project, clip_path: Path, content_key: str) -> Path:
    """The chunk's animated clip with its audio (stream copy of the video; made once per clip)."""
    key = artifact_key(STAGE, kind="clip", frames=Path(clip_path).stem, audio=content_key, v=PREVIEW_VERSION)
    out = project.store.path(STAGE, key, EXT)
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    _with_audio(project, Path(clip_path), content_key, out)
    return out
