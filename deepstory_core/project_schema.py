"""The schema of project.json: every field's type and range, checked on load.

Why: project.json is a text file users (and other tools) may edit. A wrong value (`"fps": "x"`, `"fps": 0`, a
sentence row without a speaker) must stop with one line naming the field — not as a traceback deep inside a
render an hour later.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


class SchemaError(ValueError):
    """`field` (a JSON path like `settings.fps` or `sentences[3].speaker`) and what is wrong with it."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"field {field} {problem}")
        self.field = field


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value  # not NaN


def _int(low: int, high: int) -> Callable[[str, Any], None]:
    def check(field: str, value: Any) -> None:
        if not _is_int(value):
            raise SchemaError(field, f"must be a whole number, not {value!r}")
        if not low <= value <= high:
            raise SchemaError(field, f"must be between {low} and {high}, not {value}")
    return check


def _number(low: float, high: float) -> Callable[[str, Any], None]:
    def check(field: str, value: Any) -> None:
        if not _is_number(value):
            raise SchemaError(field, f"must be a number, not {value!r}")
        if not low <= value <= high:
            raise SchemaError(field, f"must be between {low:g} and {high:g}, not {value}")
    return check


def _bool(field: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise SchemaError(field, f"must be true or false, not {value!r}")


def _text(nonempty: bool = False, choices: tuple[str, ...] = ()) -> Callable[[str, Any], None]:
    def check(field: str, value: Any) -> None:
        if not isinstance(value, str):
            raise SchemaError(field, f"must be text, not {value!r}")
        if nonempty and not value.strip():
            raise SchemaError(field, "must not be empty")
        if choices and value not in choices:
            raise SchemaError(field, f"must be one of {', '.join(choices)}, not {value!r}")
    return check


def _pauses(field: str, value: Any) -> None:
    if not isinstance(value, Mapping):
        raise SchemaError(field, "must map punctuation to seconds")
    for key, seconds in value.items():
        _number(0.0, 60.0)(f"{field}[{key!r}]", seconds)


SETTINGS_FIELDS: dict[str, Callable[[str, Any], None]] = {
    "sample_rate": _int(8000, 192_000),
    "fps": _int(1, 120),
    "cut_size": _int(1, 1 << 40),
    "line_start_pause": _number(0.0, 60.0),
    "punctuation_pauses": _pauses,
    "speaker_tags": _bool,
    "default_speaker": _text(nonempty=True),
    "sentence_group": _int(1, 1000),
    "base_backend": _text(nonempty=True),
    "animate_backend": _text(nonempty=True),
    "motion_backend": _text(nonempty=True),     # the old name of animate_backend (migrated on load)
    "sda_identity": _text(choices=("portrait", "template")),
    "full_frame": _bool,
    "soft_subtitles": _bool,
}


def _mapping(field: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SchemaError(field, f"must be an object ({{...}}), not {type(value).__name__}")
    return value


def _list(field: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise SchemaError(field, f"must be a list ([...]), not {type(value).__name__}")
    return value


def validate_settings(settings: Mapping[str, Any], prefix: str = "settings") -> None:
    for name, check in SETTINGS_FIELDS.items():
        if name in settings:
            check(f"{prefix}.{name}", settings[name])
    rate, fps = settings.get("sample_rate", 22050), settings.get("fps", 25)
    if rate % fps:
        raise SchemaError(f"{prefix}.fps", f"must divide the sample rate {rate} (whole samples per frame), not {fps}")


def validate_project_data(data: Mapping[str, Any]) -> None:
    """Raise SchemaError naming the first field of a project.json dict that has a wrong type or range."""
    if "name" in data and data["name"] is not None:
        _text()("name", data["name"])
    if "created" in data:
        _number(0, 1e12)("created", data["created"])
    if "story" in data:
        _text()("story", data["story"])
    validate_settings(_mapping("settings", data.get("settings", {})))
    for i, row in enumerate(_list("sentences", data.get("sentences", []))):
        row = _mapping(f"sentences[{i}]", row)
        for required in ("text", "speaker"):
            if required not in row:
                raise SchemaError(f"sentences[{i}].{required}", "is missing")
        _text()(f"sentences[{i}].text", row["text"])
        _text(nonempty=True)(f"sentences[{i}].speaker", row["speaker"])
        if "line_start" in row:
            _bool(f"sentences[{i}].line_start", row["line_start"])
        if "trailing" in row:
            _text()(f"sentences[{i}].trailing", row["trailing"])
        if "line_index" in row:
            _int(0, 1 << 40)(f"sentences[{i}].line_index", row["line_index"])
    for speaker, entry in _mapping("cast", data.get("cast", {})).items():
        entry = _mapping(f"cast[{speaker!r}]", entry)
        if "voice_id" not in entry:
            raise SchemaError(f"cast[{speaker!r}].voice_id", "is missing")
        _text(nonempty=True)(f"cast[{speaker!r}].voice_id", entry["voice_id"])
        if entry.get("portrait") is not None:
            _text()(f"cast[{speaker!r}].portrait", entry["portrait"])
        box = entry.get("face_box")
        if box is not None:
            if not isinstance(box, list) or len(box) != 4 or not all(_is_number(v) for v in box):
                raise SchemaError(f"cast[{speaker!r}].face_box", f"must be 4 numbers [x, y, w, h], not {box!r}")
    for key, state in _mapping("chunks", data.get("chunks", {})).items():
        state = _mapping(f"chunks[{key!r}]", state)
        if "seed" in state:
            _int(0, 0x7FFF_FFFF)(f"chunks[{key!r}].seed", state["seed"])
