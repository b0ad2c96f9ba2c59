"""Export: render whatever is missing and join every chunk into one mp4 (+ SRT and WebVTT subtitles, optionally
burned in); play and download the result, or queue the render behind others."""

from __future__ import annotations

import time

import streamlit as st

from deepstory_core import render
from deepstory_core.backends import full_frame_problem
from deepstory_core.burn_in import POSITIONS, SIZES
from deepstory_core.cleanup import clean_up
from deepstory_core.demo import is_demo
from deepstory_core.distributed import cluster_problem
from deepstory_core.exported import download_name, safe_export_state
from deepstory_core.render_queue import export_work, render_queue
from deepstory_core.stages.animate import CANVAS_SIZES
from deepstory_core.stages.export import subtitles_path, webvtt_path
from ui.session import next_step, open_page, scoped_key
from ui.widgets import job_button, job_panel, job_running, save_setting

EAGER_DOWNLOAD_BYTES = 200 * 2**20
project = open_page("Export")
busy = job_running(project.root)
settings = project.settings


def _option(container, widget, label: str, setting: str, **kwargs) -> None:
    """A project setting edited by a widget (saved when changed)."""
    key = scoped_key(setting)
    widget_kwargs = {"disabled": busy, **kwargs}
    container_call = getattr(container, widget)
    container_call(label, key=key, on_change=save_setting, args=(project.root, setting, key), **widget_kwargs)


full_frame_rule = full_frame_problem(settings.animate_backend)
full_frame_ok = not full_frame_rule
st.subheader("Picture")
c1, c2 = st.columns(2)
_option(c2, "selectbox", "Output size", "canvas", options=list(CANVAS_SIZES),
        index=list(CANVAS_SIZES).index(settings.canvas) if settings.canvas in CANVAS_SIZES else 0,
        format_func=lambda c: f"{c} ({CANVAS_SIZES[c][0]}×{CANVAS_SIZES[c][1]})",
        disabled=busy or not settings.full_frame,
        help="The frame of the exported video with Full frame: each portrait is scaled to fit it. Without Full "
             "frame the video is the 256×256 face crop.")
_option(c1, "checkbox", "Full frame", "full_frame", value=settings.full_frame,
        disabled=busy or not (full_frame_ok or settings.full_frame),
        help="Paste the animated face back into the whole portrait instead of a 256×256 face crop."
             + ("" if full_frame_ok else " " + full_frame_rule))
if settings.full_frame and not full_frame_ok:
    st.warning(f"{full_frame_rule} Untick it or change the animate backend.")

st.subheader("Where to render")
_option(st, "text_input", "Ray cluster", "ray", value=settings.ray,
        placeholder="empty: this computer · local:4 · auto · ray://head-node:10001",
        help="Render the bases and clips on a Ray cluster: local:N starts N workers here, auto joins the cluster "
             "on this machine, ray://HOST:10001 a remote one (see the README, “Render on a cluster”).")
ray_problem = cluster_problem(settings.ray)
if ray_problem:
    st.warning(ray_problem)

st.subheader("Subtitles")
st.caption("An .srt and a WebVTT (.vtt) file are always written beside the video.")
s1, s2, s3, s4 = st.columns(4)
_option(s1, "checkbox", "Embed as a track", "soft_subtitles", value=settings.soft_subtitles,
        help="Adds a subtitle track to the mp4 that players can switch on.")
_option(s2, "checkbox", "Burn into the picture", "burn_subtitles", value=settings.burn_subtitles,
        help="Draws the subtitles into the video itself (always visible; the export re-encodes the video once).")
_option(s3, "selectbox", "Size", "subtitle_size", options=list(SIZES), index=list(SIZES).index(settings.subtitle_size),
        disabled=busy or not settings.burn_subtitles)
_option(s4, "selectbox", "Position", "subtitle_position", options=list(POSITIONS),
        index=list(POSITIONS).index(settings.subtitle_position), disabled=busy or not settings.burn_subtitles)

st.caption(f"Backends: base **{settings.base_backend}**, animate **{settings.animate_backend}** "
           "(change them on the Base and Animate pages). Chunks already rendered are reused.")
state = safe_export_state(project, render.export_path(project))
b1, b2 = st.columns([1, 1])
label = "Render the demo" if is_demo(project) and state == "none" else "Export video"
job_button(b1, label, "export", project.root, "Export", export_work(project.root), "export-job", busy,
           type="primary", icon=":material/movie:", width="stretch",
           help="Renders every missing voice, base and clip, then joins them into one video.")
if b2.button("Add to the render queue", key="queue_add", icon=":material/queue:", width="stretch",
             help="Renders this project after the renders queued before it (see the sidebar)."):
    render_queue().add(project.root, project.name)
    st.toast(f"“{project.name}” is in the render queue.")
job_panel(project.root, key="export-job")

video = render.export_path(project)
srt, vtt = subtitles_path(video), webvtt_path(video)
if video.is_file():
    st.subheader("Result")
    made = time.strftime("%Y-%m-%d %H:%M", time.localtime(video.stat().st_mtime))
    st.caption(f"{download_name(project, 'mp4')} · {video.stat().st_size / 2**20:.1f} MB · exported {made}")
    player, side = st.columns([3, 2])
    player.video(str(video), subtitles={"English": str(vtt if vtt.is_file() else srt)} if srt.is_file() else None)
    side.download_button("Download mp4", icon=":material/download:",
                         # a file up to EAGER_DOWNLOAD_BYTES is handed over with its name (the browser keeps
                         # it); a larger one is read only on click
                         data=video.read_bytes() if video.stat().st_size <= EAGER_DOWNLOAD_BYTES else video.read_bytes,
                         file_name=download_name(project, "mp4"), mime="video/mp4", key="download_mp4",
                         width="stretch")
    if srt.is_file():
        subtitles = srt.read_text(encoding="utf-8")
        d1, d2 = side.columns(2)
        d1.download_button("Download srt", icon=":material/subtitles:", data=subtitles.encode("utf-8"),
                           file_name=download_name(project, "srt"), mime="application/x-subrip",
                           key="download_srt", width="stretch")
        if vtt.is_file():
            d2.download_button("Download vtt", icon=":material/subtitles:", data=vtt.read_bytes(),
                               file_name=download_name(project, "vtt"), mime="text/vtt", key="download_vtt",
                               width="stretch")
        side.code(subtitles[:4000], language=None, height=300, wrap_lines=True)
elif not busy:
    st.info("Nothing exported yet: press **" + label + "**" +
            (" — the demo story, cast and voices are ready, nothing to download." if label == "Render the demo"
             else "."))

with st.expander("Clean up"):
    st.caption("Deletes renders the current story, cast and backends no longer use (older texts, voices, "
               "portraits, seeds). Everything in use stays; a removed render is made again if its choice returns.")
    if st.button("Delete unused renders", key="clean_up", disabled=busy, icon=":material/delete_sweep:"):
        removed = clean_up(project)
        total = sum(removed.values())
        st.success(f"Removed {total} unused render file{'s' if total != 1 else ''}." if total else
                   "Nothing to remove: every render is in use.")
next_step("Export")
