"""Small widgets every page uses: error display, background-job launch, a live progress panel with Cancel."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import streamlit as st

from deepstory_core.jobs import JobFunction, job_manager
from deepstory_kernel.errors import DeepstoryError

T = TypeVar("T")

_DRAWN_AT = "job_page_drawn_at"   # when this session last drew a whole page (the job panel's outer run)


def guarded(action: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Run `action`; a user-caused problem becomes an `st.error` line instead of a traceback."""
    try:
        return action(*args, **kwargs)
    except DeepstoryError as err:
        st.error(str(err))
        return None


def attempt(action: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
    """Like `guarded`, for actions that return nothing: True when it worked, False after showing the error."""
    try:
        action(*args, **kwargs)
    except DeepstoryError as err:
        st.error(str(err))
        return False
    return True


def save_setting(root: Path, setting: str, key: str) -> None:
    """Widget callback: the value the user just chose goes into the project *as it is on disk now* (a background
    job may have saved it since this page was drawn); nothing is written when it did not change."""
    from deepstory_core.project import Project

    value = st.session_state.get(key)
    project = guarded(Project.open, root)
    if value is not None and project is not None and getattr(project.settings, setting) != value:
        project.settings = project.settings.with_changes(**{setting: value})
        project.save()


_ORIGIN = "job_origin"
_START_WARNING = "job_start_warning"


def start_job(project_root: Path, kind: str, work: JobFunction, origin: str = "") -> bool:
    """Start background work for the project; says so in the page when another job is running. `origin`: the
    job panel key of the page that started it (its outcome is shown there only)."""
    try:
        job_manager().start(project_root, kind, work)
    except DeepstoryError as err:
        st.warning(str(err))
        return False
    st.session_state[_ORIGIN] = origin
    return True


def _start_from_click(project_root: Path, kind: str, work: JobFunction, origin: str) -> None:
    """A button's callback (runs before the script, so the page is drawn with the button already disabled). A
    second click of the same button while its job runs — a double-click — is ignored instead of refused."""
    status = job_manager().status(project_root)
    if status is not None and status.running and status.kind == kind:
        return
    try:
        job_manager().start(project_root, kind, work)
    except DeepstoryError as err:
        st.session_state[_START_WARNING] = str(err)
        return
    st.session_state[_ORIGIN] = origin


def job_button(container: Any, label: str, key: str, project_root: Path, kind: str, work: JobFunction,
               origin: str, busy: bool, **kwargs: Any) -> None:
    """A button that starts a background job; disabled while any job of the project runs."""
    disabled = bool(kwargs.pop("disabled", False)) or busy
    container.button(label, key=key, disabled=disabled, on_click=_start_from_click,
                     args=(project_root, kind, work, origin), **kwargs)
    if warning := st.session_state.pop(_START_WARNING, None):
        st.warning(warning)


def job_running(project_root: Path) -> bool:
    status = job_manager().status(project_root)
    return bool(status and status.running)


def job_panel(project_root: Path, key: str) -> None:
    """Live status of the project's background job (polls once a second while it runs).

    Rendered as a fragment so only this panel reruns while polling; when the job ends the whole page reruns once,
    so previews and tables show the new artifacts.
    """

    st.session_state[_DRAWN_AT] = time.time()

    @st.fragment(run_every=1.0)
    def _panel() -> None:
        status = job_manager().status(project_root)
        if status is None:
            return
        for note in status.notes:
            st.warning(note, icon=":material/warning:")
        if status.running:
            event = status.progress
            label = event.label() if event else f"{status.kind}: starting…"
            st.progress(event.fraction if event else 0.0, text=label)
            if st.button("Cancel", key=f"{key}-cancel", help="Stops after the current batch; finished work is kept."):
                job_manager().cancel(project_root)
                st.toast("Cancelling… finished chunks are kept.")
            return
        if status.finished is not None and status.finished > st.session_state.get(_DRAWN_AT, 0.0):
            st.session_state[_DRAWN_AT] = time.time()
            st.rerun()  # the page was drawn before the job ended: a full rerun shows what the job made
        kind = status.kind[:1].upper() + status.kind[1:]
        origin = st.session_state.get(_ORIGIN)
        if status.state == "done" and origin != key and not (origin is None and key == "export-job"):
            return   # a success is told on the page that started the job, not on every page
        message, dismiss = st.columns([6, 1], vertical_alignment="center")
        if status.state == "failed":
            message.error(status.error or "The job failed.")
        elif status.state == "cancelled":
            message.info(f"{kind} was cancelled; finished work is kept. Start it again to continue.")
        else:
            message.success(f"{kind} finished in {status.elapsed:.1f} s.")
        if dismiss.button("Dismiss", key=f"{key}-dismiss", width="stretch"):
            job_manager().forget(project_root)
            st.rerun(scope="fragment")

    _panel()
