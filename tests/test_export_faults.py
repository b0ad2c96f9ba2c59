"""#12 items 10–11: an export killed at any moment leaves no temp files behind once the next export ran, never a new
.srt beside an old .mp4, and resumes to byte-identical output; a finished read-only project still exports."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deepstory_core import integrity, render
from deepstory_core.project import Project
from tests import render_backends
from tests.test_render import _project, _story

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _cheap_backends():
    render_backends.register()
    integrity.clear_memory()


def _render(project: Project, out: Path) -> render.RenderResult:
    return render.render_story(project, base_backend="cheap", animate_backend="cheap",
                               voice_factory=render_backends.CheapVoice, out=out)


def _temps(*folders: Path) -> list[str]:
    return sorted(p.name for folder in folders if folder.is_dir() for p in folder.iterdir() if p.name.startswith("."))


def _phase_reached(phase: str, exports: Path, out: Path) -> bool:
    """Which temp file marks the phase: the soundtrack's in exports/, the join's and the mux's beside `out`."""
    if phase == "soundtrack":
        return any(name.startswith(".story.~") and name.endswith(".wav") for name in _temps(exports))
    marker = {"join": "video-", "mux": "mux-"}[phase]
    return any(name.startswith("..") and marker in name for name in _temps(out.parent))


@pytest.mark.parametrize("phase", ["soundtrack", "join", "mux"])
def test_export_killed_in_each_phase_leaves_old_pair_and_resumes_byte_identical(tmp_path, phase):
    lines = 40
    project = _project(tmp_path / "p", lines)
    out_folder = tmp_path / "out"
    out_folder.mkdir()
    out = out_folder / "story.mp4"
    _render(project, out)                                  # the pair of the story as it was
    old_video, old_srt = out.read_bytes(), out.with_suffix(".srt").read_bytes()
    project.set_story(_story(lines).replace("Apple", "Pear"))
    project.save()
    reference = tmp_path / "ref"
    shutil.copytree(project.root, reference)
    expected = _render(Project.open(reference), tmp_path / "ref.mp4")
    new_video, new_srt = expected.video.read_bytes(), expected.subtitles.read_bytes()
    assert new_srt != old_srt
    # the edited chunks rendered, so the killed process only has the export left to do
    _render(project, tmp_path / "warm.mp4")

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    proc = subprocess.Popen([sys.executable, "-m", "tests.render_backends", str(project.root), str(out)], cwd=REPO,
                            env=env)
    exports = project.root / "exports"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None and not _phase_reached(phase, exports, out):
        time.sleep(0.0005)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the export finished before the kill"
    # killed mid-export: the old pair, intact and matching
    assert out.read_bytes() == old_video and out.with_suffix(".srt").read_bytes() == old_srt
    assert _temps(exports, out_folder), "the kill left temp files (what the next export must clean)"

    integrity.clear_memory()
    _render(Project.open(project.root), out)
    assert out.read_bytes() == new_video and out.with_suffix(".srt").read_bytes() == new_srt
    assert _temps(exports, out_folder) == []


def test_srt_path_that_is_a_folder_is_refused_before_rendering(tmp_path, capsys):
    from deepstory_core.cli import main

    story = tmp_path / "s.txt"
    story.write_text("Alice: Hello.\n", encoding="utf-8")
    (tmp_path / "out.srt").mkdir()
    assert main(["render", str(story), "-o", str(tmp_path / "out.mp4"), "--project", str(tmp_path / "p"),
                 "--quiet"]) == 2
    assert "out.srt is a folder" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()      # nothing was rendered (nor a project made)


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Make `folder` really read-only: permissions for an ordinary user; for root (which ignores them) a read-only
    bind mount of the folder onto itself."""
    if os.geteuid() != 0:
        paths = [folder, *folder.rglob("*")]
        for path in paths:
            path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            for path in paths:
                path.chmod(0o755 if path.is_dir() else 0o644)
        return
    mounted = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True).returncode == 0
    if not mounted:
        pytest.skip("running as root without permission to mount: cannot make a folder read-only")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], check=True, capture_output=True)
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True, capture_output=True)


def test_fully_rendered_read_only_project_exports(tmp_path, capsys):
    from deepstory_core.cli import main

    story = tmp_path / "story.txt"
    story.write_text(_story(4), encoding="utf-8")
    project_root = tmp_path / "p"
    first = tmp_path / "first.mp4"
    assert main(["render", str(story), "-o", str(first), "--project", str(project_root), "--quiet"]) == 0
    expected = first.read_bytes()
    out = tmp_path / "out" / "story.mp4"
    out.parent.mkdir()
    before = {p: p.read_bytes() for p in project_root.rglob("*") if p.is_file()}
    integrity.clear_memory()
    with read_only(project_root):
        with pytest.raises(OSError):
            (project_root / "probe").write_text("x")
        code = main(["render", str(story), "-o", str(out), "--project", str(project_root), "--quiet"])
        assert code == 0, capsys.readouterr().err
    assert out.read_bytes() == expected
    assert {p: p.read_bytes() for p in project_root.rglob("*") if p.is_file()} == before
    assert _temps(out.parent) == []
