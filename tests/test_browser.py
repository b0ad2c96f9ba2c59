"""The studio in a real browser: Debian's chromium driven by Playwright against `streamlit run studio.py`.

One studio server and one browser for the whole module (CI has 2 cores). Its interpreter loads
`tests/browser_site/sitecustomize.py`, which registers the cheap test backends and a slow one. Every test saves
screenshots under `tests/output/browser/`. Every request the page makes must go to the studio itself.

1. paste a story, cast, synthesise, export with the built-in backends and burned-in subtitles; download mp4 + vtt;
2. rename the project (Enter) and open another page; 3. edit the sentence table, save, parse again: edits kept;
4. a slow one-chunk story: double-click Render all → one job, frame-level progress moving with time left;
5. a portrait with no face is flagged on Base before anything renders; 6. the motion sliders change the preview.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[1]
OUTPUT = REPO / "tests" / "output" / "browser"
STORY = "Alice: Good morning, Bob. Is the tea ready?\nBob: Almost. Sit down, please.\n"
SLOW_STORY = ("Narrator: The lighthouse keeper climbed the stairs every evening, counting each step as he went, "
              "and he lit the great lamp just as the sun slipped under the grey water of the bay.\n")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                                                     "(apt-get install -y chromium; .ci/run installs it)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError("the studio did not start within 60 s")




def _prepare_projects(home: Path) -> dict[str, Path]:
    """Projects made before the server starts (the studio lists them): voices ready, cheap or slow backends."""
    from deepstory_core.cast import CastEntry
    from deepstory_core.project import create_project
    from deepstory_core.stages.voice import prepare_soundtrack
    from tests import render_backends

    made = {}
    slow = create_project("Slow lighthouse", home)
    slow.settings = slow.settings.with_changes(base_backend="slow", animate_backend="cheap", cut_size=2_000_000)
    slow.set_story(SLOW_STORY)
    slow.cast["Narrator"] = CastEntry("espeak:en+m3", slow.add_upload(render_backends.png_bytes(render_backends.face_image(3)), "f.png"))
    slow.save()
    prepare_soundtrack(slow)
    made["slow"] = slow.root

    noface = create_project("No face here", home)
    noface.settings = noface.settings.with_changes(base_backend="cheap", animate_backend="cheap")
    noface.set_story(STORY)
    texture = np.random.default_rng(3).integers(90, 160, (240, 200, 3)).astype(np.uint8)
    noface.cast["Alice"] = CastEntry("espeak:en-us+f2", noface.add_upload(render_backends.png_bytes(render_backends.face_image(1)), "a.png"))
    noface.cast["Bob"] = CastEntry("espeak:en+m3", noface.add_upload(render_backends.png_bytes(texture), "noface.png"))
    noface.save()
    prepare_soundtrack(noface)
    made["noface"] = noface.root

    motion = create_project("Motion sliders", home)
    motion.settings = motion.settings.with_changes(base_backend="cheap", animate_backend="cheap")
    motion.set_story("Alice: Hello!\n")
    motion.cast["Alice"] = CastEntry("espeak:en-us+f2", motion.add_upload(render_backends.png_bytes(render_backends.face_image(1)), "a.png"))
    motion.save()
    made["motion"] = motion.root
    return made


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("studio")
    home = tmp_path / "projects"
    home.mkdir()
    os.environ["DEEPSTORY_PROJECTS"] = str(home)
    try:
        projects = _prepare_projects(home)
    finally:
        del os.environ["DEEPSTORY_PROJECTS"]
    port = _free_port()
    env = dict(os.environ, DEEPSTORY_PROJECTS=str(home), DEEPSTORY_DEVICE="cpu", PYTHONUNBUFFERED="1",
               PYTHONPATH=os.pathsep.join([str(REPO / "tests" / "browser_site"), str(REPO)]))
    log = open(tmp_path / "streamlit.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "studio.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, server)
        yield url, tmp_path, projects
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture(scope="module")
def browser_page(studio):
    """One chromium for the module; every request it makes is recorded (the studio must fetch nothing else)."""
    from playwright.sync_api import sync_playwright

    url, _, _ = studio
    foreign: list[str] = []
    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        browser = p.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS, accept_downloads=True,
            viewport={"width": 1400, "height": 1000}, color_scheme="dark")
        page = browser.pages[0] if browser.pages else browser.new_page()
        page.set_default_timeout(30_000)

        def record(request) -> None:
            if not request.url.startswith((url, "data:", "blob:")):
                foreign.append(request.url)

        page.on("request", record)
        page.on("websocket", lambda ws: None if ws.url.startswith(url.replace("http", "ws")) else foreign.append(ws.url))
        try:
            yield page, foreign
        finally:
            browser.close()


def _settle(page, timeout_ms: int = 30_000) -> None:
    """Wait until the script run finished (the 'running' status widget is gone)."""
    page.wait_for_load_state("domcontentloaded")
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_ms)


def _goto(page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    page.get_by_role("heading", name=title).first.wait_for(timeout=20_000)
    _settle(page)


def _wait_text(page, text: str, timeout_ms: int) -> None:
    page.get_by_text(text).first.wait_for(timeout=timeout_ms)


def _shoot(page, name: str) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)


def _open_project(page, label: str, url: str) -> None:
    """Choose a project in the sidebar's select (opening the studio first when this tab has not yet)."""
    if not page.url.startswith(url):
        page.goto(url, timeout=60_000)
        page.get_by_text("Rename / new project").wait_for(timeout=60_000)
        _settle(page)
    select = page.get_by_test_id("stSidebar").get_by_role("combobox", name="Project")
    for _ in range(3):   # a rerun the previous page's job panel asked for may land on top of the first choice
        select.click()
        page.get_by_role("option", name=label, exact=True).click()
        page.wait_for_function("(label) => document.querySelector('[data-testid=stSidebar] "
                               "input[aria-label=Project]')?.value === label", arg=label, timeout=20_000)
        _settle(page)
        page.wait_for_timeout(1500)
        _settle(page)
        if select.input_value() == label:
            return
    raise AssertionError(f"the project select did not stay on {label!r}")


