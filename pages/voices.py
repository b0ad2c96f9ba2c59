"""Voices: synthesise every sentence (background job), listen to each, re-synthesise one; the voice check (what a
recogniser heard, a score per line) and a "say as" respelling per sentence; the chunk plan and a timeline of the
story's shape, with the cut size that decides how long a chunk may grow."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from deepstory_core import render
from deepstory_core.project import Project
from deepstory_core.sentence_audio import load_sentence_audio, plan_from_ready, sentence_audio
from deepstory_core.timeline import plan_rows, timeline_svg
from deepstory_core.voice_check import check_voices, stored_checks
from ui.session import next_step, open_page, scoped_key
from ui.widgets import guarded, job_button, job_panel, job_running, start_job

PER_PAGE = 15

project = open_page("Voices")
busy = job_running(project.root)


def _synthesise_all(root: Path):
    def work(progress, cancel):
        return render.render_story(Project.open(root), progress, cancel, until="voice")

    return work


def _check_all(root: Path):
    def work(progress, cancel):
        return check_voices(Project.open(root), progress=progress, cancel=cancel)

    return work


def _on_say_as(index: int, key: str) -> None:
    from deepstory_core.editing import set_say_as

    fresh = guarded(Project.open, project.root)
    if fresh is not None:
        guarded(set_say_as, fresh, index, st.session_state.get(key, ""))


rows = guarded(sentence_audio, project)
if rows is None:
    st.stop()
for problem in dict.fromkeys(row.problem for row in rows if row.problem):
    st.error(problem + " Choose another voice on the **Cast** page.")
ready = sum(row.ready for row in rows)

left, right, check_col = st.columns([3, 1, 1], vertical_alignment="center")
left.progress(ready / len(rows), text=f"{ready} of {len(rows)} sentences have audio")
job_button(right, "Synthesise all", "synthesise_all", project.root, "Voices", _synthesise_all(project.root),
           "voices-job", busy, disabled=ready == len(rows), type="primary", icon=":material/graphic_eq:",
           width="stretch")
job_button(check_col, "Check voices", "check_voices", project.root, "Voices", _check_all(project.root),
           "voices-job", busy, disabled=ready == 0, icon=":material/hearing:", width="stretch",
           help="Transcribe every sentence with a small offline recogniser (Whisper tiny.en) and score how many "
                "of its words a listener recovers.")
checks = guarded(stored_checks, project, rows) or {}
job_panel(project.root, key="voices-job")

plan = plan_from_ready(project, rows)

# -- chunk plan ---------------------------------------------------------------------------------------------------
st.subheader("Chunks")
sr = project.settings.sample_rate
with st.form("cut_size_form", border=False):
    c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
    seconds = c1.number_input(
        "Cut size (seconds)", min_value=1.0, max_value=600.0, step=1.0,
        value=float(round(project.settings.cut_size_seconds)), key=scoped_key("cut_size_seconds"), format="%.0f",
        help="A speaker's chunk is closed once it holds more than this much audio (a chunk is never cut inside a "
             "sentence). Shorter chunks: more, smaller clips to render and retry.")
    c1.caption(f"Now {project.settings.cut_size_seconds:.0f} s ({project.settings.cut_size:,} samples at "
               f"{sr:,} Hz).")
    if c2.form_submit_button("Apply cut size", disabled=busy, width="stretch"):
        new_cut = int(round(seconds * sr))
        if new_cut != project.settings.cut_size:
            project.settings = project.settings.with_changes(cut_size=new_cut)
            project.save()
            st.rerun()

if plan is None:
    st.info("The chunk plan appears once every sentence has audio: press **Synthesise all**.")
else:
    st.markdown(timeline_svg(plan.chunks, sr), unsafe_allow_html=True)
    st.caption(f"{len(plan.chunks)} chunks · {plan.duration:.1f} s in all")
    rows_table = plan_rows(plan.chunks, sr, project.sentences)
    if len(rows_table) <= 30:
        st.table(rows_table)   # a static table wraps long first sentences instead of clipping them
    else:
        st.dataframe(rows_table, hide_index=True, width="stretch",
                     column_config={"begins with": st.column_config.TextColumn(width="large")})

# -- sentences ----------------------------------------------------------------------------------------------------
st.subheader("Sentences")
pages = max(1, -(-len(rows) // PER_PAGE))
page = st.number_input(f"Page (of {pages})", 1, pages, 1, key=scoped_key("voices_page")) if pages > 1 else 1
story_sentences = project.sentences   # built once, not per row
for row in rows[(page - 1) * PER_PAGE: page * PER_PAGE]:
    with st.container(border=True):
        text_col, audio_col, button_col = st.columns([5, 4, 2], vertical_alignment="center")
        text_col.markdown(f"**{row.index + 1}. {row.speaker}** — {row.text}")
        text_col.caption(row.voice_id)
        check = checks.get(row.index)
        if check is not None:
            icon = ":material/warning:" if check.flagged else ":material/check:"
            text_col.caption(f"{icon} score {check.score:.0f} — heard \u201c{check.heard}\u201d")
        say_key = f"say-as-{row.index}"
        text_col.text_input("Say as", value=story_sentences[row.index].say_as, key=say_key, disabled=busy,
                            placeholder="respell for speech (the subtitle keeps the text)",
                            on_change=_on_say_as, args=(row.index, say_key), label_visibility="collapsed")
        if row.ready:
            audio = guarded(load_sentence_audio, project, row)
            if audio is not None:
                audio_col.audio(audio, sample_rate=sr)
        else:
            audio_col.caption("no audio yet — **Synthesise all** makes it")
        if row.ready and button_col.button(
                "Re-synthesise", key=f"resynth-{row.index}", icon=":material/refresh:", width="stretch",
                disabled=busy or row.key is None,
                help="Synthesise this sentence again (its chunk is re-rendered next time)."):
            guarded(render.forget_sentence, project, row)
            if start_job(project.root, "Voices", _synthesise_all(project.root), origin="voices-job"):
                st.rerun()

next_step("Voices")
