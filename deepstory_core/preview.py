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

from deepstory_kernel.errors import InputError, StorageError

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


# -- the Cast page's motion preview ---------------------------------------------------------------------------------
MOTION_PREVIEW_TEXT = "Hello! This is how I look when I tell your story. Do you like it?"
MOTION_PREVIEW_SECONDS = 3.0


def _motion_preview_inputs(project, speaker: str):
    from .backends import backend
    from .cast import project_cast
    from .chunk_jobs import speaker_style
    from .face_check import check_face

    check = check_face(project, speaker)
    if not check.ok or check.image is None:
        raise InputError(check.problem or f"Speaker {speaker!r} has no usable face.")
    settings = project.settings
    base = backend("base", settings.base_backend)
    motion = backend("animate", settings.animate_backend)
    voice_id = project_cast(project)[speaker].voice_id
    style = speaker_style(project, speaker, base)
    from .stages.base import image_hash

    key = artifact_key(STAGE, kind="motion", voice=voice_id, text=MOTION_PREVIEW_TEXT,
                       seconds=MOTION_PREVIEW_SECONDS, portrait=image_hash(check.image),
                       box=list(check.geometry.box), base=base.backend_id, base_weights=base.fingerprint(),
                       motion=motion.backend_id, motion_weights=motion.fingerprint(),
                       style=None if style is None else style.to_dict(), v=PREVIEW_VERSION)
    return check, base, motion, voice_id, style, key


def motion_preview_path(project, speaker: str) -> Path:
    """Where the speaker's preview for the current sliders, portrait, voice and backends is (or will be)."""
    *_, key = _motion_preview_inputs(project, speaker)
    return project.store.path(STAGE, key, EXT)


def motion_preview(project, speaker: str, progress=None, cancel=None) -> Path:
    """A few seconds of the speaker talking with its motion sliders (base + motion transfer, with sound): quick
    enough to judge a slider without rendering the story. Made once per sliders/portrait/voice/backends."""
    from .backends import load_backend
    from .progress import StageProgress, no_progress
    from .stages import base as base_stage
    from .voices import get_voice, synthesize_sentence

    check, base, motion, voice_id, style, key = _motion_preview_inputs(project, speaker)
    out = project.store.path(STAGE, key, EXT)
    if out.is_file():
        return out
    settings = project.settings
    per_frame = settings.samples_per_frame
    speech = synthesize_sentence(get_voice(voice_id), MOTION_PREVIEW_TEXT, settings.sample_rate)
    frames = int(MOTION_PREVIEW_SECONDS * settings.fps)
    audio = np.zeros(frames * per_frame, np.float32)
    spoken = np.asarray(speech.audio, np.float32)[:len(audio)]
    audio[:len(spoken)] = spoken
    phonemes = [p for p in speech.phonemes if p.sample < len(audio)]
    tracker = StageProgress(progress or no_progress, "preview", 2 * frames, "frames")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".preview-", dir=out.parent) as tmp:
        base_file = Path(tmp) / "base.npy"
        tracker.start_item(f"{speaker[:20]}: base")
        animator = load_backend(base)
        from .identities import aligned_identity

        identity = aligned_identity(check.image, speaker, check.geometry, animator)
        base_stage.write_base_frames(base_file, animator, audio, identity, seed=1, phonemes=phonemes,
                                     samples_per_frame=per_frame, cancel=cancel, on_frames=tracker.advance,
                                     style=style)
        tracker.start_item(f"{speaker[:20]}: motion")
        transfer = load_backend(motion)
        silent = Path(tmp) / "clip.mp4"
        from .stages.animate import write_animated_clip

        write_animated_clip(silent, np.load(base_file, mmap_mode="r"), transfer, check.image, cancel=cancel,
                            geometry=check.geometry, on_frames=tracker.advance,
                            track=base_stage.read_track(base_file, frames))
        wav = Path(tmp) / "voice.wav"
        with WavWriter(wav, settings.sample_rate) as writer:
            writer.write(audio)
        mux(silent, wav, out)
    tracker.finish()
    return out