@contextlib.contextmanager
def _on_failure(page, name: str) -> Iterator[None]:
    """What the page showed when a step failed: a screenshot, its HTML, its buttons and text."""
    try:
        yield
    except Exception:
        _shoot(page, f"failure-{name}")
        (OUTPUT / f"failure-{name}.html").write_text(page.content(), encoding="utf-8")
        print("buttons at failure:", page.get_by_role("button").all_inner_texts())
        print("text at failure:", page.inner_text("body")[:4000])
        raise


def test_paste_render_export_with_burned_subtitles(studio, browser_page):
    from deepstory_core.video import iter_video_frames, stream_durations

    url, tmp_path, _ = studio
    page, foreign = browser_page
    with _on_failure(page, "export"):
        # a fresh tab on a page's URL still opens inside the studio's frame, on that page
        page.goto(f"{url}/cast", timeout=60_000)
        page.get_by_test_id("stSidebarNav").get_by_role("link", name="Models").wait_for(timeout=60_000)
        page.get_by_text("Rename / new project").wait_for(timeout=20_000)
        _settle(page)

        # 1. a new project by name + Enter; paste the story and parse it
        sidebar = page.get_by_test_id("stSidebar")
        sidebar.get_by_text("Rename / new project").click()
        sidebar.get_by_role("textbox", name="New project", exact=True).fill("Browser test")
        sidebar.get_by_role("textbox", name="New project", exact=True).press("Enter")
        page.wait_for_function("() => document.querySelector('[data-testid=stSidebar] input[aria-label=Project]')"
                               "?.value === 'Browser test'", timeout=20_000)
        _goto(page, "Story")
        page.get_by_role("textbox", name="Story text").fill(STORY)
        page.get_by_role("button", name="Parse story").click()
        _wait_text(page, "2 speakers", 30_000)
        page.locator("canvas").first.wait_for(timeout=20_000)   # the data_editor draws on a canvas
        _settle(page)
        _shoot(page, "1-story")

        # 2. cast: built-in portraits with their detected faces, motion controls
        _goto(page, "Cast")
        page.get_by_text("Aligned 128×96").first.wait_for(timeout=30_000)
        _shoot(page, "2-cast")

        # 3. voices: synthesise all, see the plan and timeline
        _goto(page, "Voices")
        page.get_by_role("button", name="Synthesise all").click()
        page.locator("svg[aria-label='Story timeline']").wait_for(timeout=60_000)
        _settle(page)
        _shoot(page, "3-voices")

        # 4. export with the built-in backends, subtitles burned in at the bottom
        _goto(page, "Export")
        page.get_by_text("Burn into the picture").click()
        _settle(page)
        page.get_by_role("button", name="Export video").click()
        page.get_by_role("button", name="Download mp4").wait_for(timeout=120_000)
        _settle(page)
        _shoot(page, "6-export")
        downloads = {}
        for kind in ("mp4", "vtt"):
            with page.expect_download(timeout=30_000) as info:
                page.get_by_role("button", name=f"Download {kind}").click()
            assert info.value.suggested_filename == f"browser-test.{kind}"   # named after the project
            downloads[kind] = tmp_path / f"downloaded.{kind}"
            info.value.save_as(str(downloads[kind]))

        # 5. the stage pages show their previews
        _goto(page, "Base")
        page.locator("video").first.wait_for(timeout=30_000)
        _shoot(page, "4-base")
        _goto(page, "Animate")
        page.locator("video").first.wait_for(timeout=30_000)
        _shoot(page, "5-animate")
        _goto(page, "Models")
        page.locator("canvas").first.wait_for(timeout=20_000)
        _shoot(page, "7-models")

    video_s, audio_s = stream_durations(downloads["mp4"])
    assert 3.0 < video_s < 30.0, video_s
    assert abs(video_s - audio_s) < 0.1, (video_s, audio_s)
    vtt = downloads["vtt"].read_text(encoding="utf-8")
    assert vtt.startswith("WEBVTT") and "Good morning, Bob." in vtt
    first_end = vtt.split("\n")[3].split(" --> ")
    seconds = [sum(float(x) * m for x, m in zip(t.split(":"), (3600, 60, 1))) for t in first_end]
    frames = list(iter_video_frames(downloads["mp4"]))
    frame = np.concatenate(frames)[int(sum(seconds) / 2 * 25)]
    cv2.imwrite(str(OUTPUT / "burned-frame.png"), np.ascontiguousarray(frame[..., ::-1]))
    bottom = frame[int(frame.shape[0] * 0.8):]
    assert (bottom > 235).all(axis=-1).sum() > 50, "white subtitle glyphs at the bottom of the picture"
    assert not foreign, foreign


