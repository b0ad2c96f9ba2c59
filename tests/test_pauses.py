"""Pause lengths are sample-exact against the original's table and formula."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deepstory_core.pauses import pause_after_samples, pause_samples
from deepstory_core.settings import DEFAULT_PUNCTUATION_PAUSES, Settings
from deepstory_core.story import Sentence, parse_story


def _sentence(trailing: str, line_start: bool = False) -> Sentence:
    return Sentence("x" + trailing, "Narrator", line_start, trailing, 0)


@pytest.fixture(scope="module")
def reference(reference_dir: Path) -> dict:
    return json.loads((reference_dir / "deepstory" / "punctuation_pauses.json").read_text(encoding="utf-8"))


def test_default_table_is_the_originals(reference: dict) -> None:
    assert DEFAULT_PUNCTUATION_PAUSES == reference["pause_seconds_per_char"]
    assert Settings().sample_rate == reference["sr"]


def test_every_reference_example_is_sample_exact(reference: dict) -> None:
    examples = reference["pad_end_samples_examples_(int(22050*sum))"]
    assert len(examples) >= 15
    for trailing, expected in examples.items():
        assert pause_samples(_sentence(trailing), Settings()) == (0, expected), trailing


def test_line_start_pause(reference: dict) -> None:
    before, after = pause_samples(_sentence(".", line_start=True), Settings())
    assert before == reference["pad_begin_samples_if_line_start_(0.5 s)"] == 11025
    assert after == 6615


@pytest.mark.parametrize(
    "trailing, expected",
    [("?!", 15434), ("...", 19844), ("…", 13230), (".\u201d", 7717), (",", 3307), ("", 0), (")", 0), ("%.", 6615)],
)
def test_float_truncation_as_the_original(trailing: str, expected: int) -> None:
    # int(sr * sum(...)) truncates: 22050 * 0.7 = 15434.999… → 15434
    assert pause_samples(_sentence(trailing))[1] == expected


def test_table_and_line_pause_are_settings() -> None:
    settings = Settings().with_changes(punctuation_pauses={".": 1.0, "?": 0.5}, line_start_pause=0.25)
    assert pause_samples(_sentence("?.", line_start=True), settings) == (5512, 33075)
    assert pause_samples(_sentence("!"), settings) == (0, 0)
    assert pause_after_samples("..", {".": 0.1}, 16000) == 3200


def test_pauses_of_parsed_sentences() -> None:
    got = [pause_samples(s) for s in parse_story("Alice: Really?! Yes...\nWell, “no.”")]
    assert got == [(11025, 15434), (0, 19844), (11025, 7717)]
