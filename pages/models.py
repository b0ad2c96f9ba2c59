"""Models: every backend the studio knows — ready, or missing with exactly which file goes where."""

from __future__ import annotations

import streamlit as st

from deepstory_core import registry
from ui.session import ensure_frame

ensure_frame()  # see ui.session.ensure_frame
st.header("Models")
st.caption("Missing weights are a normal state: the built-in backends work without any download. Put the files "
           "exactly where the table says, then press **Check again**.")

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

rows = [{"status": _ICONS.get(result.status, result.status), "stage": entry.stage, "model": entry.title,
         "file(s)": ", ".join(registry._display(f.path) for f in entry.files) or "—"}
        for entry, result in checks]
st.dataframe(rows, hide_index=True, width="stretch",
             column_config={"status": st.column_config.TextColumn(width="small"),
                            "stage": st.column_config.TextColumn(width="small"),
                            "model": st.column_config.TextColumn(width="medium"),
                            "file(s)": st.column_config.TextColumn(width="large")})

st.subheader("What to do")
for entry, result in checks:
    if entry.builtin or not entry.files:
        continue
    with st.expander(f"{_MARKS.get(result.status, ':red[:material/error:]')} {entry.title} — "
                     f"{_ICONS.get(result.status, result.status)}", expanded=not result.ready):
        for model_file in entry.files:
            st.markdown(f"- `{registry._display(model_file.path)}` — {model_file.what}")
        if entry.source:
            st.caption(f"Source: {entry.source}" + (f" · see `{entry.readme}`" if entry.readme else ""))
        if not result.ready:
            st.markdown(f"**Now:** {result.message}.")
        if result.fix:
            st.info(result.fix[:1].upper() + result.fix[1:] + ".")
