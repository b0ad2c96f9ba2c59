"""The studio driven headless with Streamlit's AppTest: every page, the whole flow, and every bad input's message.

Real voices (espeak), real stages and artifact store; the base and motion backends are the cheap contract-exact
ones of `tests/render_backends.py` so a render takes a fraction of a second. Background jobs are real threads:
the tests wait for them through the job manager, as the page's progress panel would.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from deepstory_core import render, video
from deepstory_core.cast import CastEntry
from deepstory_core.jobs import ProjectLock, job_manager
from deepstory_core.project import Project, create_project
from tests import render_backends
from ui.session import scoped_key

REPO = Path(__file__).resolve().parents[1]
STORY = "Alice: Hello there, Bob.\nBob: Hi! Lovely day.\nAlice: It is.\n"


def _png(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]))
    assert ok
    return data.tobytes()


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPSTORY_PROJECTS", str(tmp_path / "projects"))
    render_backends.register()
    yield tmp_path / "projects"


@pytest.fixture
def project(home) -> Project:
    """A tiny two-speaker project (aligned 128×96 test faces, cheap base/motion backends, short chunks)."""
    project = create_project("Test story", home)
    project.settings = project.settings.with_changes(base_backend="cheap", animate_backend="cheap",
                                                     line_start_pause=0.1)
    project.set_story(STORY)
    for speaker, seed, voice in (("Alice", 1, "espeak:en-us+f2"), ("Bob", 2, "espeak:en+m7")):
        project.cast[speaker] = CastEntry(voice, project.add_upload(_png(render_backends.face_image(seed)), "f.png"))
    project.save()
    return project


def _app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(REPO / "studio.py"), default_timeout=60)
    at.run()
    if page:
        at.switch_page(f"pages/{page}.py")
        at.run()
    _no_exception(at)
    return at


def _no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _wait(at: AppTest, project: Project) -> None:
    """Let the background job finish, then rerun the page (what the progress panel does on its own)."""
    status = job_manager().wait(project.root, timeout=60)
    assert status is not None and status.state == "done", status
    at.run()
    _no_exception(at)


def _errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def _keyed(widgets, prefix: str):
    """The widget whose key starts with `prefix-` (the cast page suffixes keys with a project/speaker digest)."""
    matches = [w for w in widgets if str(w.key or "").startswith(prefix + "-")]
    assert matches, f"no widget keyed {prefix}-…; have {[w.key for w in widgets]}"
    return matches[0]


def _button(at: AppTest, label: str):
    matches = [b for b in at.button if b.label == label]
    assert matches, f"no button {label!r}; have {[b.label for b in at.button]}"
    return matches[0]


# -- pages ---------------------------------------------------------------------------------------------------------
def test_every_page_renders_without_errors(project):
    at = _app()
    for page in ("story", "cast", "voices", "base", "animate", "export", "models"):
        at.switch_page(f"pages/{page}.py")
        at.run()
        _no_exception(at)
        assert not _errors(at), (page, _errors(at))
    # the models page lists the neural backends as missing with the file to put where
    assert any("data/sda/grid.dat" in str(row) for row in at.dataframe[0].value.to_dict("records"))


def test_fresh_install_opens_the_demo_story(home):
    at = _app()
    assert not _errors(at)
    projects = [p for p in home.iterdir() if (p / "project.json").is_file()]
    assert len(projects) == 1
    demo = Project.open(projects[0])
    assert len(demo.speakers()) == 2 and len(demo.sentence_rows) > 5
    assert all(entry.portrait for entry in demo.cast.values())
    at.switch_page("pages/cast.py")
    at.run()
    _no_exception(at)
    assert not _errors(at)
    assert any("Face found" in str(img.proto) for img in at.get("image")), "the detected face box is shown"


def test_story_parse_and_speaker_edit(project):
    at = _app("story")
    _keyed(at.text_area, "story_text").set_value("Alice: Who are you?\nBob: A friend. Truly.\nThe night fell.\n")
    _button(at, "Parse story").click()
    at.run()
    _no_exception(at)
    reopened = Project.open(project.root)
    assert [r["speaker"] for r in reopened.sentence_rows] == ["Alice", "Bob", "Bob", "Narrator"]

    # the writer gives the narration to Bob in the table, then saves
    at.session_state[scoped_key("sentence_editor", project.root)] = {"edited_rows": {3: {"speaker": "Bob"}}, "added_rows": [],
                                           "deleted_rows": []}
    at.run()
    _button(at, "Save table").click()
    at.run()
    _no_exception(at)
    assert [r["speaker"] for r in Project.open(project.root).sentence_rows] == ["Alice", "Bob", "Bob", "Bob"]

    # rename a speaker
    _keyed(at.selectbox, "rename_from").set_value("Bob")
    _keyed(at.text_input, "rename_to").set_value("Robert")
    at.run()
    at.button(key="rename_speaker").click()
    at.run()
    _no_exception(at)
    assert Project.open(project.root).speakers() == ["Alice", "Robert"]


def test_synthesise_render_retry_export(project):
    at = _app("voices")
    at.button(key="synthesise_all").click()
    at.run()
    _wait(at, project)
    assert len(at.get("audio")) == 4, "one player per sentence"
    assert any("<svg" in m.value for m in at.markdown), "the timeline is drawn"
    plan_table = at.table[0].value
    assert list(plan_table["speaker"]) == ["Alice", "Bob", "Alice"], "a new chunk at every speaker change"

    # render chunk 1's base, then its clip
    at.switch_page("pages/base.py")
    at.run()
    at.button(key="base-render-0").click()
    at.run()
    _wait(at, project)
    statuses = render.chunk_status(Project.open(project.root))
    assert [s.base for s in statuses] == [True] + [False] * (len(statuses) - 1)
    assert len(at.get("video")) == 1, "the rendered base is previewed"

    at.switch_page("pages/animate.py")
    at.run()
    at.button(key="animate-render-all").click()
    at.run()
    _wait(at, project)
    before = render.chunk_status(Project.open(project.root))
    assert all(s.clip for s in before)
    assert len(at.get("video")) == len(before)

    # retry chunk 1: its seed and clip change, the other chunks keep theirs
    clip_bytes = before[0].clip_path.read_bytes()
    at.button(key="animate-retry-0").click()
    at.run()
    _wait(at, project)
    after = render.chunk_status(Project.open(project.root))
    assert after[0].seed != before[0].seed
    assert after[0].clip_path != before[0].clip_path and after[0].clip_path.is_file()
    assert after[0].clip_path.read_bytes() != clip_bytes
    assert [(s.seed, s.clip_path) for s in after[1:]] == [(s.seed, s.clip_path) for s in before[1:]]
    assert all(s.clip_path.stat().st_mtime_ns == b.clip_path.stat().st_mtime_ns for s, b in zip(after[1:], before[1:]))

    # export: the video plays in the page, mp4 and srt can be downloaded
    at.switch_page("pages/export.py")
    at.run()
    at.button(key="export").click()
    at.run()
    _wait(at, project)
    exported = render.export_path(project)
    assert exported.is_file() and exported.with_suffix(".srt").is_file()
    video_s, audio_s = video.stream_durations(exported)
    frames = sum(s.num_frames for s in after)
    assert abs(video_s - frames / 25) < 0.05 and abs(audio_s - video_s) < 0.1
    assert len(at.get("video")) == 1
    assert {b.proto.label for b in at.get("download_button")} >= {"Download mp4", "Download srt"}


# -- bad input reaches the user as one readable line ---------------------------------------------------------------
def test_empty_story_and_non_utf8_upload(project):
    at = _app("story")
    _keyed(at.text_area, "story_text").set_value("   \n")
    _button(at, "Parse story").click()
    at.run()
    _no_exception(at)
    assert any("The story is empty" in e for e in _errors(at))
    _keyed(at.file_uploader, "story_upload").set_value(("story.txt", b"\xff\xfeA\x00l\x00", "text/plain"))
    _button(at, "Parse story").click()
    at.run()
    _no_exception(at)
    assert any("UTF-8" in e for e in _errors(at))
    assert Project.open(project.root).story_text == STORY, "nothing was lost"


def test_portrait_without_face_and_not_an_image(project):
    at = _app("cast")
    _keyed(at.radio, "portrait-source-0").set_value("Upload")
    at.run()
    blank = np.full((300, 240, 3), 128, np.uint8)
    _keyed(at.file_uploader, "upload-0").set_value(("blank.png", _png(blank), "image/png"))
    at.run()
    _no_exception(at)
    assert any("No face found" in e for e in _errors(at))

    # manual placement: a box the user draws is kept in the cast
    _keyed(at.number_input, "box-x-0").set_value(60)
    _keyed(at.number_input, "box-y-0").set_value(80)
    _keyed(at.number_input, "box-w-0").set_value(120)
    _keyed(at.number_input, "box-h-0").set_value(140)
    at.run()
    assert any("Manual face box" in str(img.proto) for img in at.get("image"))
    _keyed(at.button, "box-save-0").click()
    at.run()
    _no_exception(at)
    assert Project.open(project.root).cast["Alice"].face_box == (60.0, 80.0, 120.0, 140.0)

    _keyed(at.file_uploader, "upload-0").set_value(("face.png", b"not an image at all", "image/png"))
    at.run()
    _no_exception(at)
    assert any("not a readable image" in e or "not an image" in e for e in _errors(at))


def test_unknown_voice(project):
    project.cast["Bob"] = CastEntry("espeak:xx-no-such-voice", project.cast["Bob"].portrait)
    project.save()
    at = _app("cast")
    assert any("Unknown voice id 'espeak:xx-no-such-voice'" in e for e in _errors(at))
    at.switch_page("pages/voices.py")
    at.run()
    _no_exception(at)
    assert any("xx-no-such-voice" in e for e in _errors(at))


def test_missing_weights_are_explained(project):
    project.settings = project.settings.with_changes(base_backend="sda")
    project.save()
    at = _app("base")
    assert not _errors(at)
    assert any("sda" in w.value and "grid.dat" in w.value for w in at.warning)
    assert any("grid.dat" in c.value for c in at.caption)


def test_corrupt_project_file(project):
    at = _app()
    project.project_file.write_text("{ this is not json", encoding="utf-8")
    at.run()
    _no_exception(at)
    assert any("damaged" in e and "project.json" in e for e in _errors(at))


def test_job_conflict_with_another_process(project):
    at = _app("animate")
    lock = ProjectLock(project.root)     # what a second studio or a CLI render holds while it runs
    assert lock.acquire()
    try:
        at.button(key="animate-render-all").click()
        at.run()
        _no_exception(at)
        assert any("Another process" in w.value for w in at.warning)
    finally:
        lock.release()
    assert job_manager().status(project.root) is None or not job_manager().status(project.root).running


def test_render_survives_the_tab_and_cancels_cleanly(project, monkeypatch):
    monkeypatch.setenv("DEEPSTORY_TEST_BATCH_DELAY", "0.3")   # slow the cheap backends down: time to look
    at = _app("animate")
    at.button(key="animate-render-all").click()
    at.run()
    assert job_manager().status(project.root).running

    # another tab (a new session) sees the running render and cannot start a second one
    other = _app("base")
    assert any(b.label == "Cancel" for b in other.button)
    assert _button(other, "Render all").disabled

    _button(other, "Cancel").click()
    other.run()
    status = job_manager().wait(project.root, timeout=30)
    assert status.state == "cancelled"
    other.run()
    _no_exception(other)
    assert any("cancelled" in i.value for i in other.info)
    statuses = render.chunk_status(Project.open(project.root))
    assert not all(s.clip for s in statuses), "stopped before the end"


def test_memory_panel_lists_and_unloads_the_engines_models(project):
    from deepstory_core.stages.voice import prepare_soundtrack

    prepare_soundtrack(project)     # voices ready: the page lists the chunks
    at = _app("animate")
    at.button(key="animate-render-0").click()
    at.run()
    _wait(at, project)
    at = _app()   # (AppTest draws the sidebar on the entry page only; any session sees the same models)
    assert any("Loaded models:" in c.value and "animate:cheap" in c.value for c in at.sidebar.caption)
    at.sidebar.button(key="unload_models").click()
    at.run()
    _no_exception(at)
    from deepstory_core.models import loaded_models

    assert loaded_models() == []
    assert any(c.value.startswith("Loaded models: none") for c in _app().sidebar.caption)


def test_a_failing_render_reports_its_reason_in_the_page(project):
    texture = np.random.default_rng(3).integers(90, 160, (240, 200, 3)).astype(np.uint8)   # no face in it
    project.cast["Bob"] = CastEntry("espeak:en+m7", project.add_upload(_png(texture), "noface.png"))
    project.save()
    at = _app("animate")
    at.button(key="animate-render-all").click()
    at.run()
    status = job_manager().wait(project.root, timeout=60)
    assert status.state == "failed"
    at.run()
    _no_exception(at)
    assert any("Portrait of 'Bob'" in e and "No face found" in e for e in _errors(at))


def test_cast_choices_are_saved_when_made_and_only_then(project):
    before = project.project_file.read_bytes()
    at = _app("cast")
    assert project.project_file.read_bytes() == before, "looking at the cast changes nothing"
    _keyed(at.selectbox, "voice-1").set_value("espeak:en-us+m1")
    at.run()
    _no_exception(at)
    assert Project.open(project.root).cast["Bob"].voice_id == "espeak:en-us+m1"
    _keyed(at.button, "sample-1").click()
    at.run()
    assert len(at.get("audio")) == 1, "the sample plays"

    _keyed(at.radio, "portrait-source-0").set_value("Built-in")
    at.run()
    _keyed(at.selectbox, "builtin-0").set_value("builtin:eileen")
    at.run()
    _no_exception(at)
    assert Project.open(project.root).cast["Alice"].portrait == "builtin:eileen"
    assert any("Face found" in str(img.proto) for img in at.get("image"))
    assert not _errors(at)


def test_backend_and_export_options_are_saved(project):
    at = _app("base")
    _keyed(at.selectbox, "base_backend").set_value("builtin")
    at.run()
    _no_exception(at)
    assert Project.open(project.root).settings.base_backend == "builtin"
    at.switch_page("pages/export.py")
    at.run()
    _keyed(at.checkbox, "full_frame").check()
    _keyed(at.checkbox, "soft_subtitles").check()
    _keyed(at.checkbox, "burn_subtitles").check()
    at.run()
    _keyed(at.selectbox, "canvas").set_value("1080p")
    _keyed(at.selectbox, "subtitle_size").set_value("large")
    _keyed(at.selectbox, "subtitle_position").set_value("top")
    at.run()
    _no_exception(at)
    settings = Project.open(project.root).settings
    assert settings.full_frame and settings.soft_subtitles and settings.burn_subtitles
    assert (settings.canvas, settings.subtitle_size, settings.subtitle_position) == ("1080p", "large", "top")


# -- #13: what a new user met ---------------------------------------------------------------------------------------
def _infos(at: AppTest) -> list[str]:
    return [e.value for e in at.info]


def _texts(at: AppTest) -> str:
    """Everything written on the page (markdown, captions, alerts), for "is this said somewhere" checks."""
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for kind in (at.info, at.success, at.warning, at.error) for e in kind]
    return "\n".join(str(p) for p in parts)


def test_rename_keeps_the_project_on_every_page(project, home):
    at = _app()
    at.sidebar.text_input(key="project_name_edit").set_value("Lighthouse Storm")
    at.run()          # Enter in the name field renames (the field's change callback)
    _no_exception(at)
    # (AppTest draws the sidebar on a session's first run only: its message waits in the session state)
    assert at.session_state["sidebar_success"] == "Renamed to “Lighthouse Storm”."
    assert Project.open(project.root).name == "Lighthouse Storm"
    assert at.session_state["project_select"] == str(project.root)        # re-sent under its new label
    assert (home / ".last_project").read_text() == project.root.name       # the folder, never the display name
    for page in ("cast", "export"):
        at.switch_page(f"pages/{page}.py")
        at.run()
        _no_exception(at)
        assert not _errors(at), _errors(at)
    assert len([p for p in home.iterdir() if (p / "project.json").is_file()]) == 1   # no phantom entry

    at = _app()
    select = at.sidebar.selectbox(key="project_select")
    assert select.value == str(project.root) and select.format_func(select.value) == "Lighthouse Storm"
    # a new project by name + Enter
    at.sidebar.text_input(key="new_project_name").set_value("Second story")
    at.run()
    _no_exception(at)
    assert at.session_state["sidebar_success"].startswith("Created “Second story”")
    assert _app().sidebar.selectbox(key="project_select").format_func(at.session_state["project_select"]) \
        == "Second story"


def test_reparse_messages_and_the_text_following_the_table(project):
    at = _app("story")
    # unchanged text: the table is kept, and it says so
    _button(at, "Parse story").click()
    at.run()
    assert any("did not change" in i for i in _infos(at)), _infos(at)
    # an edit in the table: saved with a confirmation, and the Story text follows it
    at.session_state[scoped_key("sentence_editor", project.root)] = {
        "edited_rows": {0: {"text": "Hello there, Robert."}}, "added_rows": [], "deleted_rows": []}
    at.run()
    _button(at, "Save table").click()
    at.run()
    _no_exception(at)
    assert any("Saved the table: 4 sentences" in s.value for s in at.success), [s.value for s in at.success]
    assert _keyed(at.text_area, "story_text").value.startswith("Alice: Hello there, Robert.")
    # the same text parsed again keeps the edit
    _button(at, "Parse story").click()
    at.run()
    assert Project.open(project.root).sentence_rows[0]["text"] == "Hello there, Robert."

    # an edit that the text does not carry: new text asks first
    fresh = Project.open(project.root)
    fresh.sentence_rows[1]["text"] = "Only in the table."
    fresh.save()
    at = _app("story")
    _keyed(at.text_area, "story_text").set_value("Alice: A new story.\n")
    _button(at, "Parse story").click()
    at.run()
    assert any("would be lost" in w.value for w in at.warning), [w.value for w in at.warning]
    assert Project.open(project.root).sentence_rows[1]["text"] == "Only in the table."
    _button(at, "Keep the table").click()
    at.run()
    assert any("Kept the table" in i for i in _infos(at))
    _button(at, "Parse story").click()
    at.run()
    at.button(key="replace_edits").click()
    at.run()
    _no_exception(at)
    assert [r["text"] for r in Project.open(project.root).sentence_rows] == ["A new story."]


def test_stale_export_notice_and_downloads_named_after_the_project(project):
    render.render_story(project)
    at = _app("export")
    labels = {b.proto.label for b in at.get("download_button")}
    assert labels >= {"Download mp4", "Download srt", "Download vtt"}, labels
    assert "test-story.mp4 ·" in _texts(at)
    assert "no longer matches" not in _texts(at)
    changed = Project.open(project.root)
    changed.sentence_rows[0]["text"] = "Something else."
    changed.save()
    for page in ("story", "cast", "voices", "base", "animate", "export"):
        at.switch_page(f"pages/{page}.py")
        at.run()
        assert any("no longer matches the story" in w.value for w in at.warning), page


def test_no_face_is_flagged_before_rendering(project):
    texture = np.random.default_rng(3).integers(90, 160, (240, 200, 3)).astype(np.uint8)
    project.cast["Bob"] = CastEntry("espeak:en+m7", project.add_upload(_png(texture), "noface.png"))
    project.save()
    from deepstory_core.stages.voice import prepare_soundtrack

    prepare_soundtrack(project)
    for page in ("base", "animate"):
        at = _app(page)
        flagged = [e for e in _errors(at) if "'Bob'" in e and "No face" in e]
        assert flagged and "Cast" in flagged[0], _errors(at)
    assert not any(project.store.root.glob("base/*.npy")), "nothing was rendered to find out"


def test_success_stays_on_its_page_and_resynthesise_needs_audio(project):
    at = _app("voices")
    assert not [b for b in at.button if b.label == "Re-synthesise"], "no audio yet: nothing to re-synthesise"
    assert "Synthesise all** makes it" in _texts(at)
    at.button(key="synthesise_all").click()
    at.run()
    _wait(at, project)
    at.run()
    assert any("Voices finished" in s.value for s in at.success), [s.value for s in at.success]
    assert [b for b in at.button if b.label == "Re-synthesise"]
    at.switch_page("pages/base.py")
    at.run()
    assert not any("finished" in s.value for s in at.success), "the Voices success does not follow to Base"


def test_double_click_render_all_starts_one_job(project):
    from deepstory_core.stages.voice import prepare_soundtrack

    prepare_soundtrack(project)
    at = _app("base")
    at.button(key="base-render-all").click()
    at.button(key="base-render-all").click()    # the second click arrives before the page is redrawn
    at.run()
    _no_exception(at)
    assert not at.warning or not any("already running" in w.value for w in at.warning)
    assert at.button(key="base-render-all").disabled or job_manager().status(project.root).state != "running"
    _wait(at, project)
    assert all(s.base for s in render.chunk_status(Project.open(project.root)))


def test_every_page_ends_with_the_next_step_and_models_paths_are_absolute(project):
    at = _app()
    for page, target in (("story", "Cast"), ("cast", "Voices"), ("voices", "Base"), ("export", None)):
        at.switch_page(f"pages/{page}.py")
        at.run()
        _no_exception(at)
        said = _texts(at)
        assert ("Next: " + target) in said if target else "Done?" in said, page
    at.switch_page("pages/models.py")
    at.run()
    rows = at.dataframe[0].value.to_dict("records")
    sda = next(r for r in rows if "Speech-Driven" in r["model"])
    assert Path(sda["file(s) needed"]).is_absolute()
    fom = next(r for r in rows if "First Order" in r["model"])
    assert "vox-256.yaml" not in fom["file(s) needed"], "the shipped config is not asked for"
    assert "<voice>" in _texts(at) and "folder you name after the voice" in _texts(at)


def test_fresh_install_offers_render_the_demo(home):
    at = _app()
    assert any("Welcome!" in i for i in _infos(at))
    assert at.button(key="render_demo").label == "Render the demo"


def test_lip_sync_score_is_measured_and_shown_in_the_table(project):
    render.render_story(project, until="animate")
    at = _app("animate")
    at.button(key="animate-score-0").click()
    at.run()
    _wait(at, project)
    at.run()
    shown = [c.value for c in at.caption if "lip-sync" in c.value]
    assert shown and ("weak lip-sync" in shown[0] or "lip-sync ok" in shown[0]), [c.value for c in at.caption]


def test_render_queue_from_the_export_page_shows_in_the_sidebar(project):
    from deepstory_core.render_queue import render_queue

    at = _app("export")
    at.button(key="queue_add").click()
    at.run()
    _no_exception(at)
    assert render_queue().wait_idle(120)
    assert render.export_path(project).is_file()
    at = _app()
    said = "\n".join(m.value for m in at.sidebar.markdown)
    assert "Test story — done" in said, said
    render_queue().clear_finished()


def test_clean_up_removes_only_unused_renders(project):
    render.render_story(project, until="animate")
    clips = sorted(project.store.root.glob("clip/*.mp4"))
    assert clips
    stale = clips[0].with_name("0" * 24 + clips[0].suffix)       # a clip no current chunk names
    stale.write_bytes(clips[0].read_bytes())
    at = _app("export")
    at.button(key="clean_up").click().run()
    _no_exception(at)
    assert any("Removed" in s.value for s in at.success), [s.value for s in at.success]
    assert not stale.exists() and all(clip.exists() for clip in clips)
    at.button(key="clean_up").click().run()
    assert any("Nothing to remove" in s.value for s in at.success)


def test_the_job_panel_says_what_was_damaged_and_made_again(project):
    """A clip damaged on disk is moved aside and rendered again; the Export page's job panel says so."""
    render.render_story(project)
    clip = render.chunk_status(Project.open(project.root))[1].clip_path
    clip.write_bytes(b"\x00not an mp4" * 64)
    at = _app("export")
    at.button(key="export").click()
    at.run()
    _wait(at, project)
    warnings = [w.value for w in at.warning]
    assert any("The clip of chunk 2 was damaged" in w and "moved aside" in w for w in warnings), warnings
    assert render.chunk_status(Project.open(project.root))[1].clip_path.is_file()
