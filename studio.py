"""Deepstory Studio — `streamlit run studio.py`.

The router and the frame: pages listed once, session defaults, the sidebar shared by all pages (project and memory
panel). Everything a page does is a call into `deepstory_core`; loaded models live in the library's one model
cache (`deepstory_core.models`, held in `st.cache_resource`), shared by every browser session of this server,
which the memory panel lists.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from deepstory_core import models
from deepstory_core.models import ModelCache, evict_models, loaded_models, memory_report
from deepstory_core.project import list_projects
from deepstory_kernel.errors import DeepstoryError
from ui import session

ICON = Path(__file__).resolve().parent / "ui" / "icon.png"   # served by this server: the studio fetches nothing else
st.set_page_config(page_title="Deepstory Studio", page_icon=str(ICON), layout="wide")


@st.cache_resource(show_spinner=False)
def _model_cache() -> ModelCache:
    """The studio's models live in Streamlit's resource cache: one ModelCache for the server, evicted by stage."""
    return ModelCache()


models.install_cache(_model_cache())

PAGES = [
    st.Page("pages/story.py", title="Story", icon=":material/edit_note:", default=True),
    st.Page("pages/cast.py", title="Cast", icon=":material/theater_comedy:"),
    st.Page("pages/voices.py", title="Voices", icon=":material/record_voice_over:"),
    st.Page("pages/base.py", title="Base", icon=":material/face:"),
    st.Page("pages/animate.py", title="Animate", icon=":material/animation:"),
    st.Page("pages/export.py", title="Export", icon=":material/movie:"),
    st.Page("pages/models.py", title="Models", icon=":material/memory:"),
]


def _project_labels() -> dict[str, str]:
    """Project folder → the name shown; names shared by two projects get their folder added, so every label is
    unique (the select maps a label back to its project)."""
    projects = list_projects()
    names = [p.name + (" (damaged)" if p.damaged else "") for p in projects]
    return {str(p.root): (name if names.count(name) == 1 else f"{name} ({p.root.name})")
            for p, name in zip(projects, names)}


def _select_project() -> None:
    """Callback of the project select: open the chosen project (and reopen it next time). Only a listed project
    folder is accepted — never a label the browser still holds from before a rename."""
    chosen = st.session_state.get("project_select")
    if chosen and chosen in _project_labels():
        session.remember(Path(chosen))


def _create_project() -> None:
    """Callbacks run before the script, so the select can be moved to the new project here."""
    name = st.session_state.get("new_project_name", "")
    if not name.strip():
        return
    try:
        project = session.new_project(name)
    except DeepstoryError as err:
        st.session_state["sidebar_error"] = str(err)
        return
    st.session_state["project_select"] = str(project.root)
    st.session_state["new_project_name"] = ""
    st.session_state["sidebar_success"] = f"Created “{project.name}”. Paste its story on the Story page."


def _rename_project() -> None:
    project = session.current_project()
    name = st.session_state.get("project_name_edit", "")
    if project is None or not name.strip() or " ".join(name.split()) == project.name:
        return
    try:
        project.rename(name)
    except DeepstoryError as err:
        st.session_state["sidebar_error"] = str(err)
        return
    # the select's value is re-sent under the new label (the browser held the old one); the folder is remembered
    st.session_state["project_select"] = str(project.root)
    session.remember(project.root)
    st.session_state["sidebar_success"] = f"Renamed to “{project.name}”."


def project_sidebar() -> None:
    st.sidebar.title("Deepstory Studio")
    for key in ("startup_error", "sidebar_error"):
        if error := st.session_state.pop(key, None):
            st.sidebar.error(error)
    if message := st.session_state.pop("sidebar_success", None):
        st.sidebar.success(message)
    current = session.current_root()
    names = _project_labels()
    if current is not None and str(current) not in names:
        names[str(current)] = current.name
    if names:
        options = list(names)
        if current is not None and st.session_state.get("project_select") != str(current):
            st.session_state["project_select"] = str(current)   # e.g. the demo made on a fresh install
        st.sidebar.selectbox("Project", options, key="project_select", format_func=lambda r: names.get(r, r),
                             on_change=_select_project)
    project = session.current_project() if current is not None else None
    with st.sidebar.expander("Rename / new project"):
        if project is not None:
            if st.session_state.get("project_name_for") != str(project.root):
                st.session_state["project_name_edit"] = project.name   # follows the open project
                st.session_state["project_name_for"] = str(project.root)
            st.text_input("Project name", key="project_name_edit", on_change=_rename_project,
                          help="Press Enter to rename the open project (its folder keeps its name).")
        st.text_input("New project", key="new_project_name", placeholder="My story", on_change=_create_project,
                      help="Type a name and press Enter (or Create).")
        st.button("Create", key="create_project", on_click=_create_project, width="stretch")


def queue_sidebar() -> None:
    """The render queue: what waits, what runs, what ended; each waiting or running render can be cancelled."""
    from deepstory_core.render_queue import render_queue

    queue = render_queue()
    entries = queue.entries()

    @st.fragment(run_every=1.0 if any(e.active for e in entries) else None)
    def _panel() -> None:
        rows = queue.entries()
        with st.sidebar.expander(f"Render queue ({sum(e.active for e in rows)})", expanded=any(e.active for e in rows)):
            if not rows:
                st.caption("Empty. **Add to the render queue** on the Export page renders projects one after "
                           "another.")
            for entry in rows:
                left, right = st.columns([4, 1], vertical_alignment="center")
                icon = {"waiting": ":material/schedule:", "running": ":material/autorenew:",
                        "done": ":green[:material/check_circle:]", "failed": ":red[:material/error:]",
                        "cancelled": ":gray[:material/block:]"}[entry.state]
                left.markdown(f"{icon} {entry.name} — {entry.state}")
                if entry.error:
                    left.caption(entry.error)
                if entry.active and right.button(":material/close:", key=f"queue-cancel-{entry.id}",
                                                 help=f"Cancel the render of {entry.name}"):
                    queue.cancel(entry.id)
                    st.rerun(scope="fragment")
            if any(not e.active for e in rows) and st.button("Clear finished", key="queue-clear"):
                queue.clear_finished()
                st.rerun(scope="fragment")

    _panel()


def memory_sidebar() -> None:
    with st.sidebar.expander("Memory", expanded=False):
        loaded = loaded_models()
        st.caption("Loaded models: " + (", ".join(loaded) if loaded else
                                        "none (a render loads its models and unloads them when it ends)"))
        report = memory_report()
        st.caption(f"RAM (this process): {report['rss_mb'] / 1024:.2f} GiB · device: {report['device']}")
        if "cuda_allocated_mb" in report:
            st.caption(f"VRAM: {report['cuda_allocated_mb'] / 1024:.2f} GiB allocated, "
                       f"{report['cuda_reserved_mb'] / 1024:.2f} GiB reserved")
        st.button("Unload models", key="unload_models", on_click=_unload_models,
                  help="Drops every loaded model and returns the memory (a running render reloads what it needs).")


def _unload_models() -> None:
    """A callback: runs before the script, so the panel above already shows the emptied cache."""
    evict_models()
    st.toast("Models unloaded; memory released.")


session.mark_frame()
navigation = st.navigation(PAGES)
session.return_to_requested_page(PAGES)
project_sidebar()
queue_sidebar()
memory_sidebar()
navigation.run()
