"""The per-chunk workbench shared by the Base and Animate pages: backend choice, "render all", and per chunk a
preview, its status, "render" and "retry (new seed)". Every long action runs as the project's background job."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from deepstory_core import backends, render
from deepstory_core.project import Project
from deepstory_core.sentence_audio import sentence_audio
from ui.session import next_step, open_page, scoped_key
from ui.widgets import guarded, job_button, job_panel, job_running, save_setting

PER_PAGE = 10
_LABELS = {"builtin": "Built-in (no download)", "sda": "SDA (Speech-Driven Animation)",
           "fom": "FOM (First Order Motion Model)"}


@dataclass(frozen=True)
class StageView:
    stage: str              # "base" | "animate"
    title: str
    setting: str            # the Settings field holding the backend name
    table: dict             # backends.BASE_BACKENDS or backends.ANIMATE_BACKENDS


BASE = StageView("base", "Base", "base_backend", backends.BASE_BACKENDS)
ANIMATE = StageView("animate", "Animate", "animate_backend", backends.ANIMATE_BACKENDS)


def backend_picker(project: Project, view: StageView) -> None:
    """A select of the usable backends (saved into the project when changed); unusable ones listed with why."""
    current = getattr(project.settings, view.setting)
    usable: list[str] = []
    unusable: dict[str, str] = {}
    for name in view.table:
        ok, why = backends.availability(view.stage, name)
        (usable.append(name) if ok else unusable.__setitem__(name, why))
    if current not in usable:
        reason = unusable.get(current, "it is not installed in this build")
        st.warning(f"The chosen {view.title.lower()} backend **{current}** is not usable: {reason}. "
                   f"Choose another one below.")
    key = scoped_key(f"{view.stage}_backend", project.root)
    st.selectbox(f"{view.title} backend", usable, index=usable.index(current) if current in usable else None,
                 format_func=lambda n: _LABELS.get(n, n), key=key, placeholder="Choose a backend",
                 disabled=job_running(project.root), on_change=save_setting,
                 args=(project.root, view.setting, key))
    for name, why in unusable.items():
        st.caption(f":material/block: {_LABELS.get(name, name)} — unavailable: {why}")


def _render_all_work(root: Path, view: StageView):
    def work(progress, cancel):
        return render.render_story(Project.open(root), progress, cancel, until=view.stage)

    return work


def _chunk_work(root: Path, index: int, stage: str, retry: bool):
    def work(progress, cancel):
        project = Project.open(root)
        action = render.retry_chunk if retry else render.render_chunk
        return action(project, index, stage, progress, cancel)

    return work


def _voices_missing(project: Project) -> int:
    rows = guarded(sentence_audio, project)
    if rows is None:
        return -1
    problems = [row.problem for row in rows if row.problem]
    if problems:
        st.error(problems[0])
        return -1
    return sum(not row.ready for row in rows)


def _preview(project: Project, status: render.ChunkStatus, view: StageView) -> None:
    from deepstory_core.preview import base_preview, clip_preview

    exists = status.base if view.stage == "base" else status.clip
    if not exists:
        st.caption("Not rendered yet.")
        return
    make = base_preview if view.stage == "base" else clip_preview
    path = guarded(make, project, status.base_path if view.stage == "base" else status.clip_path,
                   status.content_key)
    if path is not None:
        st.video(str(path))


def _score_work(root: Path, index: int, stage: str):
    def work(progress, cancel):
        from deepstory_core.quality_chunks import score_chunk

        return score_chunk(Project.open(root), index, stage)

    return work


def _score_line(project: Project, status: render.ChunkStatus, view: StageView, score, busy: bool) -> None:
    """The chunk's lip-sync score (face model vs audio), flagged when weak; or a button to measure it."""
    if score is not None:
        mark = ":orange[:material/warning: weak lip-sync]" if score.weak else ":green[:material/graphic_eq: lip-sync ok]"
        st.caption(f"{mark} · {score.summary()}")
    elif view.stage == "animate" and status.clip:   # (scoring a base's .npy frames is not supported yet)
        job_button(st, "Measure lip-sync", f"{view.stage}-score-{status.index}", project.root,
                   f"Lip-sync score of chunk {status.index + 1}", _score_work(project.root, status.index, view.stage),
                   f"{view.stage}-job", busy, icon=":material/query_stats:",
                   help="Measures how well the mouth follows the audio (the face model on every frame).")


