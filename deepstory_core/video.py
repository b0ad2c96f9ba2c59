"""Video I/O through the ffmpeg binary shipped by imageio-ffmpeg (there is no system ffmpeg and no ffprobe).

Why every clip is written with the same fixed, deterministic encoder settings: the export joins chunk clips with
the concat demuxer and stream copy (no re-encoding), which only works when all clips share codec parameters;
and a resumed render must give a byte-identical file, so the encoder runs single-threaded with bit-exact flags
and no metadata (x264's output depends on its thread count). No B-frames: pts == dts, no edit lists, so clips
join back to back with exact durations (T frames = T/25 s).

Frames always stream: the writer takes batches and pipes them to ffmpeg; the reader yields batches. The export's
graphs (joining clips, muxing the soundtrack and subtitles) are built with ffmpeg-python and run with
imageio-ffmpeg's binary.
Every output is written to a temp file beside the destination and moved into place only when ffmpeg succeeded.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import imageio_ffmpeg
import numpy as np

from deepstory_kernel.errors import InputError, StorageError
from deepstory_kernel.media import FPS

from .atomic import atomic_path, disk_full_message

# The one set of H.264 encoder settings used for every clip (see module docstring). Changing any of these
# changes every clip's bytes, hence `ENCODER_VERSION` (part of clip artifact keys).
ENCODER_ARGS: tuple[str, ...] = (
    "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p",
    "-g", "50", "-keyint_min", "50", "-sc_threshold", "0", "-bf", "0", "-threads", "1",
    "-video_track_timescale", "12800",
)
BITEXACT_ARGS: tuple[str, ...] = ("-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
                                  "-map_metadata", "-1", "-map_chapters", "-1")
ENCODER_VERSION = "x264-veryfast-crf18-g50-bf0-t1-v1"
AUDIO_ARGS: tuple[str, ...] = ("-c:a", "aac", "-b:a", "128k")
READ_BATCH = 32


def ffmpeg_exe() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


def _last_line(stderr: bytes | str) -> str:
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    lines = [line.strip() for line in text.replace("\r", "\n").splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def _ffmpeg_error(what: str, path: Path, stderr: bytes | str | None, returncode: int | None) -> StorageError:
    text = (stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr) or ""
    if "No space left" in text:
        return StorageError(disk_full_message(path))
    code = f" (exit code {returncode})" if returncode is not None else ""
    return StorageError(f"ffmpeg failed to {what} {path}{code}: {_last_line(text)}")


def _options(args: Sequence[str]) -> dict[str, str]:
    """("-flag", "value", …) → {"flag": "value", …}: the fixed argument tuples as ffmpeg-python output options."""
    return {name.lstrip("-"): value for name, value in zip(args[::2], args[1::2])}


def _run_graph(graph: Any, what: str, path: Path) -> None:
    """Run an ffmpeg-python graph with imageio-ffmpeg's binary; a StorageError naming ffmpeg's last line on failure."""
    import ffmpeg

    try:
        graph.global_args("-hide_banner", "-nostdin", "-loglevel", "error").overwrite_output().run(
            cmd=ffmpeg_exe(), capture_stdout=True, capture_stderr=True)
    except ffmpeg.Error as err:
        raise _ffmpeg_error(what, path, err.stderr, None) from None
    except OSError as err:
        raise StorageError(f"Could not start ffmpeg ({err}); reinstall imageio-ffmpeg.") from err


def _run_ffmpeg(args: Sequence[str], what: str, path: Path) -> str:
    """Run ffmpeg to completion; raise a StorageError naming ffmpeg's last stderr line on failure."""
    try:
        proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", *args],
                              capture_output=True)
    except OSError as err:
        raise StorageError(f"Could not start ffmpeg ({err}); reinstall imageio-ffmpeg.") from err
    if proc.returncode != 0:
        raise _ffmpeg_error(what, path, proc.stderr, proc.returncode)
    return proc.stdout.decode("utf-8", "replace")


def _require_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise InputError(f"{what} {path} does not exist.")


