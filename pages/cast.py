"""Cast: per speaker a voice (with a sample to hear) and a portrait (built-in or uploaded), with the detected face
box and the aligned 128×96 crop the base stage animates — or a clear message and manual placement when no face
is found. Every choice is saved into the project at once."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import streamlit as st

from deepstory_core.cast import CastEntry, project_cast
from deepstory_core.identities import detect_face, face_preview, geometry_from_box, load_portrait_image, portrait_ref
from deepstory_core.portraits import add_portrait_upload, builtin_portraits
from deepstory_core.project import Project
from deepstory_kernel.contracts import MotionStyle
from deepstory_kernel.errors import DeepstoryError
from ui.session import next_step, open_page
from ui.widgets import guarded, job_button, job_panel, job_running

SAMPLE_TEXT = "Hello! This is how I sound when I tell your story."
UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "bmp"]

project = open_page("Cast")
speakers = project.speakers()
busy = job_running(project.root)
notices: set[str] = set()   # detector notes, shown once for the page (not under every portrait)
SLIDERS = (("mouth", "Mouth", "How wide the mouth opens."), ("head", "Head motion", "Nods and drift; 0 keeps the head still."),
           ("blink_rate", "Blink rate", "Blinks per minute, relative to the natural rate."),
           ("expression", "Expression", "Brows, cheeks and eyes: how lively the face is."))


@st.cache_data(show_spinner=False, ttl=60)
def _voices():
    from deepstory_core.voices import list_voices

    return list_voices()


@st.cache_data(show_spinner=False, max_entries=32)
def _sample(voice_id: str, text: str, sample_rate: int, tuning: tuple[float, float, float] = (1.0, 1.0, 1.0)):
    from deepstory_core.voice_piper import VoiceTuning
    from deepstory_core.voices import voice_sample

    return voice_sample(voice_id, text, sample_rate, VoiceTuning(*tuning))


def _on_tuning(speaker: str, entry: CastEntry, keys: tuple[str, str, str]) -> None:
    """Callback of the tuning sliders: the speaker's speed / variation / volume, saved into the cast."""
    from deepstory_core.voice_piper import VoiceTuning

    values = [float(st.session_state[k]) for k in keys]
    _save(speaker, dataclasses.replace(entry, tuning=VoiceTuning(*values)))


def _save(speaker: str, entry: CastEntry) -> None:
    """Write one speaker's entry into the project as it is on disk now (a background job may have saved since)."""
    fresh = guarded(Project.open, project.root)
    if fresh is not None and fresh.cast.get(speaker) != entry:
        fresh.cast[speaker] = entry
        fresh.save()


def _key(kind: str, number: int, speaker: str) -> str:
    """Widget keys tied to this project and speaker, so a choice never lands on another project's speaker."""
    digest = hashlib.sha1(f"{project.root}\0{speaker}".encode()).hexdigest()[:8]
    return f"{kind}-{number}-{digest}"


def _on_voice(speaker: str, entry: CastEntry, key: str) -> None:
    """Callback: only a choice the user makes is saved (never a widget's default)."""
    if st.session_state.get(key):
        _save(speaker, dataclasses.replace(entry, voice_id=st.session_state[key]))


def _on_builtin(speaker: str, entry: CastEntry, key: str) -> None:
    if st.session_state.get(key):
        _save(speaker, dataclasses.replace(entry, portrait=st.session_state[key], face_box=None))


def _on_motion(speaker: str, entry: CastEntry, number: int) -> None:
    """Callback of the motion sliders: the speaker's style is saved (part of its base key: only its chunks change)."""
    values = {name: float(st.session_state.get(_key(f"motion-{name}", number, speaker), 1.0)) for name, *_ in SLIDERS}
    fresh = guarded(Project.open, project.root)
    current = fresh.cast.get(speaker, entry) if fresh is not None else entry
    style = MotionStyle(**values)
    _save(speaker, dataclasses.replace(current, motion=None if style == MotionStyle() else style))


def _preview_work(speaker: str):
    def work(progress, cancel):
        from deepstory_core.preview import motion_preview

        return motion_preview(Project.open(project.root), speaker, progress, cancel)

    return work


