"""Interrupts in the voice stage (#12.1): Ctrl-C is never swallowed inside espeak's ctypes callback, no shortened
sentence is ever stored, and SIGINT / SIGKILL at many moments of `speak` and `render` resume to byte-identical
output (voices are reproducible, #12.2)."""

from __future__ import annotations

import ctypes
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from modules.tts import espeak

REPO = Path(__file__).resolve().parents[1]
LONG = " ".join(["The rain kept falling on the quiet town, and nobody went outside that evening."] * 6)
STORY = """The old house stood at the end of the lane.
Mara opened the door. She looked inside.
Father: Come back, Mara!
Mara: I will not.
Tom: Wait for me.
The wind closed the door behind them.
Father: Mara, answer me.
Mara: I am here.
"""


def test_an_interrupt_inside_the_espeak_callback_stops_synthesis(monkeypatch: pytest.MonkeyPatch) -> None:
    """ctypes prints and ignores an exception raised in a callback; ours records it, aborts espeak and raises it
    after the C call, so no short audio is returned (the block being delivered used to be dropped)."""
    engine = espeak._Engine()
    voice = espeak.EspeakVoice("en-us+f2")
    full, _ = engine.synthesize(LONG, voice)
    calls = 0
    real = ctypes.string_at

    def interrupted(pointer, size):
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt
        return real(pointer, size)

    monkeypatch.setattr(espeak.ctypes, "string_at", interrupted)
    with pytest.raises(KeyboardInterrupt):
        engine.synthesize(LONG, voice)
    monkeypatch.undo()
    again, _ = engine.synthesize(LONG, voice)      # the engine is still usable afterwards
    assert abs(len(again) - len(full)) < 0.02 * len(full)


def test_an_interrupt_while_waiting_for_espeak_discards_the_worker_and_the_next_call_is_identical() -> None:
    voice = espeak.EspeakVoice("en-us+f3")
    reference, _, _ = espeak.synthesize(LONG, voice)
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        for delay in (0.0005, 0.002, 0.01):
            timer = __import__("threading").Timer(delay, os.kill, (os.getpid(), signal.SIGINT))
            timer.start()
            try:
                audio, _, _ = espeak.synthesize(LONG, voice)
                time.sleep(0.05)          # the signal may land after the call returned
                assert np.array_equal(audio, reference)
            except KeyboardInterrupt:
                pass
            timer.join()
            after, _, _ = espeak.synthesize(LONG, voice)
            assert np.array_equal(after, reference)
    finally:
        signal.signal(signal.SIGINT, old)


# -- kill tests on the CLI -----------------------------------------------------------------------------------------
def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "deepstory_core", *args], cwd=cwd,
                            env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _finish(args: list[str], cwd: Path) -> None:
    process = _start(args, cwd)
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err.decode()[-2000:]


def _voice_artifacts(project: Path) -> dict[str, bytes]:
    """key → npy bytes of every *complete* sentence artifact (json written last marks completion)."""
    folder = project / "artifacts" / "voice"
    if not folder.is_dir():
        return {}
    return {p.stem: (folder / f"{p.stem}.npy").read_bytes() for p in folder.glob("*.json")
            if (folder / f"{p.stem}.npy").is_file()}


def _interrupt_at(args: list[str], cwd: Path, project: Path, done: int, sig: int) -> None:
    """Start the command, wait until `done` sentences are stored (or the project exists), signal it mid-work."""
    process = _start(args, cwd)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if (project / "project.json").is_file() and len(_voice_artifacts(project)) >= done:
            break
        time.sleep(0.01)
    time.sleep(0.15)   # into the next sentence
    if process.poll() is None:
        process.send_signal(sig)
    _, err = process.communicate(timeout=120)
    if sig == signal.SIGINT and process.returncode not in (0,):
        assert process.returncode == 130, err.decode()[-2000:]
        assert b"Traceback" not in err and b"interrupted" in err


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_speak_killed_or_interrupted_in_the_voice_stage_resumes_to_identical_output(tmp_path: Path) -> None:
    story = tmp_path / "story.txt"
    story.write_text(STORY, encoding="utf-8")
    _finish(["speak", str(story), "-o", "ref.wav", "--project", str(tmp_path / "ref"), "--quiet"], tmp_path)
    reference = _voice_artifacts(tmp_path / "ref")
    assert len(reference) >= 8
    for sig, moments in ((signal.SIGINT, (0, 2, 5)), (signal.SIGKILL, (1, 4))):
        project = tmp_path / f"p{int(sig)}"
        args = ["speak", str(story), "-o", f"out{int(sig)}.wav", "--project", str(project), "--quiet"]
        for done in moments:
            _interrupt_at(args, tmp_path, project, done, sig)
            stored = _voice_artifacts(project)
            for key, data in stored.items():   # nothing short, nothing different: every stored sentence is final
                assert data == reference[key], f"sentence artifact {key} differs after {sig!r} at {done}"
        _finish(args, tmp_path)
        assert _sha(tmp_path / f"out{int(sig)}.wav") == _sha(tmp_path / "ref.wav")
        assert (tmp_path / f"out{int(sig)}.srt").read_bytes() == (tmp_path / "ref.srt").read_bytes()


@pytest.mark.slow
def test_render_killed_in_the_voice_stage_resumes_to_an_identical_mp4(tmp_path: Path) -> None:
    story = tmp_path / "story.txt"
    story.write_text("\n".join(STORY.splitlines()[:4]) + "\n", encoding="utf-8")
    _finish(["render", str(story), "-o", "ref.mp4", "--project", str(tmp_path / "ref")], tmp_path)
    project = tmp_path / "p"
    args = ["render", str(story), "-o", "out.mp4", "--project", str(project)]
    _interrupt_at(args, tmp_path, project, 1, signal.SIGINT)
    _interrupt_at(args, tmp_path, project, 2, signal.SIGKILL)
    reference = _voice_artifacts(tmp_path / "ref")
    for key, data in _voice_artifacts(project).items():
        assert data == reference[key]
    _finish(args, tmp_path)
    assert _sha(tmp_path / "out.mp4") == _sha(tmp_path / "ref.mp4")
