"""Export: render whatever is missing and join every chunk into one mp4 (+ srt); play and download the result."""

from __future__ import annotations

import time
from pathlib import Path

import streamlit as st

from deepstory_core import render
from deepstory_core.backends import full_frame_problem
from deepstory_core.project import Project
from deepstory_core.stages.export import export_path, subtitles_path
from ui.session import open_page, scoped_key
from ui.widgets import job_panel, job_running, save_setting, start_job

project = open_page("Export")
busy = job_running(project.root)
settings = project.settings


def _export(root: Path):
    def work(progress, cancel):
        return render.render_story(Project.open(root), progress, cancel)

    return work


full_frame_rule = full_frame_problem(settings.animate_backend)
full_frame_ok = not full_frame_rule
c1, c2 = st.columns(2)
c1.checkbox(
    "Full frame", value=settings.full_frame, key=scoped_key("full_frame"), disabled=busy or not (full_frame_ok or settings.full_frame),
    on_change=save_setting, args=(project.root, "full_frame", scoped_key("full_frame")),
    help="Paste the animated face back into the whole portrait instead of a 256×256 face crop."
         + ("" if full_frame_ok else " " + full_frame_rule))
c2.checkbox("Embed subtitles in the mp4", value=settings.soft_subtitles, key=scoped_key("soft_subtitles"), disabled=busy,
            on_change=save_setting, args=(project.root, "soft_subtitles", scoped_key("soft_subtitles")),
            help="A .srt file is always written beside the video; this also adds a subtitle track that players "
                 "can switch on.")
if settings.full_frame and not full_frame_ok:
    st.warning(f"{full_frame_rule} Untick it or change the animate backend.")
st.caption(f"Backends: base **{settings.base_backend}**, animate **{settings.animate_backend}** "
           "(change them on the Base and Animate pages). Chunks already rendered are reused.")
if st.button("Export video", key="export", type="primary", disabled=busy, icon=":material/movie:"):
    if start_job(project.root, "export", _export(project.root)):
        st.rerun()
job_panel(project.root, key="export-job")

video = export_path(project)
srt = subtitles_path(video)
if video.is_file():
    st.subheader("Result")
    made = time.strftime("%Y-%m-%d %H:%M", time.localtime(video.stat().st_mtime))
    st.caption(f"{video.name} · {video.stat().st_size / 2**20:.1f} MB · exported {made}")
    player, side = st.columns([3, 2])
    player.video(str(video), subtitles={"English": str(srt)} if srt.is_file() else None)
    side.download_button("Download mp4", icon=":material/download:",
                         data=lambda path=video: path.read_bytes(),  # read on click, not on every rerun
                         file_name=f"{project.root.name}.mp4", mime="video/mp4", key="download_mp4",
                         width="stretch")
    if srt.is_file():
        subtitles = srt.read_text(encoding="utf-8")
        side.download_button("Download srt", icon=":material/subtitles:", data=subtitles.encode("utf-8"),
                             file_name=f"{project.root.name}.srt", mime="application/x-subrip",
                             key="download_srt", width="stretch")
        side.code(subtitles[:4000], language=None, height=300)
elif not busy:
    st.info("Nothing exported yet: press **Export video**.")
