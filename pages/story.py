"""Story: paste or upload the text, choose how it is parsed, fix sentences and speakers in a table."""

from __future__ import annotations

import streamlit as st

from deepstory_core.editing import apply_sentence_table, rename_speaker, sentence_table
from deepstory_core.story import decode_story
from ui.session import open_page, scoped_key
from ui.widgets import attempt, guarded

project = open_page("Story", needs_sentences=False)

with st.form("story_form"):
    text = st.text_area("Story text", value=project.story_text, height=260, key=scoped_key("story_text"),
                        help="One line per paragraph. `Alice: Hello.` or `Alice|Hello.` gives the line to Alice; "
                             "other lines belong to the default speaker.")
    upload = st.file_uploader("…or upload a .txt file", type=["txt"], key=scoped_key("story_upload"))
    c1, c2, c3 = st.columns(3)
    speaker_tags = c1.checkbox("Speaker tags", value=project.settings.speaker_tags, key=scoped_key("speaker_tags"))
    default_speaker = c2.text_input("Default speaker", value=project.settings.default_speaker, key=scoped_key("default_speaker"))
    group = c3.number_input("Group up to N sentences", 1, 10, value=project.settings.sentence_group, key=scoped_key("group"))
    parse = st.form_submit_button("Parse story", type="primary")

if parse:
    story = text
    if upload is not None:
        story = guarded(decode_story, upload.getvalue())
    if story is not None:
        project.settings = project.settings.with_changes(
            speaker_tags=speaker_tags, default_speaker=default_speaker.strip(), sentence_group=int(group))
        if attempt(project.set_story, story) and attempt(project.save):
            st.success(f"{len(project.sentence_rows)} sentences, {len(project.speakers())} speakers.")

rows = sentence_table(project)
if not rows:
    st.info("Paste a story above and press **Parse story**.")
    st.stop()

st.subheader("Sentences")
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
        st.success(f"Saved {count} sentences.")
        st.rerun()

st.subheader("Speakers")
c1, c2, c3 = st.columns([2, 2, 1])
old = c1.selectbox("Speaker", speakers, key=scoped_key("rename_from"))
new = c2.text_input("New name (an existing name merges them)", key=scoped_key("rename_to"))
if c3.button("Rename", key="rename_speaker", disabled=not new.strip()):
    if attempt(rename_speaker, project, old, new):
        st.rerun()
