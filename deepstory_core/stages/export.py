"""Export stage: chunk clips joined without re-encoding + the soundtrack as AAC (+ subtitles) → one mp4.

Why no re-encoding: every clip was written with the same encoder settings, so the concat demuxer can copy the
streams — the export costs seconds, not a second encode of the whole story. The video is exact to the frame:
each clip has len(chunk audio) / 882 frames, so the joined video lasts as long as the soundtrack.
Outputs are atomic: an interrupted export leaves the previous `story.mp4` as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from deepstory_kernel.errors import InputError, StorageError

from ..atomic import FILE_MODE, describe_os_error, remove_orphan_temp_files, temp_prefix
from ..burn_in import SubtitleStyle, burn_subtitles
from ..progress import CancelToken, ProgressCallback, StageProgress
from ..soundtrack import write_soundtrack
from ..subtitles import srt_blocks, subtitle_cues, vtt_text
from ..video import concat_clips, mux
from . import animate as animate_stage
from .runner import check_cancel
from .voice import StoryPlan

if TYPE_CHECKING:
    from ..chunk_jobs import ChunkJob

STAGE = "export"


@dataclass(frozen=True)
class ExportResult:
    video: Path
    subtitles: Path | None
    webvtt: Path | None = None


def subtitles_path(video: str | os.PathLike[str]) -> Path:
    """`story.srt` beside `story.mp4`."""
    return Path(video).with_suffix(".srt")


def webvtt_path(video: str | os.PathLike[str]) -> Path:
    """`story.vtt` beside `story.mp4` (what browsers' players read)."""
    return Path(video).with_suffix(".vtt")


def export_path(project) -> Path:
    """Where a project's video goes unless told otherwise."""
    return project.root / "exports" / "story.mp4"


def run(project, plan: StoryPlan, jobs: Sequence[ChunkJob], out: Path, progress: ProgressCallback,
        cancel: CancelToken | None = None) -> ExportResult:
    """The export stage of a render: soundtrack, subtitles (SRT + WebVTT), every chunk's clip joined into `out`
    (the cues burned into the picture when the settings ask). Progress counts frames when burning in (a re-encode);
    joining by stream copy takes a moment.

    Temp files a killed export left (in the output folder and `exports/`) are removed first. A project whose
    folder cannot be written (read-only, fully rendered) still exports: the soundtrack then goes to a temp file
    beside the output instead of `exports/story.wav`."""
    settings = project.settings
    check_cancel(cancel)
    exports = project.root / "exports"
    for folder in (exports, out.parent):
        remove_orphan_temp_files(folder)
    frames = sum(job.num_frames for job in jobs)
    burn = SubtitleStyle(settings.subtitle_size, settings.subtitle_position) if settings.burn_subtitles else None
    tracker = StageProgress(progress, STAGE, frames if burn else 1, "frames" if burn else "")
    for job in jobs:   # each clip is what its key says, in its place (a damaged or swapped clip is never joined)
        if not animate_stage.clip_ready(project.store, job):
            raise StorageError(f"The clip of chunk {job.index + 1} is missing or was damaged (moved aside to "
                               f"{project.store.root / 'damaged'}); render again to make it, then export.")
    clips = [project.store.path(animate_stage.STAGE, job.clip_key, animate_stage.EXT) for job in jobs]
    cues = subtitle_cues(plan, project.sentences)
    srt_text = "".join(srt_blocks(cues, plan.sample_rate))
    tracker.start_item("writing the soundtrack")
    with _soundtrack_path(exports, out) as wav:
        write_soundtrack(project, plan, wav, cancel=cancel)
        tracker.start_item("burning in the subtitles" if burn else "joining the clips")
        exported = export_video(clips, wav, out, srt_text, soft_subtitles=settings.soft_subtitles,
                                vtt_text=vtt_text(cues, plan.sample_rate), burn_in=burn,
                                on_frames=tracker.advance if burn else None)
    tracker.finish(str(out.name))
    return exported


@contextlib.contextmanager
def _soundtrack_path(exports: Path, out: Path) -> Iterator[Path]:
    """`exports/story.wav` (kept), or — when the project folder cannot be written — a temp file beside `out`."""
    try:
        exports.mkdir(parents=True, exist_ok=True)
        writable = os.access(exports, os.W_OK | os.X_OK)
    except OSError:
        writable = False
    if writable:
        yield exports / "story.wav"
        return
    path = _temp_beside(out, "wav-", ".wav")
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def _temp_beside(out: Path, kind: str, suffix: str) -> Path:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=temp_prefix(out) + kind, suffix=suffix, dir=out.parent)
        os.close(fd)
    except OSError as err:
        raise StorageError(describe_os_error(err, out)) from err
    return Path(name)


