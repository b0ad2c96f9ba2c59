"""The bad-input catalogue: every input a fault audit found mishandled, each answered with ONE line, exit code 2,
and nothing already made changed (every file of the project, and every input, hashed before and after).

Commands run in-process (`deepstory_core.cli.main`): a subprocess per case would import torch each time.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import wave
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from deepstory_core.cli import main
from deepstory_core.jobs import ProjectLock

STORY = "Alice: Hello there.\nBob: Hi.\n"


def tree_hashes(folder: Path) -> dict[str, str]:
    """Relative path → sha256 of every regular file under `folder` (the lock file excluded: it is empty)."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != ".job.lock":
            found[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header announces `width`×`height` (followed by a tiny, wrong IDAT): a decompression-bomb-sized
    image in 100 bytes, so the test never allocates what it announces."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def write_wav_header(path: Path, channels: int, frames_declared: int, data: bytes) -> None:
    fmt = struct.pack("<HHIIHH", 1, channels, 22050, 22050 * 2 * max(channels, 1), 2 * max(channels, 1), 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", frames_declared) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    """A project already made by `speak` (its files must survive every bad command) and some good inputs."""
    root = tmp_path_factory.mktemp("made")
    story = root / "story.txt"
    story.write_text(STORY, encoding="utf-8")
    project = root / "project"
    assert main(["speak", str(story), "-o", str(root / "story.wav"), "--project", str(project), "--quiet"]) == 0
    portrait = root / "face.png"
    import cv2

    cv2.imwrite(str(portrait), np.full((128, 96, 3), 120, np.uint8))
    speech = root / "speech.wav"
    with wave.open(str(speech), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(22050)
        w.writeframes(np.zeros(2205, np.int16).tobytes())
    return {"root": root, "story": story, "project": project, "portrait": portrait, "speech": speech}


@dataclass(frozen=True)
class Case:
    name: str
    argv: Callable[[dict[str, Path], Path], list[str]]   # (made, tmp folder) → argv; may create files in tmp
    expect: str                                          # a fragment of the one-line message
    lock: bool = False                                   # hold the project's lock while the command runs


def _cast(tmp: Path, text: str, name: str = "cast.yaml") -> Path:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


def _story(tmp: Path, name: str = "story2.txt", text: str = "Alice: Something new entirely.\n") -> Path:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


def _fifo(tmp: Path) -> Path:
    path = tmp / "story.fifo"
    os.mkfifo(path)
    return path


def _project_with(made: dict[str, Path], tmp: Path, change: Callable[[dict], None]) -> Path:
    """A copy of the made project whose project.json was edited by `change` (the copy is what must not change)."""
    copy = tmp / "edited"
    shutil.copytree(made["project"], copy)
    data = json.loads((copy / "project.json").read_text(encoding="utf-8"))
    change(data)
    (copy / "project.json").write_text(json.dumps(data), encoding="utf-8")
    return copy


def _npy_object(tmp: Path) -> Path:
    path = tmp / "base.npy"
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    return path


def _npy_good(tmp: Path) -> Path:
    path = tmp / "good.npy"
    np.save(path, np.zeros((2, 128, 96, 3), np.uint8))
    return path


def _npy_garbage(tmp: Path) -> Path:
    path = tmp / "base.npy"
    path.write_bytes(b"\x93NUMPY\x01\x00garbage that is no header at all")
    return path


def _wav(tmp: Path, channels: int, declared: int, data: bytes) -> Path:
    path = tmp / "speech.wav"
    write_wav_header(path, channels, declared, data)
    return path


def _alias_bomb(tmp: Path) -> Path:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        lines.append(f"{level}: &{level} [" + ",".join([f"*{previous}"] * 10) + "]")
    lines.append("Alice:\n  voice: espeak:en-us+f2\n  portrait: *i")
    return _cast(tmp, "\n".join(lines) + "\n")


def _damaged_png(tmp: Path) -> Path:
    """A PNG with a valid header whose pixel data is garbage: accepted as an image, fails when decoded."""
    path = tmp / "alice-face.png"
    path.write_bytes(png_header_only(64, 64))
    return path


def _huge_png_file(tmp: Path) -> Path:
    path = tmp / "huge.png"
    path.write_bytes(png_header_only(30000, 30000))
    return path


def _huge_png(tmp: Path) -> Path:
    return _cast(tmp, f"Alice:\n  voice: espeak:en-us+f2\n  portrait: {_huge_png_file(tmp)}\n")


def _speak(made: dict[str, Path], tmp: Path, *extra: str, story: Path | None = None,
           project: Path | None = None, out: Path | None = None) -> list[str]:
    return ["speak", str(story or made["story"]), "-o", str(out or tmp / "out.wav"),
            "--project", str(project or made["project"]), "--quiet", *extra]


def _render(made: dict[str, Path], tmp: Path, *extra: str, story: Path | None = None,
            out: Path | None = None) -> list[str]:
    return ["render", str(story or made["story"]), "-o", str(out or tmp / "out.mp4"),
            "--project", str(made["project"]), "--quiet", *extra]


CASES = [
    # 3. a refused concurrent command changes nothing
    Case("render while the project is rendering", lambda m, t: _render(m, t, story=_story(t)), "already running",
         lock=True),
    Case("speak while the project is rendering", lambda m, t: _speak(m, t, story=_story(t)), "already running",
         lock=True),
    # 4. outputs that are inputs
    Case("speak X.srt -o X.wav", lambda m, t: _speak(m, t, story=_story(t, "X.srt"), out=t / "X.wav"),
         "also an input"),
    Case("render X.srt -o X.mp4", lambda m, t: _render(m, t, story=_story(t, "X.srt"), out=t / "X.mp4"),
         "also an input"),
    Case("speak -o cast.wav with the cast file cast.srt", lambda m, t: _speak(
        m, t, "--cast", str(_cast(t, "Alice: espeak:en-us+f2\n", "cast.srt")), out=t / "cast.wav"), "also an input"),
    Case("animate X.mp4 -o X.mp4", lambda m, t: ["animate", str(_story(t, "X.mp4")), "--portrait", str(m["portrait"]),
                                                 "-o", str(t / "X.mp4"), "--quiet"], "also an input"),
    Case("base X.npy -o X.npy", lambda m, t: ["base", str(shutil.copy(m["speech"], t / "X.npy")), "--face",
                                              str(m["portrait"]), "-o", str(t / "X.npy"), "--quiet"], "also an input"),
    # 6. memory bombs
    Case("cast file with a YAML alias bomb", lambda m, t: _speak(m, t, "--cast", str(_alias_bomb(t))), "aliases"),
    Case("cast file larger than 1 MB", lambda m, t: _speak(m, t, "--cast", str(_cast(t, "#" * (2 << 20)))),
         "at most"),
    Case("portrait of 30000x30000 pixels", lambda m, t: _speak(m, t, "--cast", str(_huge_png(t))), "megapixels"),
    Case("portrait that is not an image (/etc/passwd)", lambda m, t: _speak(
        m, t, "--cast", str(_cast(t, "Alice:\n  voice: espeak:en-us+f2\n  portrait: /etc/passwd\n"))),
         "not a readable image"),
    Case("animate with a 30000x30000 portrait", lambda m, t: ["animate", str(_npy_good(t)), "--portrait",
                                                              str(_huge_png_file(t)), "-o", str(t / "a.mp4"),
                                                              "--quiet"], "megapixels"),
    # 8. tracebacks that became messages
    Case("WAV header with 0 channels", lambda m, t: ["base", str(_wav(t, 0, 8, b"\0" * 8)), "--face",
                                                     str(m["portrait"]), "-o", str(t / "b.npy"), "--quiet"],
         "speech.wav"),
    Case("truncated WAV", lambda m, t: ["base", str(_wav(t, 1, 44100, b"\0" * 10)), "--face", str(m["portrait"]),
                                        "-o", str(t / "b.npy"), "--quiet"], "speech.wav"),
    Case("animate an object-dtype .npy", lambda m, t: ["animate", str(_npy_object(t)), "--portrait",
                                                       str(m["portrait"]), "-o", str(t / "a.mp4"), "--quiet"],
         "uint8 frames"),
    Case("animate a garbage .npy", lambda m, t: ["animate", str(_npy_garbage(t)), "--portrait", str(m["portrait"]),
                                                 "-o", str(t / "a.mp4"), "--quiet"], "not a readable .npy"),
    Case("project.json with fps: \"x\"", lambda m, t: _speak(
        m, t, project=_project_with(m, t, lambda d: d["settings"].update(fps="x"))), "settings.fps"),
    Case("project.json with fps: 0", lambda m, t: _speak(
        m, t, project=_project_with(m, t, lambda d: d["settings"].update(fps=0))), "settings.fps"),
    Case("project.json sentence without speaker", lambda m, t: _speak(
        m, t, project=_project_with(m, t, lambda d: d["sentences"][0].pop("speaker"))), "sentences[0].speaker"),
    Case("/dev/zero as a story", lambda m, t: _speak(m, t, story=Path("/dev/zero")), "not a regular file"),
    Case("a FIFO as a story", lambda m, t: _speak(m, t, story=_fifo(t)), "not a regular file"),
    Case("a folder as a story", lambda m, t: _speak(m, t, story=t), "folder"),
    # 11. smaller ones
    Case("render output is a folder: the hint names an .mp4", lambda m, t: _render(m, t, out=_folder(t / "out.mp4")),
         "out.mp4/story.mp4"),
    Case("render .srt path is a folder", lambda m, t: _render(m, t, out=(t / "x.srt").mkdir() or t / "x.mp4"),
         "x.srt is a folder"),
    Case("render with a portrait whose pixels are damaged: named by speaker, not by its hashed copy",
         lambda m, t: _render(m, t, "--cast", str(_cast(
             t, f"Alice:\n  voice: espeak:en-us+f2\n  portrait: {_damaged_png(t)}\n"))), "portrait of 'Alice'"),
    Case("render X.txt -o X.mp4 where X.vtt is the cast file", lambda m, t: _render(
        m, t, "--cast", str(_cast(t, "Alice: espeak:en-us+f2\n", "X.vtt")), out=t / "X.mp4"), "also an input"),
    Case("portrait that does not exist", lambda m, t: _speak(
        m, t, "--cast", str(_cast(t, "Alice:\n  voice: espeak:en-us+f2\n  portrait: nobody.png\n"))), "nobody.png"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_gives_one_line_exit_2_and_changes_nothing(case: Case, made, tmp_path, capsys):
    argv = case.argv(made, tmp_path)
    watched = [made["project"], tmp_path]
    before = {str(folder): tree_hashes(folder) for folder in watched}
    inputs_before = {name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in made.items()
                     if path.is_file()}
    capsys.readouterr()
    lock = ProjectLock(made["project"])
    if case.lock:
        assert lock.acquire()
    try:
        code = main(argv)
    finally:
        lock.release()
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert case.expect in lines[0], lines[0]
    assert "Traceback" not in err and "allow_pickle" not in err
    for folder in watched:   # every file that existed is unchanged (a damaged project.json may gain a backup copy)
        after = tree_hashes(folder)
        assert {k: v for k, v in after.items() if k in before[str(folder)]} == before[str(folder)]
        assert not [k for k in after if k not in before[str(folder)] and "corrupt" not in k and
                    not k.startswith(("edited/project.json.corrupt",))], after
    assert inputs_before == {name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in made.items()
                             if path.is_file()}


def test_failed_first_speak_leaves_no_project_folder(tmp_path, capsys):
    """11: a first `speak` that fails (here: nothing to speak) does not leave an empty project behind."""
    story = _story(tmp_path, text="... !!!\n")
    project = tmp_path / "new-project"
    assert main(["speak", str(story), "-o", str(tmp_path / "o.wav"), "--project", str(project), "--quiet"]) == 2
    assert "empty" in capsys.readouterr().err
    assert not project.exists()


def test_fom_input_from_read_only_memmap_gives_no_torch_warning(tmp_path):
    """#12 item 11: base frames are memory-mapped read-only; torch must not warn on every FOM render."""
    import warnings

    from modules.fom.animator import prepare_base_frames, prepare_portrait

    path = tmp_path / "base.npy"
    np.save(path, np.zeros((2, 128, 96, 3), np.uint8))
    frames = np.load(path, mmap_mode="r")
    portrait = np.zeros((300, 300, 3), np.uint8)
    portrait.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tuple(prepare_base_frames(frames[:2]).shape) == (2, 3, 256, 256)
        assert tuple(prepare_portrait(portrait).shape) == (1, 3, 256, 256)


def test_interrupt_message_starts_on_its_own_line_after_a_progress_bar(monkeypatch, capsys):
    """#12 item 11: Ctrl-C while a bar is drawn: the message must not be glued to the bar's line."""
    from deepstory_core.cli import speak
    from deepstory_core.progress import ProgressEvent, StderrProgressBar

    def interrupted(args):
        StderrProgressBar()(ProgressEvent("voice", 3, 10, "sentence 3"))
        raise KeyboardInterrupt

    monkeypatch.setattr(speak, "run", interrupted)
    assert main(["speak", "story.txt"]) == 130
    err = capsys.readouterr().err
    assert "\ninterrupted: finished work is kept" in err
    assert err.splitlines()[-1].startswith("interrupted:")


def test_base_help_does_not_claim_formats_it_cannot_read(capsys):
    with pytest.raises(SystemExit):
        main(["base", "--help"])
    assert "flac" not in capsys.readouterr().out.lower()


def test_huge_photo_is_downscaled_on_load_and_the_upload_keeps_the_original(tmp_path):
    """#12 item 6: a large photo costs a MAX_PORTRAIT_SIDE image in every stage; the file the user gave is kept."""
    import cv2

    from deepstory_core.portraits import MAX_PORTRAIT_SIDE, add_portrait_upload, read_image
    from deepstory_core.project import Project

    photo = tmp_path / "big.png"
    image = np.zeros((3000, 6000, 3), np.uint8)
    image[:, ::7] = 200
    cv2.imwrite(str(photo), image)
    project = Project.create(tmp_path / "p")
    stored = add_portrait_upload(project, photo, "the portrait of 'Alice'")
    assert project.upload_path(stored).read_bytes() == photo.read_bytes()
    loaded = read_image(project.upload_path(stored))
    assert loaded.shape == (MAX_PORTRAIT_SIDE // 2, MAX_PORTRAIT_SIDE, 3)


def test_base_streams_long_audio_in_pieces_with_exact_frame_count(tmp_path, monkeypatch, capsys):
    """#12 item 7: `base` reads a long WAV in SEGMENT_SECONDS pieces (never whole) and still gives every frame."""
    from deepstory_core.audio import WavStream
    from deepstory_core.cli import base as base_cli

    monkeypatch.setattr(base_cli, "SEGMENT_SECONDS", 2)
    reads: list[int] = []
    real_read = WavStream.read
    monkeypatch.setattr(WavStream, "read", lambda self, a, b: reads.append(b - a) or real_read(self, a, b))
    wav = tmp_path / "long.wav"
    seconds = 5.3
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(16000)
        t = np.arange(int(16000 * seconds)) / 16000
        tone = (np.sin(2 * np.pi * 220 * t) * 8000).astype(np.int16)
        w.writeframes(np.stack([tone, tone], axis=1).tobytes())
    from deepstory_core.portraits import builtin_portraits

    out = tmp_path / "base.npy"
    face = builtin_portraits()[0].path           # a real face: the built-in lip-sync rigs the face it finds
    assert main(["base", str(wav), "--face", str(face), "-o", str(out), "--quiet"]) == 0
    frames = np.load(out, mmap_mode="r")
    assert frames.shape == (int(np.ceil(seconds * 25)), 128, 96, 3)
    assert max(reads) == 2 * 16000 and len(reads) == 3