def test_rename_then_another_page(studio, browser_page):
    page, foreign = browser_page
    with _on_failure(page, "rename"):
        sidebar = page.get_by_test_id("stSidebar")
        name = sidebar.get_by_role("textbox", name="Project name", exact=True)
        if not name.is_visible():
            sidebar.get_by_text("Rename / new project").click()
        name.fill("Lighthouse Storm")
        name.press("Enter")
        page.wait_for_function("() => document.querySelector('[data-testid=stSidebar] input[aria-label=Project]')"
                               "?.value === 'Lighthouse Storm'", timeout=20_000)
        _goto(page, "Cast")
        page.get_by_text("Aligned 128×96").first.wait_for(timeout=30_000)
        assert page.get_by_text("No project at").count() == 0
        assert page.get_by_text("project.json is missing").count() == 0
        options_text = sidebar.get_by_role("combobox", name="Project")
        options_text.click()
        labels = page.get_by_role("option").all_inner_texts()
        page.keyboard.press("Escape")
        assert labels.count("Lighthouse Storm") == 1 and "Browser test" not in labels, labels   # no phantom entry
        _shoot(page, "8-renamed-cast")
    assert not foreign, foreign


def test_table_edit_survives_a_second_parse(studio, browser_page):
    _, tmp_path, _ = studio
    page, foreign = browser_page
    from deepstory_core.project import Project, list_projects

    with _on_failure(page, "table"):
        _goto(page, "Story")
        canvas = page.locator("[data-testid=stDataFrame] canvas, [data-testid=stDataFrameGlideDataEditor] canvas")
        canvas.first.wait_for(timeout=20_000)
        _settle(page)
        # the first row's speaker cell: edit it to the other speaker (the grid is drawn on a canvas)
        grid = page.get_by_test_id("stDataFrame").first
        grid.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        box = grid.bounding_box()
        assert box is not None
        row_y = box["y"] + 35 + 17                       # header, then the first row's middle
        sentence_x = box["x"] + 45 + 150 + 60            # index column, speaker column, then into "Sentence"
        page.mouse.click(sentence_x, row_y)              # select the cell, open its editor, replace the text
        page.wait_for_timeout(300)
        page.keyboard.press("Enter")
        page.wait_for_timeout(300)
        page.keyboard.press("Control+A")
        page.keyboard.type("Good evening, Bob.")
        page.wait_for_timeout(200)
        page.keyboard.press("Enter")
        page.wait_for_timeout(600)
        page.get_by_role("button", name="Save table").click()
        _wait_text(page, "Saved the table", 20_000)
        _settle(page)
        _shoot(page, "9-table-saved")
        area = page.get_by_role("textbox", name="Story text")
        assert area.input_value().startswith("Alice: Good evening, Bob."), area.input_value()   # the text follows
        page.get_by_role("button", name="Parse story").click()
        page.get_by_text(re.compile("did not change|would be lost")).first.wait_for(timeout=20_000)   # kept, or asked
        _settle(page)
        _shoot(page, "10-reparsed")
    project = next(Project.open(p.root) for p in list_projects(tmp_path / "projects")
                   if p.name == "Lighthouse Storm")
    assert project.sentence_rows[0]["text"] == "Good evening, Bob."
    assert not foreign, foreign


