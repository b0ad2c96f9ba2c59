"""Small widgets every page uses: error display, background-job launch, a live progress panel with Cancel."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import streamlit as st

from deepstory_core.jobs import JobFunction, job_manager
from deepstory_kernel.errors import DeepstoryError

T = TypeVar("T")

_SEEN_FINISHED = "job_seen_finished"


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


def start_job(project_root: Path, kind: str, work: JobFunction) -> bool:
    """Start background work for the project; says so in the page when another job is running."""
    try:
        job_manager().start(project_root, kind, work)
    except DeepstoryError as err:
        st.warning(str(err))
        return False
    st.session_state.pop(_SEEN_FINISHED, None)
    return True


def job_running(project_root: Path) -> bool:
    status = job_manager().status(project_root)
    return bool(status and status.running)


def job_panel(project_root: Path, key: str) -> None:
    """Live status of the project's background job (polls once a second while it runs).

    Rendered as a fragment so only this panel reruns while polling; when the job ends the whole page reruns once,
    so previews and tables show the new artifacts.
    """

    @st.fragment(run_every=1.0)
    def _panel() -> None:
        status = job_manager().status(project_root)
        if status is None:
            return
        if status.running:
            event = status.progress
            label = f"{status.kind}: {event.message}" if event and event.message else f"{status.kind}: starting…"
            st.progress(event.fraction if event else 0.0, text=label)
            if st.button("Cancel", key=f"{key}-cancel", help="Stops after the current batch; finished work is kept."):
                job_manager().cancel(project_root)
                st.toast("Cancelling… finished chunks are kept.")
            st.session_state[_SEEN_FINISHED] = False
            return
        if st.session_state.get(_SEEN_FINISHED) is False:
            st.session_state[_SEEN_FINISHED] = True
            st.rerun()  # full rerun: the page shows what the job made
        kind = status.kind[:1].upper() + status.kind[1:]
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
