"""Project store: atomic saves, damaged/unknown project.json, schema, sanitised uploads, stable seeds, artifacts."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest

from deepstory_core import project as project_module
from deepstory_core.artifacts import ArtifactStore, artifact_key
from deepstory_core.cast import CastEntry
from deepstory_core.chunks import PlannedSentence, plan_chunks
from deepstory_core.project import (
    PROJECT_FILE,
    SCHEMA_VERSION,
    Project,
    create_project,
    default_seed,
    list_projects,
    projects_root,
)
from deepstory_core.settings import Settings
from deepstory_core.story import Sentence
from deepstory_kernel.errors import InputError, StorageError

WEIRD_SPEAKERS = ["a/b", "..", "x|y", "🐱 Cat", "N" * 200, "../../etc/passwd"]


def test_round_trip_keeps_everything(tmp_path):
    project = Project.create(tmp_path / "p", name="My story")
    project.story_text = "Alice: Hi.\nBob: Hello."
    project.settings = Settings(cut_size=1234, line_start_pause=0.25)
    project.set_sentences([Sentence("Hi.", "Alice", True, ".", 0), Sentence("Hello.", "Bob", True, ".", 1)])
    project.cast = {"Alice": CastEntry("espeak:en-us+f2", "0123456789abcdef0123.png"), "Bob": CastEntry("espeak:en+m3")}
    project.save()

    again = Project.open(tmp_path / "p")
    assert again.name == "My story"
    assert again.story_text == project.story_text
    assert again.settings == project.settings
    assert again.sentences == project.sentences
    assert again.cast == project.cast
    data = json.loads((tmp_path / "p" / PROJECT_FILE).read_text())
    assert data["schema"] == SCHEMA_VERSION == 1


def test_set_story_parses_with_the_projects_options(tmp_path):
    project = Project(tmp_path / "p")
    project.set_story("Alice: Who are you? I am lost.\nAt 10:30 she left.")
    assert [(s.speaker, s.text, s.line_start) for s in project.sentences] == [
        ("Alice", "Who are you?", True), ("Alice", "I am lost.", False), ("Narrator", "At 10:30 she left.", True)]
    assert project.speakers() == ["Alice", "Narrator"]


def test_save_is_atomic(tmp_path, monkeypatch):
    project = Project.create(tmp_path / "p", name="first")
    before = (tmp_path / "p" / PROJECT_FILE).read_bytes()
    project.name = "second"

    def failing_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(StorageError, match="disk is full"):
        project.save()
    monkeypatch.undo()
    assert (tmp_path / "p" / PROJECT_FILE).read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == [PROJECT_FILE]  # no temp file left behind


@pytest.mark.parametrize("content", [b'{"schema": 1, "name": "x", ', b"\xff\xfe garbage", b"[1, 2]", b'{"name": "x"}',
                                     b'{"schema": 1, "sentences": 5}'])
def test_damaged_project_json_is_reported_in_one_line_and_kept(tmp_path, content):
    root = tmp_path / "p"
    root.mkdir()
    (root / PROJECT_FILE).write_bytes(content)
    with pytest.raises(StorageError) as info:
        Project.open(root)
    message = str(info.value)
    assert "\n" not in message and PROJECT_FILE in message and "copy was kept" in message
    assert (root / PROJECT_FILE).read_bytes() == content  # untouched
    backups = list(root.glob(f"{PROJECT_FILE}.corrupt-*"))
    assert len(backups) == 1 and backups[0].read_bytes() == content
    with pytest.raises(StorageError):
        Project.open(root)
    assert len(list(root.glob(f"{PROJECT_FILE}.corrupt-*"))) == 1  # same damage is not copied twice


def test_json_error_names_the_line(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    (root / PROJECT_FILE).write_text('{\n "schema": 1,\n "name": oops\n}')
    with pytest.raises(StorageError, match="line 3"):
        Project.open(root)


def test_newer_schema_is_refused_and_older_schema_is_migrated(tmp_path, monkeypatch):
    root = tmp_path / "p"
    root.mkdir()
    (root / PROJECT_FILE).write_text(json.dumps({"schema": SCHEMA_VERSION + 1, "name": "future"}))
    with pytest.raises(InputError, match="newer Deepstory"):
        Project.open(root)
    (root / PROJECT_FILE).write_text(json.dumps({"schema": 0, "title": "old"}))
    with pytest.raises(InputError, match="cannot upgrade"):
        Project.open(root)
    monkeypatch.setitem(project_module.MIGRATIONS, 0, lambda d: {"name": d["title"], "schema": 0})
    assert Project.open(root).name == "old"


def test_missing_project_and_create_over_existing(tmp_path):
    with pytest.raises(StorageError, match="missing"):
        Project.open(tmp_path / "nothing")
    Project.create(tmp_path / "p")
    with pytest.raises(InputError, match="already holds a project"):
        Project.create(tmp_path / "p")


@pytest.mark.parametrize("original", ["../../evil.png", "a/b/c.JPG", "🐱.png", "x" * 300 + ".wav", "", "noext",
                                      "..", "name.exe", "C:\\windows\\x.png"])
def test_uploads_get_hash_names_never_user_text(tmp_path, original):
    project = Project.create(tmp_path / "p")
    stored = project.add_upload(b"portrait bytes " + original.encode(), original)
    assert re.fullmatch(r"[0-9a-f]{20}\.(png|jpg|wav|bin)", stored)
    path = project.upload_path(stored)
    assert path.parent == project.uploads_dir and path.read_bytes().startswith(b"portrait bytes")
    assert sorted(p.name for p in project.uploads_dir.iterdir()) == [stored]
    assert project.add_upload(b"portrait bytes " + original.encode(), "other.png").split(".")[0] == stored.split(".")[0]


@pytest.mark.parametrize("name", ["../x.png", "uploads/abc.png", "0123456789abcdef0123.png/..", ""])
def test_upload_path_refuses_anything_but_a_stored_name(tmp_path, name):
    with pytest.raises(InputError):
        Project.create(tmp_path / "p").upload_path(name)


def test_speaker_names_never_become_paths(tmp_path):
    project = Project.create(tmp_path / "p")
    project.set_sentences([Sentence(f"Line {i}.", s, True, ".", i) for i, s in enumerate(WEIRD_SPEAKERS)])
    project.cast = {s: CastEntry("espeak:en-us") for s in WEIRD_SPEAKERS}
    project.save()
    assert Project.open(tmp_path / "p").speakers() == WEIRD_SPEAKERS
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == [PROJECT_FILE]
    assert not (tmp_path / "etc").exists()


def _plan(keys: list[str]):
    return plan_chunks([PlannedSentence(i, f"S{k[0]}", k, 5000, 100, 200) for i, k in enumerate(keys)], Settings())


def test_seeds_follow_chunk_content_not_position(tmp_path):
    project = Project.create(tmp_path / "p")
    before = _plan(["a" * 24, "b" * 24, "c" * 24])
    seeds = {c.content_key: project.seed_for(c.content_key) for c in before}
    project.retry_chunk(before[2])
    retried = project.seed_for(before[2].content_key)
    # a sentence inserted at the start: every chunk moves, none of the old ones changes its seed
    after = _plan(["d" * 24, "a" * 24, "b" * 24, "c" * 24])
    assert [c.index for c in after] == [0, 1, 2, 3]
    assert project.seed_for(after[1].content_key) == seeds[before[0].content_key]
    assert project.seed_for(after[2].content_key) == seeds[before[1].content_key]
    assert project.seed_for(after[3].content_key) == retried
    assert project.seed_for(after[0].content_key) == default_seed(after[0].content_key)


def test_retry_changes_the_seed_and_is_saved(tmp_path):
    project = Project.create(tmp_path / "p")
    chunk = _plan(["a" * 24])[0]
    first = project.seed_for(chunk.content_key)
    assert first == default_seed(chunk.content_key) == Project(tmp_path / "q").seed_for(chunk.content_key)
    second = project.retry_chunk(chunk)
    third = project.retry_chunk(chunk.content_key)
    assert len({first, second, third}) == 3
    assert all(0 <= s < 2**31 for s in (first, second, third))
    project.save()
    assert Project.open(tmp_path / "p").seed_for(chunk.content_key) == third


def test_projects_home_list_and_rename(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPSTORY_PROJECTS", str(tmp_path / "home"))
    assert projects_root() == tmp_path / "home"
    assert list_projects() == []
    one = create_project("Alice / in ../Wonderland 🐇")
    assert one.root.parent == tmp_path / "home"
    assert re.fullmatch(r"alice-in-wonderland-[0-9a-f]{8}", one.root.name)
    two = create_project("Alice / in ../Wonderland 🐇")
    assert two.root != one.root
    one.rename("The Hunting of the Snark")
    assert Project.open(one.root).name == "The Hunting of the Snark" and one.root.exists()
    (tmp_path / "home" / "broken").mkdir()
    (tmp_path / "home" / "broken" / PROJECT_FILE).write_text("{")
    listed = {s.root.name: s for s in list_projects()}
    assert listed[one.root.name].name == "The Hunting of the Snark"
    assert listed["broken"].damaged and not listed[one.root.name].damaged


def test_artifact_store_keys_atomic_writes_and_listing(tmp_path):
    store = ArtifactStore(tmp_path / "artifacts")
    key = artifact_key("voice", voice_id="espeak:en", text="Hi.", params={"b": 1, "a": (2, 3)}, seed=np.int64(4))
    assert key == artifact_key("voice", seed=4, params={"a": [2, 3], "b": 1}, text="Hi.", voice_id="espeak:en")
    assert key != artifact_key("voice", voice_id="espeak:en", text="Hi!", params={"b": 1, "a": (2, 3)}, seed=4)
    assert key != artifact_key("base", voice_id="espeak:en", text="Hi.", params={"b": 1, "a": (2, 3)}, seed=4)
    audio = np.linspace(-1, 1, 1000, dtype=np.float32)
    store.write_npy("voice", key, audio)
    store.write_json("voice", key, {"n": 1000, "t": "é"})
    assert np.array_equal(store.read_npy("voice", key), audio)
    assert store.read_json("voice", key) == {"n": 1000, "t": "é"}
    assert store.keys("voice") == [key] and store.keys("voice", "npy") == [key] and store.keys("base") == []
    with pytest.raises(RuntimeError):
        with store.writing("clip", key, "mp4") as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed")
    assert not store.exists("clip", key, "mp4") and list((tmp_path / "artifacts" / "clip").iterdir()) == []
    with pytest.raises(StorageError, match="missing"):
        store.read_npy("voice", "0" * 24)
    for bad in [("../x", key, "npy"), ("voice", "../../x", "npy"), ("voice", key, "n/py")]:
        with pytest.raises(ValueError):
            store.path(*bad)
    other = artifact_key("voice", x=1)
    store.write_json("voice", other, {})
    assert store.remove_except("voice", {key}) == 1 and store.keys("voice") == [key]


def test_cast_yaml_forms_and_errors(tmp_path):
    from deepstory_core.cast import complete_cast, load_cast_yaml

    path = tmp_path / "cast.yaml"
    path.write_text("Alice: espeak:en-us+f2\n'a/b':\n  voice: espeak:en+m7\n  portrait: cat.png\n"
                    "Zed: espeak:en-029+m4\n", encoding="utf-8")
    cast = load_cast_yaml(path)
    assert cast == {"Alice": CastEntry("espeak:en-us+f2"), "a/b": CastEntry("espeak:en+m7", "cat.png"),
                    "Zed": CastEntry("espeak:en-029+m4")}   # any espeak-ng voice name is accepted
    full = complete_cast(["Narrator", "Alice", "Bob", "a/b", "Carol"], cast, "Narrator")
    assert full["Alice"] == cast["Alice"] and full["a/b"] == cast["a/b"]
    assert full["Narrator"].voice_id != full["Bob"].voice_id != full["Carol"].voice_id
    for text, message in [("- just\n- a list\n", "must map speaker names"),
                          ("Bob:\n  voice: espeak:en\n  colour: red\n", "unknown field"),
                          ("Bob: {}\n", "needs a voice id or a portrait"),
                          ("Bob:\n  voice: espeak:en\n  speed: 9\n", "speed must be a number from 0.5 to 2.0"),
                          ("Bob: espeak:xx-nonexistent\n", "Unknown voice id 'espeak:xx-nonexistent' for speaker 'Bob'"),
                          ("Alice: ok\n  bad: [\n", "line 2")]:
        path.write_text(text, encoding="utf-8")
        with pytest.raises(InputError, match=re.escape(message)) as info:
            load_cast_yaml(path)
        assert "\n" not in str(info.value)
    # a portrait alone: the speaker gets a default voice (it used to be an error)
    path.write_text("Bob:\n  portrait: x.png\n  speed: 1.2\n", encoding="utf-8")
    only_portrait = load_cast_yaml(path)
    assert only_portrait["Bob"].voice_id == "" and only_portrait["Bob"].tuning.speed == 1.2
    filled = complete_cast(["Narrator", "Bob"], only_portrait, "Narrator")["Bob"]
    assert filled.voice_id and filled.portrait == "x.png" and filled.tuning.speed == 1.2
    path.write_bytes(b"Alice: caf\xe9\n")
    with pytest.raises(InputError, match="not UTF-8"):
        load_cast_yaml(path)
    path.write_text("", encoding="utf-8")
    assert load_cast_yaml(path) == {}


def test_sentence_rows_missing_fields_get_defaults(tmp_path):
    project = Project(tmp_path / "p")
    project.set_sentences([{"text": "Is it you?!", "speaker": "Alice"}])
    (sentence,) = project.sentences
    assert (sentence.trailing, sentence.line_start, sentence.line_index) == ("?!", False, 0)
    with pytest.raises(InputError, match="'speaker'"):
        project.set_sentences([{"text": "no speaker"}])