def test_double_click_render_all_and_progress_inside_one_chunk(studio, browser_page):
    page, foreign = browser_page
    with _on_failure(page, "progress"):
        _open_project(page, "Slow lighthouse", studio[0])
        _goto(page, "Base")
        page.get_by_role("button", name="Render all").dblclick()
        bar = page.get_by_test_id("stProgress").filter(has_text="frames")
        bar.first.wait_for(timeout=20_000)
        seen = set()
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and len(seen) < 3:
            texts = bar.all_inner_texts()
            for text in texts:
                if "chunk 1" in text and "left" in text:
                    seen.add(text.split("·")[1].strip() if "·" in text else text)
            page.wait_for_timeout(700)
        _shoot(page, "11-base-progress")
        assert len(seen) >= 3, seen          # the frame count moves during the one chunk, with the time left
        assert page.get_by_text("already running").count() == 0, "the second click is not refused with a warning"
        assert page.get_by_role("button", name="Render all").is_disabled()
        page.get_by_text("1 of 1 chunks rendered").wait_for(timeout=60_000)
        _settle(page)
        _shoot(page, "12-base-done")
    assert not foreign, foreign


def test_no_face_flagged_before_rendering(studio, browser_page):
    page, foreign = browser_page
    with _on_failure(page, "noface"):
        _open_project(page, "No face here", studio[0])
        _goto(page, "Base")
        page.get_by_text("No face found").first.wait_for(timeout=30_000)
        assert page.get_by_text("'Bob'").count() > 0
        _shoot(page, "13-base-no-face")
        _goto(page, "Cast")
        page.get_by_text("No face found").first.wait_for(timeout=30_000)
        _shoot(page, "14-cast-no-face")
    assert not foreign, foreign


def test_motion_slider_changes_the_preview(studio, browser_page):
    _, _, projects = studio
    page, foreign = browser_page
    from deepstory_core.video import iter_video_frames

    preview_dir = projects["motion"] / "artifacts" / "preview"
    with _on_failure(page, "motion"):
        _open_project(page, "Motion sliders", studio[0])
        _goto(page, "Cast")
        page.get_by_text("Motion", exact=True).first.click()
        page.get_by_role("button", name="Preview 3 s").click()
        page.locator("[data-testid=stExpander] video").first.wait_for(timeout=60_000)
        _settle(page)
        first = sorted(preview_dir.glob("*.mp4"))
        assert len(first) == 1
        slider = page.get_by_role("slider").first              # Mouth
        slider.focus()
        slider.press("Home")                                   # 1.0 → 0.0
        page.wait_for_timeout(500)
        _settle(page)
        page.get_by_text("No preview for these settings yet").wait_for(timeout=20_000)
        page.get_by_role("button", name="Preview 3 s").click()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(list(preview_dir.glob("*.mp4"))) < 2:
            page.wait_for_timeout(300)
        page.locator("[data-testid=stExpander] video").first.wait_for(timeout=30_000)
        _settle(page)
        _shoot(page, "15-cast-motion-preview")
    second = [p for p in preview_dir.glob("*.mp4") if p not in first]
    assert len(second) == 1
    a = np.concatenate(list(iter_video_frames(first[0])))
    b = np.concatenate(list(iter_video_frames(second[0])))
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 2      # the slider changed the picture
    cast = json.loads((projects["motion"] / "project.json").read_text())["cast"]["Alice"]
    assert cast["motion"]["mouth"] == 0.0
    assert not foreign, foreign


def test_dark_theme_reload_paints_dark_first(studio, browser_page):
    """The first paint after a reload is dark (no white flash), and nothing outside the studio was fetched."""
    page, foreign = browser_page
    page.reload(wait_until="commit")
    colours = []
    for _ in range(20):
        colours.append(page.evaluate("() => document.body ? getComputedStyle(document.body).backgroundColor : ''"))
        page.wait_for_timeout(25)
    _settle(page)
    _shoot(page, "16-after-reload")
    painted = [c for c in colours if c and c not in ("rgba(0, 0, 0, 0)", "transparent")]
    assert not any(c in ("rgb(255, 255, 255)",) for c in painted), colours
    assert not foreign, foreign