def chunk_row(project: Project, status: render.ChunkStatus, view: StageView, busy: bool, score=None) -> None:
    """One chunk: preview | speaker, length, seed, state | render, retry."""
    done = status.base if view.stage == "base" else status.clip
    with st.container(border=True):
        left, middle, right = st.columns([2, 3, 2], vertical_alignment="center")
        with left:
            _preview(project, status, view)
        with middle:
            st.markdown(f"**Chunk {status.index + 1}** · {status.speaker}")
            state = (":green[:material/check_circle: rendered]" if done else ":orange[:material/pending: base ready]"
                     if view.stage == "animate" and status.base else ":gray[:material/radio_button_unchecked: not rendered]")
            st.caption(f"{status.num_frames / 25:.1f} s · {status.num_frames} frames · seed {status.seed} · {state}")
            _score_line(project, status, view, score, busy)
        with right:
            origin = f"{view.stage}-job"
            job_button(st, "Render", f"{view.stage}-render-{status.index}", project.root,
                       f"{view.title} of chunk {status.index + 1}",
                       _chunk_work(project.root, status.index, view.stage, retry=False), origin, busy,
                       disabled=done, icon=":material/play_arrow:", width="stretch")
            job_button(st, "Retry (new seed)", f"{view.stage}-retry-{status.index}", project.root,
                       f"{view.title} retry of chunk {status.index + 1}",
                       _chunk_work(project.root, status.index, view.stage, retry=True), origin, busy,
                       icon=":material/casino:", width="stretch",
                       help="Draws a new seed for this chunk and renders it again; the other chunks are kept.")


def stage_page(view: StageView, intro: str) -> None:
    """The whole Base / Animate page."""
    project = open_page(view.title, intro)
    busy = job_running(project.root)
    backend_picker(project, view)
    job_panel(project.root, key=f"{view.stage}-job")
    face_problems(project)

    missing = _voices_missing(project)
    if missing < 0:
        st.stop()
    if missing:
        st.info(f"{missing} sentence(s) have no audio yet: synthesise the voices on the **Voices** page first "
                f"(or press **Render all**, which does it).")
    statuses = guarded(render.chunk_status, project) if not missing else []
    if statuses is None:
        st.stop()
    done = sum(s.base if view.stage == "base" else s.clip for s in statuses)
    top_left, top_right = st.columns([3, 1], vertical_alignment="center")
    if statuses:
        top_left.progress(done / len(statuses), text=f"{done} of {len(statuses)} chunks rendered")
    job_button(top_right, "Render all", f"{view.stage}-render-all", project.root, f"{view.title}: render all",
               _render_all_work(project.root, view), f"{view.stage}-job", busy, type="primary",
               icon=":material/movie_edit:", width="stretch")
    if not statuses:
        st.stop()
    pages = max(1, -(-len(statuses) // PER_PAGE))
    page = 1
    if pages > 1:
        page = st.number_input(f"Page (of {pages}, {PER_PAGE} chunks each)", 1, pages, 1, key=scoped_key(f"{view.stage}-page"))
    from deepstory_core.quality_chunks import chunk_scores

    scores = guarded(chunk_scores, project, statuses) or {}
    for status in statuses[(page - 1) * PER_PAGE: page * PER_PAGE]:
        chunk_row(project, status, view, busy, scores.get(status.index, {}).get(view.stage))
    next_step(view.title)


def face_problems(project: Project) -> None:
    """Flag every speaker whose portrait has no usable face before anything is rendered."""
    from deepstory_core.face_check import check_cast

    problems = [check for check in check_cast(project) if not check.ok]
    for check in problems:
        st.error(f"{check.problem} Fix it on the **Cast** page (another portrait, or place the face by hand) "
                 "before rendering.", icon=":material/face_retouching_off:")