class ClipWriter:
    """Stream uint8 RGB frame batches (B, H, W, 3) into an H.264 mp4, atomically.

    Use as a context manager: the file appears at `path` only after a clean exit; an exception (or a kill)
    leaves nothing at the destination, only a temp file that is removed on error.
    """

    def __init__(self, path: str | os.PathLike[str], size: tuple[int, int], fps: int = FPS) -> None:
        self.path = Path(path)
        self.width, self.height = int(size[0]), int(size[1])
        if self.width % 2 or self.height % 2:
            raise InputError(f"Video size {self.width}×{self.height} must be even for yuv420p.")
        self.fps = fps
        self.frames_written = 0
        self._atomic: contextlib.AbstractContextManager[Path] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr_file: IO[bytes] | None = None

    def __enter__(self) -> ClipWriter:
        atomic = self._atomic = atomic_path(self.path)
        tmp = atomic.__enter__()
        self._stderr_file = tempfile.TemporaryFile()
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{self.width}x{self.height}", "-r", str(self.fps),
               "-i", "pipe:0", *ENCODER_ARGS, "-r", str(self.fps), *BITEXACT_ARGS, "-f", "mp4", str(tmp)]
        try:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                          stderr=self._stderr_file)
        except OSError as err:
            self._abort()
            raise StorageError(f"Could not start ffmpeg ({err}); reinstall imageio-ffmpeg.") from err
        return self

    def write(self, frames: np.ndarray) -> None:
        """Append a batch (B, H, W, 3) uint8 or a single frame (H, W, 3)."""
        assert self._proc is not None and self._proc.stdin is not None, "use ClipWriter as a context manager"
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        if frames.dtype != np.uint8 or frames.shape[1:] != (self.height, self.width, 3):
            raise ValueError(f"expected uint8 frames (B, {self.height}, {self.width}, 3), got "
                             f"{frames.dtype} {frames.shape}")
        try:
            self._proc.stdin.write(np.ascontiguousarray(frames).tobytes())
        except BrokenPipeError:
            self._proc.wait()
            raise _ffmpeg_error("write", self.path, self._read_stderr(), self._proc.returncode) from None
        self.frames_written += len(frames)

    def _read_stderr(self) -> bytes:
        if self._stderr_file is None:
            return b""
        self._stderr_file.seek(0)
        return self._stderr_file.read()

    def _abort(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        if self._stderr_file is not None:
            self._stderr_file.close()
        if self._atomic is not None:
            atomic, self._atomic = self._atomic, None
            try:
                atomic.__exit__(RuntimeError, RuntimeError("aborted"), None)  # deletes the temp file
            except RuntimeError:
                pass

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self._abort()
            return
        assert self._proc is not None and self._proc.stdin is not None
        if self.frames_written == 0:
            self._abort()
            raise InputError(f"No frames to write to {self.path}.")
        try:
            self._proc.stdin.close()
        except BrokenPipeError:
            pass
        returncode = self._proc.wait()
        if returncode != 0:
            stderr = self._read_stderr()
            self._abort()
            raise _ffmpeg_error("write", self.path, stderr, returncode)
        assert self._stderr_file is not None and self._atomic is not None
        self._stderr_file.close()
        atomic, self._atomic = self._atomic, None
        atomic.__exit__(None, None, None)  # os.replace into place


def write_clip(path: str | os.PathLike[str], batches, size: tuple[int, int] | None = None, fps: int = FPS) -> int:
    """Write an iterable of frame batches to `path`; returns the number of frames written."""
    iterator = iter(batches)
    first = next(iterator, None)
    if first is None:
        raise InputError(f"No frames to write to {path}.")
    first = np.asarray(first)
    if first.ndim == 3:
        first = first[None]
    if size is None:
        size = (first.shape[2], first.shape[1])
    with ClipWriter(path, size, fps) as writer:
        writer.write(first)
        for batch in iterator:
            writer.write(batch)
    return writer.frames_written


def _describe(path: Path) -> str:
    """ffmpeg's description of a media file's streams (what `ffmpeg -i FILE` prints)."""
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)],
                          capture_output=True)
    return proc.stderr.decode("utf-8", "replace")


def stream_kinds(path: str | os.PathLike[str]) -> set[str]:
    """Which kinds of streams a media file holds: a subset of {"video", "audio", "subtitle"}."""
    path = Path(path)
    _require_file(path, "The media file")
    kinds = set()
    for line in _describe(path).splitlines():
        if line.strip().startswith("Stream #"):
            for kind, tag in (("video", "Video:"), ("audio", "Audio:"), ("subtitle", "Subtitle:")):
                if tag in line:
                    kinds.add(kind)
    return kinds


def video_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(width, height) of the first video stream, read from ffmpeg's stream description."""
    path = Path(path)
    _require_file(path, "The video")
    text = _describe(path)
    for line in text.splitlines():
        if "Video:" in line:
            match = re.search(r"[ ,](\d{2,5})x(\d{2,5})[ ,\[]", line)
            if match:
                return int(match.group(1)), int(match.group(2))
    raise InputError(f"{path} has no readable video stream ({_last_line(text)}).")


