"""Models: every backend the studio knows — ready, or missing with exactly which file goes where (absolute paths;
files that are already there, like the shipped vox-256.yaml, are marked present rather than listed as needed)."""

from __future__ import annotations

import streamlit as st

from deepstory_core import registry
from ui.session import ensure_frame

ensure_frame("Models")  # see ui.session.ensure_frame
st.header("Models")
st.caption("Missing weights are a normal state: the built-in backends work without any download. Put the files "
           "exactly where the table says, then press **Check again**.")
st.markdown(f"Model folder: `{registry.data_dir().resolve()}` (set `DEEPSTORY_DATA` to use another) · "
            f"face-alignment weights: `{registry.torch_hub_checkpoints()}`")
st.caption("`<voice>` in a DC-TTS path stands for a folder you name after the voice (e.g. `data/dctts/lj/`); each "
           "such folder becomes a voice called `dctts:<folder name>`.")

if st.button("Check again", key="recheck"):
    registry.clear_cache()

_ICONS = {registry.READY: "ready", registry.MISSING: "missing", registry.LFS: "git-LFS pointer",
          registry.CORRUPT: "corrupt", registry.WRONG_LAYOUT: "wrong layout", registry.UNSAFE: "unsafe"}
_MARKS = {registry.READY: ":green[:material/check_circle:]", registry.MISSING: ":gray[:material/radio_button_unchecked:]"}

try:
    checks = registry.check_all()
except Exception as err:  # a bug in a check must not hide the whole page
    st.error(f"Could not check the models: {type(err).__name__}: {err}")
    st.stop()


def _needed(entry) -> list:
    """The files still to put in place (a file already there — e.g. the shipped config — is not asked for)."""
    return [f for f in entry.files if not f.path.is_file()]


rows = [{"status": _ICONS.get(result.status, result.status), "stage": entry.stage, "model": entry.title,
         "file(s) needed": ", ".join(str(f.path) for f in _needed(entry)) or ("—" if entry.builtin else "all present")}
        for entry, result in checks]
st.dataframe(rows, hide_index=True, width="stretch", height=38 + 35 * len(rows),   # every row shown, none cut off
             column_config={"status": st.column_config.TextColumn(width="small"),
                            "stage": st.column_config.TextColumn(width="small"),
                            "model": st.column_config.TextColumn(width="medium"),
                            "file(s) needed": st.column_config.TextColumn(width="large")})

st.subheader("What to do")
for entry, result in checks:
    if entry.builtin or not entry.files:
        continue
    with st.expander(f"{_MARKS.get(result.status, ':red[:material/error:]')} {entry.title} — "
                     f"{_ICONS.get(result.status, result.status)}", expanded=not result.ready):
        for model_file in entry.files:
            present = model_file.path.is_file()
            mark = ":green[present]" if present else ":orange[needed]"
            st.markdown(f"- {mark} `{model_file.path}` — {model_file.what}")
        if entry.source:
            st.caption(f"Source: {entry.source}" + (f" · see `{entry.readme}`" if entry.readme else ""))
        if not result.ready:
            st.markdown(f"**Now:** {result.message}.")
        if result.fix:
            st.info(result.fix[:1].upper() + result.fix[1:] + ".")
