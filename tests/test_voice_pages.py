"""The voice controls in the studio (AppTest, headless): the Cast page lists the Piper voices and saves a speaker's
tuning (heard in the sample); the Voices page shows each line's check score and saves its "say as" text; the
Models page lists the Piper entries."""

from __future__ import annotations

from test_studio_apptest import _app, _keyed, _no_exception, home, project  # noqa: F401 - fixtures

from deepstory_core.project import Project
from deepstory_core.stages.voice import prepare_soundtrack
from deepstory_core.voice_check import check_voices


def test_cast_page_lists_piper_and_saves_the_tuning(project):  # noqa: F811
    at = _app("cast")
    voice = _keyed(at.selectbox, "voice-1")
    assert "piper:en_US-joe-medium" in voice.options[0] or any("Piper" in o for o in voice.options)
    _keyed(at.slider, "speed-1").set_value(1.25)
    at.run()
    _no_exception(at)
    assert Project.open(project.root).cast["Bob"].tuning.speed == 1.25
    _keyed(at.button, "sample-1").click()
    at.run()
    _no_exception(at)
    assert len(at.get("audio")) == 1


def test_voices_page_shows_scores_and_saves_say_as(project):  # noqa: F811
    prepare_soundtrack(project)
    check_voices(project)
    at = _app("voices")
    captions = " ".join(str(c.value) for c in at.caption)
    assert "score" in captions and "heard" in captions
    say_as = next(t for t in at.text_input if str(t.key) == "say-as-0")
    say_as.set_value("Hello hello")
    at.run()
    _no_exception(at)
    assert Project.open(project.root).sentences[0].say_as == "Hello hello"


def test_models_page_lists_the_piper_voice(project):  # noqa: F811
    at = _app("models")
    assert "en_US-joe-medium" in str([m.proto for m in at.main])