def iter_video_frames(path: str | os.PathLike[str], batch: int = READ_BATCH) -> Iterator[np.ndarray]:
    """Yield uint8 RGB batches (B, H, W, 3) decoded from a video file, never the whole video at once."""
    path = Path(path)
    width, height = video_size(path)
    frame_bytes = width * height * 3
    proc = subprocess.Popen([ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path),
                             "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    try:
        while True:
            data = proc.stdout.read(frame_bytes * batch)
            if not data:
                break
            count = len(data) // frame_bytes
            if count:
                yield np.frombuffer(data[: count * frame_bytes], np.uint8).reshape(count, height, width, 3)
            if len(data) < frame_bytes * batch:
                break
        proc.stdout.close()
        stderr = proc.stderr.read() if proc.stderr else b""
        if proc.wait() != 0:
            raise InputError(f"Could not read the video {path}: {_last_line(stderr)}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _progress_values(path: Path, stream: str, decode: bool) -> dict[str, str]:
    args = ["-i", str(path), "-map", stream, *([] if decode else ["-c", "copy"]), "-f", "null",
            "-nostats", "-progress", "pipe:1", "-"]
    try:
        out = _run_ffmpeg(["-loglevel", "error", *args], "read", path)
    except StorageError as err:
        raise InputError(f"Could not read {path}: {err}") from err
    values: dict[str, str] = {}
    for line in out.splitlines():
        if "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()  # the last report wins
    return values


def count_frames(path: str | os.PathLike[str]) -> int:
    """Exact number of video frames (packets counted by ffmpeg with stream copy, no decoding)."""
    path = Path(path)
    _require_file(path, "The video")
    values = _progress_values(path, "0:v:0", decode=False)
    return int(values.get("frame", "0"))


def stream_durations(path: str | os.PathLike[str]) -> tuple[float, float]:
    """(video seconds, audio seconds) of a media file, each measured by decoding that stream with ffmpeg.

    A missing stream gives 0.0. Resolution: 1 µs as reported by ffmpeg's `-progress` (out_time_us).
    """
    path = Path(path)
    _require_file(path, "The media file")
    kinds = stream_kinds(path)
    durations = []
    for kind, stream in (("video", "0:v:0"), ("audio", "0:a:0")):
        if kind not in kinds:
            durations.append(0.0)
            continue
        values = _progress_values(path, stream, decode=True)
        micro = values.get("out_time_us", "N/A")
        durations.append(int(micro) / 1e6 if micro.lstrip("-").isdigit() and int(micro) > 0 else 0.0)
    return durations[0], durations[1]


def concat_clips(paths: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str]) -> None:
    """Join clips written by `ClipWriter` into one video without re-encoding (concat demuxer, stream copy)."""
    out = Path(out)
    if not paths:
        raise InputError("There are no clips to join.")
    for clip in paths:
        _require_file(Path(clip), "The clip")
    with atomic_path(out) as tmp:
        list_file = tmp.with_suffix(".txt")
        try:
            lines = []
            for clip in paths:
                escaped = str(Path(clip).resolve()).replace("'", "'\\''")
                lines.append(f"file '{escaped}'\n")
            list_file.write_text("".join(lines), encoding="utf-8")   # an OSError here: atomic_path reports it
            import ffmpeg

            joined = ffmpeg.input(str(list_file), f="concat", safe=0)["v:0"]
            _run_graph(ffmpeg.output(joined, str(tmp), c="copy", f="mp4", **_options(BITEXACT_ARGS)), "write", out)
        finally:
            list_file.unlink(missing_ok=True)


def mux(video: str | os.PathLike[str], wav: str | os.PathLike[str], out: str | os.PathLike[str],
        srt: str | os.PathLike[str] | None = None, soft_subtitles: bool = False) -> None:
    """Video stream copied + the wav encoded as AAC (+ the srt as a mov_text track when asked) → `out`."""
    video, wav, out = Path(video), Path(wav), Path(out)
    _require_file(video, "The video")
    _require_file(wav, "The soundtrack")
    import ffmpeg

    streams = [ffmpeg.input(str(video))["v:0"], ffmpeg.input(str(wav))["a:0"]]
    options = {"c:v": "copy", **_options(AUDIO_ARGS)}
    if soft_subtitles and srt is not None:
        _require_file(Path(srt), "The subtitle file")
        streams.append(ffmpeg.input(str(srt))["s:0"])
        options.update({"c:s": "mov_text", "metadata:s:s:0": "language=eng"})
    with atomic_path(out) as tmp:
        _run_graph(ffmpeg.output(*streams, str(tmp), f="mp4", **options, **_options(BITEXACT_ARGS)), "write", out)


def open_frames_npy(path: str | os.PathLike[str]) -> np.ndarray:
    """A `.npy` of uint8 frames (T, H, W, 3), memory-mapped read-only. The header is read and checked first:
    pickled (object) arrays are never loaded, and numpy's own messages (its `allow_pickle` hint) never reach
    the user."""
    path = Path(path)
    _require_file(path, "The frames file")
    unreadable = InputError(f"{path} is not a readable .npy frames file; give the uint8 (T, 128, 96, 3) frames the "
                            "`base` command writes.")
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise unreadable
    except (ValueError, OSError, EOFError, SyntaxError):
        raise unreadable from None
    if dtype != np.uint8 or len(shape) != 4 or shape[-1] != 3:
        kind = "Python objects" if dtype.hasobject else str(dtype)
        raise InputError(f"{path} must hold uint8 frames shaped (T, H, W, 3); it holds {kind} {tuple(shape)}.")
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError):
        raise InputError(f"{path} is truncated or damaged: it holds fewer frames than its header announces.") from None


def read_frames_any(path: str | os.PathLike[str], batch: int = READ_BATCH) -> Iterator[np.ndarray]:
    """Batches of uint8 frames from a `.npy` array (memory-mapped, T×H×W×3) or any video file."""
    path = Path(path)
    _require_file(path, "The frames file")
    if path.suffix.lower() == ".npy":
        frames = open_frames_npy(path)
        for start in range(0, len(frames), batch):
            yield np.asarray(frames[start:start + batch])
        return
    yield from iter_video_frames(path, batch)
