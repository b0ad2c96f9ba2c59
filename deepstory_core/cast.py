"""The cast: which voice (and which portrait) each speaker gets.

A cast file is YAML mapping speaker names to a voice id, or to `{voice: ..., portrait: ..., speed: ...,
variation: ..., volume: ...}` (every field optional; a speaker without a voice gets the default one):

    Alice: espeak:en-us+f2
    Bob:
      voice: piper:en_US-joe-medium
      speed: 1.1          # 0.5–2.0
      variation: 0.8      # 0–2 (Piper: noise scales; espeak: pitch range)
      volume: 1.0         # 0.1–2.0
      portrait: bob.png
    Carol:
      portrait: carol.png

Speaker names are only ever dictionary keys — they never become file names.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepstory_kernel.contracts import MotionStyle
from deepstory_kernel.errors import InputError

from .voice_piper import DEFAULT_TUNING, VoiceTuning

_TUNING_FIELDS = ("speed", "variation", "volume")
LIST_VOICES_HINT = "run `python -m deepstory_core voices` to list the voices"
MAX_CAST_BYTES = 1 << 20     # a cast of thousands of speakers fits in far less
MAX_CAST_ALIASES = 50        # YAML aliases (*name); a few are handy, thousands are an alias bomb


def _bounded_loader(path: Path) -> type:
    """A SafeLoader that refuses more than MAX_CAST_ALIASES aliases: nested aliases ("billion laughs") would
    otherwise expand a 1 kB file into gigabytes when the mapping is walked."""
    import yaml

    class BoundedLoader(yaml.SafeLoader):
        aliases_seen = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.events.AliasEvent):
                self.aliases_seen += 1
                if self.aliases_seen > MAX_CAST_ALIASES:
                    raise InputError(f"Cast file {path} uses more than {MAX_CAST_ALIASES} YAML aliases (*name); "
                                     "write the entries out instead.")
            return super().compose_node(parent, index)

    return BoundedLoader


@dataclass(frozen=True)
class CastEntry:
    voice_id: str                 # "" = not chosen: `complete_cast` gives the default voice
    portrait: str | None = None   # an upload's stored name, a built-in portrait id, or a path given by the user
    face_box: tuple[float, float, float, float] | None = None  # manual face placement (x, y, w, h), portrait px
    motion: MotionStyle | None = None   # the speaker's motion sliders (None = the default look)
    tuning: VoiceTuning = DEFAULT_TUNING   # speed / variation / volume of this speaker's voice

    @property
    def style(self) -> MotionStyle:
        return self.motion if self.motion is not None else MotionStyle()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"voice_id": self.voice_id, "portrait": self.portrait}
        if self.face_box is not None:
            data["face_box"] = [float(v) for v in self.face_box]
        if self.motion is not None and self.motion != MotionStyle():
            data["motion"] = self.motion.to_dict()
        if not self.tuning.is_default:
            data["tuning"] = self.tuning.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CastEntry:
        portrait = data.get("portrait")
        box = data.get("face_box")
        face_box: tuple[float, float, float, float] | None = None
        if isinstance(box, (list, tuple)) and len(box) == 4:
            face_box = (float(box[0]), float(box[1]), float(box[2]), float(box[3]))
        motion = data.get("motion")
        style = None
        if isinstance(motion, Mapping):
            known = set(MotionStyle().to_dict())
            style = MotionStyle(**{k: float(v) for k, v in motion.items() if k in known})
        return cls(voice_id=str(data["voice_id"]), portrait=None if portrait is None else str(portrait),
                   face_box=face_box, motion=style,
                   tuning=VoiceTuning.from_dict(data.get("tuning")))


def known_voice_ids() -> set[str]:
    from .voices import list_voices  # lazy: the voice registry loads espeak

    return {voice.voice_id for voice in list_voices()}


def check_voice_id(speaker: str, voice_id: str, known: set[str] | None = None) -> None:
    """InputError naming the speaker and the id when the id is no voice we have.

    Listed voices pass at once; other `espeak:` ids (any espeak-ng voice name) are checked with espeak itself.
    """
    known = known_voice_ids() if known is None else known
    if voice_id in known:
        return
    if voice_id.startswith("espeak:"):
        from .voices import get_voice

        try:
            get_voice(voice_id)
            return
        except InputError:
            pass
    raise InputError(f"Unknown voice id {voice_id!r} for speaker {_show(speaker)}; {LIST_VOICES_HINT}.")


def load_cast_yaml(path: str | os.PathLike[str]) -> dict[str, CastEntry]:
    """Read and validate a cast file; every problem is an InputError naming the line or the speaker."""
    import yaml

    path = Path(path)
    from .inputs import read_bounded

    raw = read_bounded(path, MAX_CAST_BYTES, "cast file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"Cast file {path} is not UTF-8 text (byte {err.start}); save it as UTF-8.") from err
    try:
        data = yaml.load(text, Loader=_bounded_loader(path))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or "invalid YAML"
        raise InputError(f"Cast file {path} is not valid YAML{where}: {problem}.") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"Cast file {path} must map speaker names to voice ids (e.g. `Alice: espeak:en-us+f2`).")

    cast: dict[str, CastEntry] = {}
    known = known_voice_ids()
    for speaker, value in data.items():
        speaker = str(speaker)
        if isinstance(value, str):
            entry = CastEntry(voice_id=value.strip())
        elif isinstance(value, dict) and isinstance(value.get("voice", ""), str) and value:
            unknown = set(value) - {"voice", "portrait", *_TUNING_FIELDS}
            if unknown:
                raise InputError(f"Cast file {path}: speaker {_show(speaker)} has unknown field(s) "
                                 f"{', '.join(sorted(map(str, unknown)))}; use `voice`, `portrait`, "
                                 f"{', '.join(f'`{f}`' for f in _TUNING_FIELDS)}.")
            portrait = value.get("portrait")
            if portrait is not None and not isinstance(portrait, str):
                raise InputError(f"Cast file {path}: the portrait of speaker {_show(speaker)} must be a file name "
                                 f"(text), not a YAML {type(portrait).__name__}.")
            try:
                tuning = VoiceTuning(**{f: value[f] for f in _TUNING_FIELDS if f in value})
            except InputError as err:
                raise InputError(f"Cast file {path}: speaker {_show(speaker)}: {err}") from None
            entry = CastEntry(voice_id=str(value.get("voice", "")).strip(),
                              portrait=None if portrait is None else str(portrait), tuning=tuning)
        else:
            raise InputError(f"Cast file {path}: speaker {_show(speaker)} needs a voice id or a portrait "
                             f"(`{speaker}: espeak:en-us+f2`, or `voice:` / `portrait:` under it).")
        if entry.voice_id:
            check_voice_id(speaker, entry.voice_id, known)
        cast[speaker] = entry
    return cast


def complete_cast(speakers: Iterable[str], cast: Mapping[str, CastEntry], narrator: str,
                  sentences: Sequence = ()) -> dict[str, CastEntry]:
    """Every speaker of the story with a cast entry: given ones kept, the rest (and entries without a voice, e.g.
    only a portrait) filled with defaults cast by the story's cues (`sentences`; see `casting`)."""
    from .casting import default_voices

    speakers = list(dict.fromkeys(speakers))
    completed = dict(cast)
    if all(speaker in completed and completed[speaker].voice_id for speaker in speakers):
        return completed
    defaults = default_voices(speakers, narrator, sentences)
    for speaker in speakers:
        entry = completed.get(speaker)
        if entry is None:
            completed[speaker] = CastEntry(voice_id=defaults[speaker])
        elif not entry.voice_id:
            completed[speaker] = dataclasses.replace(entry, voice_id=defaults[speaker])
    return completed


def project_cast(project) -> dict[str, CastEntry]:
    """The project's full cast as every stage and page sees it (defaults cast from the project's own story)."""
    return complete_cast(project.speakers(), project.cast, project.settings.default_speaker, project.sentences)


def _show(speaker: str) -> str:
    """A speaker name safe to print on one line (names may hold emoji, slashes or 200 characters)."""
    shown = speaker if len(speaker) <= 60 else speaker[:57] + "..."
    return repr(shown)
