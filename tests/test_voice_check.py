"""Voice check (QA, #11.4): Whisper tiny.en (bundled, offline) transcribes each sentence; the word error rate is its
score; lines whose words are not recovered are flagged; a "say as" respelling changes the audio and its key, not
the subtitle; `speak --check` prints the flagged lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepstory_core.cli import main
from deepstory_core.editing import sentence_table, set_say_as
from deepstory_core.project import Project
from deepstory_core.sentence_audio import sentence_audio
from deepstory_core.stages.voice import prepare_soundtrack
from deepstory_core.subtitles import subtitle_cues
from deepstory_core.voice_check import (
    CHECK_STAGE,
    check_voices,
    normalize_words,
    stored_checks,
    word_error_rate,
    word_errors,
)


def test_normalisation_and_word_error_rate() -> None:
    assert normalize_words("Mr. Grey 2 dogs—well-fed!") == ["mister", "gray", "two", "dogs", "well", "fed"]
    assert word_error_rate("Mara opened the door.", "mara opened the door") == 0.0
    assert word_error_rate("Mara opened the door.", "Marr open the door.") == 0.5
    assert word_error_rate("one two", "") == 1.0
    assert normalize_words("1,250 and forty-two") == "one thousand two hundred fifty and forty two".split()
    assert word_error_rate("He was forty-two.", "He was 42.") == 0.0
    distance, missed = word_errors("the cat sat on the mat".split(), "the cat on a mat".split())
    assert distance == 2 and missed == ["sat", "the"]


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory):
    project = Project.create(tmp_path_factory.mktemp("check") / "p")
    project.set_story("The lamp was still burning in the window.\nBob: Xqzv plorth gnarbl vuzzik.")
    project.save()
    prepare_soundtrack(project)
    return project, check_voices(project)


def test_clear_lines_score_high_and_garbled_lines_are_flagged(checked) -> None:
    project, checks = checked
    narration, garbled = checks
    assert narration.wer <= 0.15 and not narration.flagged and narration.score >= 85
    assert garbled.flagged and garbled.wer > 0.5 and "xqzv" in garbled.missed
    # stored: the page reads the same results without transcribing
    rows = sentence_audio(project)
    again = stored_checks(project, rows)
    assert again[0] == narration and again[1] == garbled
    assert len(project.store.keys(CHECK_STAGE)) == 2


def test_say_as_changes_the_audio_and_its_key_but_not_the_subtitle(checked) -> None:
    project, _ = checked
    before = sentence_audio(project)[1]
    set_say_as(project, 1, "Hello there, how are you?")
    project = Project.open(project.root)
    assert project.sentences[1].say_as == "Hello there, how are you?"
    assert sentence_table(project)[1]["say_as"] == "Hello there, how are you?"
    after = sentence_audio(project)[1]
    assert after.key != before.key and not after.ready
    plan = prepare_soundtrack(project)
    cues = subtitle_cues(plan, project.sentences)
    assert "Xqzv plorth gnarbl vuzzik." in [c.text for c in cues]
    # the check still compares with the line's own words: the respelling here says other words
    assert check_voices(project)[1].flagged
    set_say_as(project, 1, "")
    assert sentence_audio(Project.open(project.root))[1].key == before.key


def test_speak_check_prints_the_flagged_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    story = tmp_path / "story.txt"
    story.write_text("The lamp was still burning.\nBob: Xqzv plorth gnarbl.\n", encoding="utf-8")
    assert main(["speak", str(story), "-o", str(tmp_path / "s.wav"), "--project", str(tmp_path / "p"),
                 "--check", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "voice check: word error rate" in out and "1 flagged" in out
    assert "sentence 2 (Bob)" in out and "Xqzv plorth gnarbl." in out
