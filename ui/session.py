"""Which project this browser session works on; the last one opened reopens on the next visit."""

from __future__ import annotations

import hashlib
from pathlib import Path

import streamlit as st

from deepstory_core.atomic import atomic_write_text
from deepstory_core.project import Project, create_project, list_projects, projects_root
from deepstory_kernel.errors import DeepstoryError

_KEY = "project_root"
_LAST_FILE = ".last_project"


def _last_project_file() -> Path:
    return projects_root() / _LAST_FILE


_KEEP_ON_SWITCH = {"project_select", "new_project_name", "studio_frame_ran", "startup_error", "sidebar_error",
                   "sidebar_success", "project_name_edit", "project_name_for"}


def remember(root: Path) -> None:
    """Open `root` in this session (and next time). Switching projects drops the pages' widget state, so no
    text, table edit or choice made for one project shows up — or gets saved — in another."""
    previous = st.session_state.get(_KEY)
    st.session_state[_KEY] = str(root)
    if previous is not None and previous != str(root):
        for key in list(st.session_state.keys()):
            if key != _KEY and key not in _KEEP_ON_SWITCH:
                del st.session_state[key]
    try:
        atomic_write_text(_last_project_file(), Path(root).name)
    except DeepstoryError:
        pass  # remembering is a convenience; never block the user on it


def _last_opened() -> Path | None:
    try:
        name = _last_project_file().read_text(encoding="utf-8").strip()
    except OSError:
        return None
    candidate = projects_root() / name
    return candidate if name and (candidate / "project.json").is_file() else None


def current_root() -> Path | None:
    """The session's project folder: chosen this session, else the last one opened, else the newest, else a demo."""
    if _KEY not in st.session_state:
        root = _last_opened()
        if root is None:
            existing = [p for p in list_projects() if not p.damaged]
            root = existing[0].root if existing else _create_demo()
        st.session_state[_KEY] = str(root) if root else None
    value = st.session_state.get(_KEY)
    return Path(value) if value else None


def _create_demo() -> Path | None:
    """A fresh install opens on the built-in demo story, ready to render."""
    try:
        from deepstory_core.demo import DEMO_FOLDER, create_demo_project

        project = create_demo_project(projects_root() / DEMO_FOLDER)
    except (DeepstoryError, ImportError) as err:
        st.session_state["startup_error"] = str(err)
        return None
    remember(project.root)
    return project.root


def current_project() -> Project | None:
    """Opened fresh on every script run: background jobs may have changed it since the last run."""
    root = current_root()
    if root is None:
        return None
    try:
        return Project.open(root)
    except DeepstoryError as err:
        st.error(str(err))
        return None


def require_project() -> Project:
    """For pages that need a project: stop the page with a hint when there is none."""
    project = current_project()
    if project is None:
        st.info("Create or open a project in the sidebar first.")
        st.stop()
    return project


def open_page(title: str, intro: str = "", needs_sentences: bool = True) -> Project:
    """The top of every project page: frame check, header, the project — or a hint and a stop when the page
    has nothing to work on yet."""
    ensure_frame(title)
    st.header(title)
    if intro:
        st.caption(intro)
    project = require_project()
    stale_export_notice(project, title)
    if needs_sentences and not project.sentence_rows:
        st.info("The project has no sentences yet: paste a story on the **Story** page first.")
        st.stop()
    return project


def stale_export_notice(project: Project, title: str) -> None:
    """On every page: say when the exported video no longer shows the story as it is now."""
    from deepstory_core.exported import safe_export_state
    from deepstory_core.render import export_path

    if safe_export_state(project, export_path(project)) == "stale":
        where = "press **Export video** below" if title == "Export" else "export again on the **Export** page"
        st.warning("The exported video no longer matches the story (sentences, cast or settings changed since "
                   f"it was made): {where}.", icon=":material/update:")


NEXT_STEPS = {
    "Story": ("Cast", "choose each speaker's voice and portrait"),
    "Cast": ("Voices", "synthesise every sentence and see the chunk plan"),
    "Voices": ("Base", "render each chunk's talking face"),
    "Base": ("Animate", "move each speaker's portrait with its base"),
    "Animate": ("Export", "join the clips into one video with subtitles"),
    "Export": (None, "download the video and subtitles above, or change the story and export again"),
}


def next_step(title: str) -> None:
    """Every page ends by saying what comes next (and links there)."""
    target, what = NEXT_STEPS.get(title, (None, ""))
    if not what:
        return
    st.divider()
    if target is None:
        st.markdown(f":material/flag: **Done?** Then {what}.")
        return
    left, right = st.columns([4, 1], vertical_alignment="center")
    left.markdown(f":material/arrow_forward: **Next: {target}** — {what}.")
    if right.button(f"Go to {target}", key=f"next-{title}", width="stretch"):
        st.switch_page(f"pages/{target.lower()}.py")


def new_project(name: str) -> Project:
    project = create_project(name)
    remember(project.root)
    return project


_FRAME_KEY = "studio_frame_ran"


def mark_frame() -> None:
    """Called by studio.py on every run, before the page: the page knows it runs inside the studio's frame."""
    st.session_state[_FRAME_KEY] = True


_RETURN_KEY = "studio_return_page"


def ensure_frame(title: str = "") -> None:
    """First thing on every page. On a freshly started server whose first request is a page's URL (a new tab,
    or an open tab after a server restart), Streamlit's automatic `pages/` discovery runs the page file alone (no
    sidebar, no model cache); send it through studio.py, which installs `st.navigation` and comes back here."""
    if not st.session_state.get(_FRAME_KEY):
        if title:
            st.session_state[_RETURN_KEY] = title
        st.switch_page("studio.py")


def return_to_requested_page(pages: list) -> None:
    """studio.py, after `st.navigation`: back to the page the tab was on (see `ensure_frame`)."""
    title = st.session_state.pop(_RETURN_KEY, None)
    for page in pages:
        if title and page.title == title:
            st.switch_page(page)


def scoped_key(name: str, root: Path | str | None = None) -> str:
    """A widget key tied to one project (`name-<digest>`): the browser keeps a widget's value for as long as its
    key lives, so keys that outlive a project switch would show — and save — one project's text in another."""
    root = root if root is not None else current_root()
    return f"{name}-{hashlib.sha1(str(root).encode()).hexdigest()[:8]}"
