"""Story: paste or upload the text, choose how it is parsed, fix sentences and speakers in a table.

The table is the truth once edited: the Story text follows it, and parsing again keeps it when the text did not
change — or asks before replacing rows edited in the table."""

from __future__ import annotations

import streamlit as st

from deepstory_core.demo import is_demo
from deepstory_core.editing import apply_sentence_table, parse_into_project, rename_speaker, sentence_table
from deepstory_core.exported import safe_export_state
from deepstory_core.render import export_path
from deepstory_core.render_queue import export_work
from deepstory_core.story import decode_story
from ui.session import next_step, open_page, scoped_key
from ui.widgets import attempt, guarded, job_button, job_running

project = open_page("Story", needs_sentences=False)
TEXT_KEY = scoped_key("story_text")
PENDING = "story_pending_parse"
MESSAGE = "story_message"

if st.session_state.pop("story_text_follows", False) or TEXT_KEY not in st.session_state:
    st.session_state[TEXT_KEY] = project.story_text   # the table was saved: the text box shows it as text

if st.session_state.pop("story_goto_export", False):
    st.switch_page("pages/export.py")

if is_demo(project) and safe_export_state(project, export_path(project)) == "none":
    hint, button = st.columns([4, 1], vertical_alignment="center")
    hint.info(":material/waving_hand: **Welcome!** This is a short demo story with two speakers, ready to render "
              "with the built-in voices and faces (about half a minute). Press **Render the demo** — or make your "
              "own: type a name under **Rename / new project** in the sidebar, then paste your story here.")
    job_button(button, "Render the demo", "render_demo", project.root, "Export", export_work(project.root),
               "export-job", job_running(project.root), type="primary", icon=":material/movie:", width="stretch")
    if st.session_state.get("render_demo"):
        st.session_state["story_goto_export"] = True
        st.rerun()
elif not project.sentence_rows:
    st.info(":material/waving_hand: **Start here.** Paste your story below (one line per paragraph; "
            "`Alice: Hello.` gives a line to Alice) and press **Parse story**.")

with st.form("story_form"):
    text = st.text_area("Story text", height=260, key=TEXT_KEY,
                        help="One line per paragraph. `Alice: Hello.` or `Alice|Hello.` gives the line to Alice; "
                             "other lines belong to the default speaker.")
    upload = st.file_uploader("…or upload a .txt file", type=["txt"], key=scoped_key("story_upload"))
    c1, c2, c3 = st.columns(3)
    speaker_tags = c1.checkbox("Speaker tags", value=project.settings.speaker_tags, key=scoped_key("speaker_tags"))
    default_speaker = c2.text_input("Default speaker", value=project.settings.default_speaker, key=scoped_key("default_speaker"))
    group = c3.number_input("Group up to N sentences", 1, 10, value=project.settings.sentence_group, key=scoped_key("group"))
    parse = st.form_submit_button("Parse story", type="primary")


def _parse(story: str, options: dict, replace_edits: bool) -> None:
    outcome = guarded(parse_into_project, project, story, replace_edits, **options)
    if outcome is None:
        return
    if outcome.action == "needs_confirm":
        st.session_state[PENDING] = (story, options, outcome.message)
        return
    st.session_state.pop(PENDING, None)
    st.session_state[MESSAGE] = ("success" if outcome.action == "parsed" else "info", outcome.message)
    if story != text:
        st.session_state["story_text_follows"] = True   # an uploaded file: show its text
    st.rerun()


if parse:
    story: str | None = text
    if upload is not None:
        story = guarded(decode_story, upload.getvalue())
    if story is not None:
        _parse(story, {"speaker_tags": speaker_tags, "default_speaker": default_speaker.strip(),
                       "sentence_group": int(group)}, replace_edits=False)

if pending := st.session_state.get(PENDING):
    st.warning(pending[2], icon=":material/warning:")
    keep, replace = st.columns(2)
    if replace.button("Replace my edits", key="replace_edits", type="primary", width="stretch"):
        _parse(pending[0], pending[1], replace_edits=True)
    if keep.button("Keep the table", key="keep_edits", width="stretch"):
        st.session_state.pop(PENDING, None)
        st.session_state[MESSAGE] = ("info", "Kept the table as it is; the text was not parsed.")
        st.rerun()

if message := st.session_state.pop(MESSAGE, None):
    (st.success if message[0] == "success" else st.info)(message[1])

rows = sentence_table(project)
if not rows:
    st.stop()

st.subheader("Sentences")
st.caption("Edit a sentence or its speaker, add or delete rows, then press **Save table**; the Story text above "
           "follows the saved table.")
speakers = project.speakers()
edited = st.data_editor(
    rows, key=scoped_key("sentence_editor"), num_rows="dynamic", width="stretch", hide_index=False,
    column_config={
        "speaker": st.column_config.SelectboxColumn("Speaker", options=speakers, required=True, width="small"),
        "text": st.column_config.TextColumn("Sentence", width="large", required=True),
        "line_start": st.column_config.CheckboxColumn("New line", help="Adds the line-start pause before it."),
    },
)
if st.button("Save table", key="save_table", type="primary"):
    count = guarded(apply_sentence_table, project, edited)
    if count is not None:
        st.session_state[MESSAGE] = ("success", f"Saved the table: {count} sentences, {len(project.speakers())} "
                                                "speakers. The Story text now follows it.")
        st.session_state["story_text_follows"] = True
        st.session_state.pop(scoped_key("sentence_editor"), None)
        st.rerun()

st.subheader("Speakers")
c1, c2, c3 = st.columns([2, 2, 1], vertical_alignment="bottom")
old = c1.selectbox("Speaker", speakers, key=scoped_key("rename_from"))
new = c2.text_input("New name (an existing name merges them)", key=scoped_key("rename_to"))
if c3.button("Rename", key="rename_speaker", disabled=not new.strip(), width="stretch"):
    if attempt(rename_speaker, project, old, new):
        st.session_state[MESSAGE] = ("success", f"Renamed {old} to {new.strip()}.")
        st.session_state["story_text_follows"] = True
        st.session_state.pop(scoped_key("rename_to"), None)
        st.rerun()

next_step("Story")
