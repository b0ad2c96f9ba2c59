"""Every default of the studio, defined once. The UI and the CLI both read (and edit) a `Settings` object."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from deepstory_kernel.media import FPS, SAMPLE_RATE

# Seconds of silence after a sentence, per trailing punctuation character (the original's process_wavs table).
DEFAULT_PUNCTUATION_PAUSES: dict[str, float] = {
    ".": 0.3, ",": 0.15, "!": 0.3, "?": 0.4, '"': 0.1, "…": 0.6, ":": 0.15, ";": 0.2,
    "\u201c": 0.05, "\u201d": 0.05, "\u2018": 0.05, "\u2019": 0.05,
}
DEFAULT_LINE_START_PAUSE = 0.5   # seconds before the first sentence of a line (11025 samples)
DEFAULT_CUT_SIZE = 800_000       # samples: a chunk is closed once it already holds more than this


@dataclass(frozen=True)
class Settings:
    """Project settings, stored in project.json. Immutable: change with `with_changes(...)`."""

    sample_rate: int = SAMPLE_RATE
    fps: int = FPS
    cut_size: int = DEFAULT_CUT_SIZE
    line_start_pause: float = DEFAULT_LINE_START_PAUSE
    punctuation_pauses: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_PUNCTUATION_PAUSES))
    speaker_tags: bool = True
    default_speaker: str = "Narrator"
    sentence_group: int = 1          # group up to N consecutive sentences of one line (the original's n_gram)
    base_backend: str = "builtin"    # "builtin" | "sda"
    animate_backend: str = "builtin"  # "builtin" | "fom"
    sda_identity: str = "portrait"   # "portrait" (speaker's aligned portrait) | "template" (SDA's template face)
    full_frame: bool = True          # export: the animated face in the whole portrait (False: the 256×256 face crop)
    canvas: str = "720p"             # export frame for full-frame: "512" (512²), "720p" or "1080p"
    soft_subtitles: bool = False     # export: also embed the subtitles as a track
    burn_subtitles: bool = False     # export: draw the subtitles into the picture
    subtitle_size: str = "medium"    # burned-in subtitles: small | medium | large
    subtitle_position: str = "bottom"  # burned-in subtitles: bottom | top
    ray: str = ""                    # where bases and clips render: "" this process, "local[:N]", "auto",
                                     # "ray://host:10001" (deepstory_core.distributed.parse_ray_target)

    @property
    def samples_per_frame(self) -> int:
        return self.sample_rate // self.fps

    @property
    def cut_size_seconds(self) -> float:
        return self.cut_size / self.sample_rate

    def with_changes(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Settings:
        known = {f for f in cls.__dataclass_fields__}
        data = dict(data)
        if "motion_backend" in data:   # projects saved before the animate stage had one name
            data.setdefault("animate_backend", data.pop("motion_backend"))
        return cls(**{k: v for k, v in data.items() if k in known})