def _motion_panel(number: int, speaker: str, entry: CastEntry) -> None:
    """Per-speaker motion sliders and a few-second preview of the speaker with them."""
    from deepstory_core.backends import BASE_BACKENDS
    from deepstory_core.preview import MOTION_PREVIEW_SECONDS, motion_preview_path

    spec = BASE_BACKENDS.get(project.settings.base_backend)
    honoured = bool(spec and spec.honours_style)
    with st.expander("Motion", expanded=entry.motion is not None):
        if not honoured:
            st.caption(f"The {project.settings.base_backend} base backend does not follow these controls; they "
                       "apply with a base backend that does.")
        cols = st.columns(len(SLIDERS))
        for col, (name, label, help_text) in zip(cols, SLIDERS):
            col.slider(label, 0.0, 2.0, float(getattr(entry.style, name)), 0.1, key=_key(f"motion-{name}", number, speaker),
                       help=help_text + " 1.0 is the default look.", disabled=busy or not honoured,
                       on_change=_on_motion, args=(speaker, entry, number))
        path = guarded(motion_preview_path, project, speaker)
        left, right = st.columns([1, 2], vertical_alignment="center")
        job_button(left, f"Preview {MOTION_PREVIEW_SECONDS:.0f} s", _key("preview", number, speaker), project.root,
                   f"Motion preview of {speaker[:30]}", _preview_work(speaker), "cast-job", busy,
                   disabled=path is None or path.is_file(), icon=":material/play_circle:", width="stretch",
                   help="Renders a few seconds of this speaker with these settings (base + motion, with sound).")
        if path is not None and path.is_file():
            right.video(str(path))
        elif path is not None:
            right.caption("No preview for these settings yet.")


def _show_face(image: np.ndarray, geometry, caption: str) -> None:
    preview = face_preview(image, geometry)
    shown, crop = st.columns([3, 1])
    shown.image(preview.annotated, caption=caption, width="stretch")
    if preview.aligned is not None:
        crop.image(preview.aligned, caption="Aligned 128×96", width="stretch")


def _face_panel(number: int, speaker: str, entry: CastEntry, ref: str, image: np.ndarray) -> None:
    """The detected face (box + aligned crop), or the reason none was found and a manual box to place."""
    height, width = image.shape[:2]
    problem = None
    geometry = None
    if entry.face_box is None:
        geometry, problem = detect_face(image)
    if geometry is not None:
        others = len(geometry.candidates) - 1
        _show_face(image, geometry, f"Face found — {geometry.method_label}"
                   + (f" (the largest of {others + 1} faces: draw a box to pick another)" if others > 0 else ""))
        if geometry.notice:
            notices.add(geometry.notice)
    elif problem:
        st.error(problem)
    manual = entry.face_box is not None or problem is not None
    with st.expander("Place the face manually", expanded=manual):
        x0, y0, w0, h0 = entry.face_box or (geometry.box if geometry is not None
                                            else (width * 0.3, height * 0.2, width * 0.4, height * 0.4))
        c1, c2, c3, c4 = st.columns(4)
        x = c1.number_input("x", 0, width - 8, int(min(max(x0, 0), width - 8)), key=_key("box-x", number, speaker))
        y = c2.number_input("y", 0, height - 8, int(min(max(y0, 0), height - 8)), key=_key("box-y", number, speaker))
        w = c3.number_input("width", 8, width, int(min(max(w0, 8), width)), key=_key("box-w", number, speaker))
        h = c4.number_input("height", 8, height, int(min(max(h0, 8), height)), key=_key("box-h", number, speaker))
        box = (float(x), float(y), float(min(w, width - x)), float(min(h, height - y)))
        placed = guarded(geometry_from_box, image, box)
        if placed is not None and manual:
            _show_face(image, placed, "Manual face box")
        left, right = st.columns(2)
        if left.button("Use this face box", key=_key("box-save", number, speaker), disabled=placed is None, width="stretch"):
            _save(speaker, dataclasses.replace(entry, portrait=entry.portrait or ref, face_box=box))
            st.rerun()
        if right.button("Detect automatically", key=_key("box-clear", number, speaker), disabled=entry.face_box is None,
                        width="stretch"):
            _save(speaker, dataclasses.replace(entry, portrait=entry.portrait or ref, face_box=None))
            st.rerun()


voices = _voices()
usable = [v for v in voices if v.available]
labels = {v.voice_id: f"{v.label} — {v.voice_id}" for v in voices}
completed = project_cast(project)
portraits = [(info.ref, info.label) for info in builtin_portraits()]
sr = project.settings.sample_rate

job_panel(project.root, key="cast-job")
notice_slot = st.container()
unusable = [v for v in voices if not v.available]
if unusable:
    with st.expander(f"{len(unusable)} voice(s) unavailable"):
        for v in unusable:
            st.caption(f":material/block: {v.label} ({v.voice_id}): {v.note or 'unavailable'}")