def export_video(clips: Sequence[str | os.PathLike[str]], soundtrack_wav: str | os.PathLike[str],
                 out: str | os.PathLike[str], srt_text: str | None = None,
                 soft_subtitles: bool = False, vtt_text: str | None = None,
                 burn_in: SubtitleStyle | None = None,
                 on_frames: Callable[[int], None] | None = None) -> ExportResult:
    """Join `clips` in order, mux `soundtrack_wav`, write the subtitles (SRT, WebVTT) beside the video;
    with `burn_in` the cues are also drawn into the picture (one re-encode, progress via `on_frames`).

    The files are written as a set: video and subtitles are all made under temp names first, then the video is
    moved into place and the subtitles last — a kill at any moment leaves the old set, or the new video with the
    old subtitles for an instant, never new subtitles beside an old video. Temp names carry this process's id, so
    a later export removes what a killed one left."""
    out = Path(out)
    if out.suffix.lower() not in (".mp4", ".m4v", ".mov"):
        raise InputError(f"The export file {out.name} must end in .mp4.")
    if not clips:
        raise InputError("The story has no chunks to export.")
    srt_path = subtitles_path(out) if srt_text is not None else None
    vtt_path = webvtt_path(out) if vtt_text is not None else None
    if burn_in is not None and srt_text is None:
        raise InputError("Burning in subtitles needs the subtitle text.")
    temps = [_temp_beside(out, "video-", ".mp4"), _temp_beside(out, "mux-", out.suffix)]
    if burn_in is not None:
        temps.append(_temp_beside(out, "burned-", ".mp4"))
    subtitle_temps = {}   # final path → temp path, moved into place after the video
    try:
        if srt_path is not None and srt_text is not None:
            subtitle_temps[srt_path] = _write_temp_text(out, "srt-", ".srt", srt_text)
        if vtt_path is not None and vtt_text is not None:
            subtitle_temps[vtt_path] = _write_temp_text(out, "vtt-", ".vtt", vtt_text)
        joined, muxed = temps[:2]
        concat_clips(clips, joined)
        srt_tmp = subtitle_temps.get(srt_path) if srt_path is not None else None
        picture = joined
        if burn_in is not None and srt_tmp is not None:
            burn_subtitles(joined, srt_tmp, temps[2], burn_in, on_frames)
            picture = temps[2]
        mux(picture, soundtrack_wav, muxed, srt=srt_tmp, soft_subtitles=soft_subtitles and srt_tmp is not None)
        os.chmod(muxed, FILE_MODE)
        os.replace(muxed, out)
        for final, temp in subtitle_temps.items():    # subtitles last
            os.replace(temp, final)
    except OSError as err:
        raise StorageError(describe_os_error(err, out)) from err
    finally:
        for path in (*temps, *subtitle_temps.values()):
            path.unlink(missing_ok=True)
    return ExportResult(video=out, subtitles=srt_path, webvtt=vtt_path)


def _write_temp_text(out: Path, kind: str, suffix: str, text: str) -> Path:
    path = _temp_beside(out, kind, suffix)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(path, FILE_MODE)
    return path
