"""The studio in a real browser: Debian's chromium driven by Playwright against `streamlit run studio.py`.

Pastes a two-speaker story, synthesises, renders and exports with the built-in backends, downloads the mp4 and
checks its duration with the bundled ffmpeg; saves a screenshot of every page under `tests/output/browser/`.
Every wait is bounded; the whole test stays well under 3 minutes.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[1]
OUTPUT = REPO / "tests" / "output" / "browser"
STORY = "Alice: Good morning, Bob. Is the tea ready?\nBob: Almost. Sit down, please.\n"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]
PAGES = ("Story", "Cast", "Voices", "Base", "Animate", "Export", "Models")

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


@pytest.fixture
def studio(tmp_path):
    port = _free_port()
    env = dict(os.environ, DEEPSTORY_PROJECTS=str(tmp_path / "projects"), DEEPSTORY_DEVICE="cpu",
               PYTHONUNBUFFERED="1")
    log = open(tmp_path / "streamlit.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "studio.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, server)
        yield url, tmp_path
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


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


def test_paste_render_export_download(studio):
    from playwright.sync_api import sync_playwright

    from deepstory_core.video import stream_durations

    url, tmp_path = studio
    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        browser = p.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS, accept_downloads=True,
            viewport={"width": 1400, "height": 1000})
        try:
            page = browser.pages[0] if browser.pages else browser.new_page()
            page.set_default_timeout(30_000)
            # a fresh server whose first request is a page's URL still opens inside the studio's frame
            page.goto(f"{url}/cast", timeout=60_000)
            page.get_by_role("heading", name="Story").first.wait_for(timeout=60_000)
            page.get_by_test_id("stSidebarNav").get_by_role("link", name="Models").wait_for(timeout=20_000)
            page.get_by_text("New / rename project").wait_for(timeout=20_000)
            _settle(page)

            # 1. a new project (built-in voices and portraits by default); paste the story and parse it
            sidebar = page.get_by_test_id("stSidebar")
            sidebar.get_by_text("New / rename project").click()
            sidebar.get_by_role("textbox", name="Name", exact=True).fill("Browser test")
            sidebar.get_by_role("textbox", name="Name", exact=True).press("Enter")
            sidebar.get_by_role("button", name="Create").click()
            page.wait_for_function("() => document.querySelector('[data-testid=stSidebar] input[aria-label=Project]')"
                                   "?.value === 'Browser test'", timeout=20_000)
            _settle(page)
            area = page.get_by_role("textbox", name="Story text")
            area.fill(STORY)
            page.get_by_role("button", name="Parse story").click()
            _wait_text(page, "2 speakers", 30_000)
            page.locator("canvas").first.wait_for(timeout=20_000)   # the data_editor draws on a canvas
            _settle(page)
            _shoot(page, "1-story")

            # 2. cast: the demo's built-in portraits with their detected faces
            _goto(page, "Cast")
            page.get_by_text("Aligned 128×96").first.wait_for(timeout=30_000)
            _shoot(page, "2-cast")

            # 3. voices: synthesise all, see the plan and timeline
            _goto(page, "Voices")
            page.get_by_role("button", name="Synthesise all").click()
            _wait_text(page, "sentences have audio", 30_000)
            page.locator("svg[aria-label='Story timeline']").wait_for(timeout=60_000)
            _settle(page)
            _shoot(page, "3-voices")

            # 4. export with the built-in backends (renders every missing base and clip first)
            _goto(page, "Export")
            page.get_by_role("button", name="Export video").click()
            page.get_by_role("button", name="Download mp4").wait_for(timeout=100_000)
            _settle(page)
            _shoot(page, "6-export")
            with page.expect_download(timeout=30_000) as info:
                page.get_by_role("button", name="Download mp4").click()
            downloaded = tmp_path / "downloaded.mp4"
            info.value.save_as(str(downloaded))

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
        except Exception:
            _shoot(page, "failure")   # what the page showed when a wait ran out
            (OUTPUT / "failure.html").write_text(page.content(), encoding="utf-8")
            print("buttons at failure:", page.get_by_role("button").all_inner_texts())
            raise
        finally:
            browser.close()

    video_s, audio_s = stream_durations(downloaded)
    assert 3.0 < video_s < 30.0, video_s
    assert abs(video_s - audio_s) < 0.1, (video_s, audio_s)
    assert {f"{n}.png" for n in ("1-story", "2-cast", "3-voices", "4-base", "5-animate", "6-export", "7-models")} \
        <= {f.name for f in OUTPUT.iterdir()}