for number, speaker in enumerate(speakers):
    entry = completed[speaker]
    with st.container(border=True):
        st.subheader(speaker)
        voice_col, portrait_col = st.columns([2, 3])

        # -- voice ---------------------------------------------------------------------------------------------
        with voice_col:
            options = [v.voice_id for v in usable]
            if entry.voice_id not in options:
                from deepstory_core.cast import check_voice_id

                try:
                    check_voice_id(speaker, entry.voice_id)
                    options.append(entry.voice_id)   # a valid espeak voice that is not in the catalogue
                except DeepstoryError as err:
                    st.error(f"{err} Choose one below.")
            index = options.index(entry.voice_id) if entry.voice_id in options else None
            voice_key = _key("voice", number, speaker)
            voice_id = st.selectbox("Voice", options, index=index, key=voice_key,
                                    format_func=lambda v: labels.get(v, v), placeholder="Choose a voice",
                                    on_change=_on_voice, args=(speaker, entry, voice_key))
            tuning = entry.tuning
            with st.expander("Tuning: speed, variation, volume", expanded=not tuning.is_default):
                keys = (_key("speed", number, speaker), _key("variation", number, speaker),
                        _key("volume", number, speaker))
                for label, key, low, high, step, value, hint in (
                        ("Speed", keys[0], 0.5, 2.0, 0.05, tuning.speed, "How fast the speaker talks."),
                        ("Variation", keys[1], 0.0, 2.0, 0.1, tuning.variation,
                         "How lively the delivery is (Piper: its randomness, 0 = flat; espeak: pitch range)."),
                        ("Volume", keys[2], 0.1, 2.0, 0.05, tuning.volume, "Loudness relative to the others.")):
                    st.slider(label, low, high, float(value), step, key=key, help=hint, on_change=_on_tuning,
                              args=(speaker, entry, keys))
            if st.button("Hear a sample", key=_key("sample", number, speaker), disabled=voice_id is None,
                         icon=":material/play_arrow:"):
                audio = guarded(_sample, voice_id, SAMPLE_TEXT, sr,
                                (tuning.speed, tuning.variation, tuning.volume))
                if audio is not None:
                    st.audio(audio, sample_rate=sr, autoplay=True)

        # -- portrait ------------------------------------------------------------------------------------------
        with portrait_col:
            source_options = ["Built-in", "Upload"]
            is_upload = bool(entry.portrait) and entry.portrait not in {ref for ref, _ in portraits}
            source = st.radio("Portrait", source_options, index=1 if is_upload else 0, horizontal=True,
                              key=_key("portrait-source", number, speaker))
            shown_ref = entry.portrait or guarded(portrait_ref, project, speaker)  # what a render would use
            if source == "Built-in":
                if portraits:
                    refs = [ref for ref, _ in portraits]
                    names = dict(portraits)
                    builtin_key = _key("builtin", number, speaker)
                    if shown_ref in refs:
                        st.selectbox("Built-in portrait", refs, index=refs.index(shown_ref), key=builtin_key,
                                     format_func=names.__getitem__, on_change=_on_builtin,
                                     args=(speaker, entry, builtin_key))
                    else:   # an upload is chosen: picking a built-in one replaces it
                        st.selectbox("Built-in portrait", refs, index=None, key=builtin_key,
                                     format_func=names.__getitem__, placeholder="Choose a built-in portrait",
                                     on_change=_on_builtin, args=(speaker, entry, builtin_key))
                else:
                    st.warning("No built-in portraits are installed; upload one.")
            else:
                upload = st.file_uploader("Upload a portrait (a front-facing photo)", type=UPLOAD_TYPES,
                                          key=_key("upload", number, speaker))
                if upload is not None:
                    stored = guarded(add_portrait_upload, project, upload.getvalue(),
                                     f"The uploaded file {upload.name[:60]!r}", upload.name)
                    if stored and stored != entry.portrait:
                        entry = dataclasses.replace(entry, portrait=stored, face_box=None)
                        _save(speaker, entry)
                        shown_ref = stored
                elif is_upload:
                    st.caption(":material/image: Current portrait: the uploaded image shown below. Upload another "
                               "to replace it.")

            if shown_ref:
                image = guarded(load_portrait_image, project, shown_ref, speaker)
                if image is not None:
                    _face_panel(number, speaker, entry, shown_ref, image)
        _motion_panel(number, speaker, entry)

for notice in sorted(notices):
    notice_slot.caption(f":material/info: {notice}")
st.caption("Voices, portraits and motion are saved as you choose them. Speakers without a choice get distinct "
           "built-in voices and portraits (shown above).")
next_step("Cast")
