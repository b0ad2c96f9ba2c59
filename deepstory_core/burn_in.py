"""Subtitles burned into the picture: ffmpeg's `subtitles` filter (libass) of imageio-ffmpeg's static binary.

Why libass and a font from an installed package: the static ffmpeg has no system font configuration to rely on, so
the filter is pointed at matplotlib's bundled DejaVu fonts (`fontsdir`), which every install has; the look is then
the same on every machine. Burning in re-encodes the joined video once (same encoder settings as the clips), with
frame-level progress read from ffmpeg's `-progress` output.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from deepstory_kernel.errors import InputError, StorageError

from .atomic import atomic_path
from .video import BITEXACT_ARGS, ENCODER_ARGS, _ffmpeg_error, ffmpeg_exe

SIZES = {"small": 14, "medium": 18, "large": 24}          # ASS font size at libass's 288-line reference height
POSITIONS = {"bottom": 2, "top": 8}                      # ASS alignment: bottom centre / top centre


@dataclass(frozen=True)
class SubtitleStyle:
    size: str = "medium"       # small | medium | large
    position: str = "bottom"   # bottom | top

    def __post_init__(self) -> None:
        if self.size not in SIZES:
            raise InputError(f"Subtitle size {self.size!r} is not one of {', '.join(SIZES)}.")
        if self.position not in POSITIONS:
            raise InputError(f"Subtitle position {self.position!r} is not one of {', '.join(POSITIONS)}.")

    def force_style(self) -> str:
        return (f"FontName=DejaVu Sans,FontSize={SIZES[self.size]},Alignment={POSITIONS[self.position]},"
                "MarginV=14,Outline=1.5,Shadow=0,BorderStyle=1,PrimaryColour=&H00FFFFFF,OutlineColour=&H00000000")


def fonts_dir() -> Path:
    import matplotlib

    return Path(matplotlib.__file__).resolve().parent / "mpl-data" / "fonts" / "ttf"


def _filter_value(text: str) -> str:
    """Escape a value for an ffmpeg filter graph option (quoted, with \\ and ' escaped)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "'\\''").replace(":", "\\:") + "'"


def burn_subtitles(video: str | os.PathLike[str], srt: str | os.PathLike[str], out: str | os.PathLike[str],
                   style: SubtitleStyle,
                   on_frames: Callable[[int], None] | None = None) -> None:
    """Re-encode `video` with the cues of `srt` drawn in; `on_frames(n)` is told as frames are encoded."""
    video, srt, out = Path(video), Path(srt), Path(out)
    for path, what in ((video, "The video"), (srt, "The subtitle file")):
        if not path.is_file():
            raise InputError(f"{what} {path} does not exist.")
    with tempfile.TemporaryDirectory(prefix=".burn-", dir=out.parent) as tmp:
        local_srt = Path(tmp) / "cues.srt"   # a plain name: nothing in the user's path needs filter escaping
        shutil.copyfile(srt, local_srt)
        graph = (f"subtitles=filename=cues.srt:fontsdir={_filter_value(str(fonts_dir()))}"
                 f":force_style={_filter_value(style.force_style())}")
        with atomic_path(out) as target:
            args = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(video.resolve()),
                    "-map", "0:v:0", "-vf", graph, *ENCODER_ARGS, *BITEXACT_ARGS, "-nostats", "-progress", "pipe:1", "-stats_period", "0.1",
                    "-f", "mp4", str(Path(target).resolve())]
            _run_with_progress(args, Path(tmp), out, on_frames)


def _run_with_progress(args: list[str], cwd: Path, out: Path, on_frames: Callable[[int], None] | None) -> None:
    try:
        proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as err:
        raise StorageError(f"Could not start ffmpeg ({err}); reinstall imageio-ffmpeg.") from err
    reported = 0
    assert proc.stdout is not None and proc.stderr is not None
    for raw in proc.stdout:
        line = raw.decode("utf-8", "replace").strip()
        if line.startswith("frame=") and line[6:].isdigit():
            frame = int(line[6:])
            if on_frames is not None and frame > reported:
                on_frames(frame - reported)
            reported = max(reported, frame)
    stderr = proc.stderr.read()
    if proc.wait() != 0:
        raise _ffmpeg_error("burn subtitles into", out, stderr, proc.returncode)
