"""Deepstory Studio — `streamlit run studio.py`.

The router and the frame: pages listed once, session defaults, the sidebar shared by all pages (project and memory
panel). Everything a page does is a call into `deepstory_core`; loaded models live in the library's one model
cache (`deepstory_core.models`), shared by every browser session of this server, which the memory panel lists.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from deepstory_core.models import evict_models, loaded_models, memory_report
from deepstory_core.project import list_projects
from deepstory_kernel.errors import DeepstoryError
from ui import session

st.set_page_config(page_title="Deepstory Studio", page_icon=":material/movie:", layout="wide")

PAGES = [
    st.Page("pages/story.py", title="Story", icon=":material/edit_note:", default=True),
    st.Page("pages/cast.py", title="Cast", icon=":material/theater_comedy:"),
    st.Page("pages/voices.py", title="Voices", icon=":material/record_voice_over:"),
    st.Page("pages/base.py", title="Base", icon=":material/face:"),
    st.Page("pages/animate.py", title="Animate", icon=":material/animation:"),
    st.Page("pages/export.py", title="Export", icon=":material/movie:"),
    st.Page("pages/models.py", title="Models", icon=":material/memory:"),
]


def _select_project() -> None:
    """Callback of the project select: open the chosen project (and reopen it next time)."""
    chosen = st.session_state.get("project_select")
    if chosen:
        session.remember(Path(chosen))


def _create_project() -> None:
    """Callbacks run before the script, so the select can be moved to the new project here."""
    try:
        project = session.new_project(st.session_state.get("new_project_name", ""))
    except DeepstoryError as err:
        st.session_state["sidebar_error"] = str(err)
        return
    st.session_state["project_select"] = str(project.root)
    st.session_state["new_project_name"] = ""


def _rename_project() -> None:
    project = session.current_project()
    if project is None:
        return
    try:
        project.rename(st.session_state.get("new_project_name", ""))
    except DeepstoryError as err:
        st.session_state["sidebar_error"] = str(err)
        return
    st.session_state["new_project_name"] = ""


def project_sidebar() -> None:
    st.sidebar.title("Deepstory Studio")
    for key in ("startup_error", "sidebar_error"):
        if error := st.session_state.pop(key, None):
            st.sidebar.error(error)
    current = session.current_root()
    projects = list_projects()
    names = {str(p.root): (p.name + (" (damaged)" if p.damaged else "")) for p in projects}
    if current is not None and str(current) not in names:
        names[str(current)] = current.name
    if names:
        options = list(names)
        if current is not None and st.session_state.get("project_select") != str(current):
            st.session_state["project_select"] = str(current)   # e.g. the demo made on a fresh install
        st.sidebar.selectbox("Project", options, key="project_select", format_func=names.__getitem__,
                             on_change=_select_project)
    with st.sidebar.expander("New / rename project"):
        new_name = st.text_input("Name", key="new_project_name", placeholder="My story")
        left, right = st.columns(2)
        left.button("Create", key="create_project", disabled=not new_name.strip(), on_click=_create_project,
                    width="stretch")
        right.button("Rename", key="rename_project", disabled=not new_name.strip() or current is None,
                     on_click=_rename_project, width="stretch", help="Renames the open project.")


def memory_sidebar() -> None:
    with st.sidebar.expander("Memory", expanded=False):
        loaded = loaded_models()
        st.caption("Loaded models: " + (", ".join(loaded) if loaded else "none"))
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
project_sidebar()
memory_sidebar()
navigation.run()
