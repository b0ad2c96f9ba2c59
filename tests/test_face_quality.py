"""The lip-sync scorer, with the real face model on real photos and real speech: a jaw that drops with the voice
scores high, a still portrait is flagged weak, a hard-edged pasted face shows a seam."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io.wavfile
from scipy.signal import resample_poly

from deepstory_core.quality import (
    IdentityReference,
    LipSyncScore,
    frame_rms,
    measure_frames,
    score_frames,
    score_series,
)
from deepstory_kernel.contracts import PhonemeEvent
from modules.face.mesh import detect_mesh

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from face_photos import astronaut
from lipsync_controls import jaw_drop_frames, loudness_envelope

RATE = 22050


@pytest.fixture(scope="module")
def speech(samples_dir) -> np.ndarray:
    rate, data = scipy.io.wavfile.read(samples_dir / "grid" / "utterance_50khz.wav")
    return resample_poly(data.astype(np.float32) / 32768.0, RATE, rate).astype(np.float32)


@pytest.fixture(scope="module")
def portrait() -> np.ndarray:
    return np.ascontiguousarray(astronaut()[0:400, 96:416])


@pytest.fixture(scope="module")
def jaw_clip(landmarker, speech, portrait) -> np.ndarray:
    mesh = detect_mesh(portrait, landmarker)
    rms = frame_rms(speech, RATE, len(speech) // 882)
    return np.concatenate(list(jaw_drop_frames(portrait, mesh, loudness_envelope(rms))))


def test_jaw_that_follows_the_voice_scores_high(landmarker, speech, portrait, jaw_clip):
    score = score_frames([jaw_clip], speech, RATE, portrait=portrait, landmarker=landmarker)
    assert score.frames == len(speech) // 882 and score.face_found == 1.0
    assert score.r_jaw_open is not None and score.r_jaw_open > 0.8
    assert score.r_lip_gap is not None and score.r_lip_gap > 0.8
    assert score.gap_loud_over_silent is not None and score.gap_loud_over_silent > 1.6
    assert score.identity_ssim is not None and score.identity_ssim > 0.97   # only the jaw moved
    assert score.seam is not None and score.seam < 0.05
    assert not score.weak, score.problems
    again = LipSyncScore.from_dict(score.to_dict())     # the stored JSON form reads back the same
    assert again == score and again.to_dict()["weak"] is False


def test_still_portrait_is_weak(landmarker, speech, portrait):
    frames = np.repeat(portrait[None], len(speech) // 882, axis=0)
    score = score_frames([frames], speech, RATE, portrait=portrait, landmarker=landmarker)
    assert score.weak
    assert score.r_jaw_open is None or score.r_jaw_open < 0.3
    assert any("jaw" in p for p in score.problems)
    assert score.identity_ssim is not None and score.identity_ssim > 0.99
    assert score.silent_closed == 1.0


def test_bilabials_closed_only_when_the_lips_close(landmarker, speech, portrait, jaw_clip):
    """p/b/m events placed on the loudest frames (jaw wide open) fail; on silent frames (lips shut) they pass."""
    rms = frame_rms(speech, RATE, len(jaw_clip))
    loud = np.argsort(rms)[-3:]
    quiet = np.argsort(rms)[:3]
    at_loud = [PhonemeEvent(int(f * 882), p) for f, p in zip(sorted(loud), "pbm")]
    at_quiet = [PhonemeEvent(int(f * 882), p) for f, p in zip(sorted(quiet), "pbm")]
    # each event ends where the next phoneme (a vowel) starts, one frame later
    events_loud = [e for ev in at_loud for e in (ev, PhonemeEvent(ev.sample + 882, "a"))]
    events_quiet = [e for ev in at_quiet for e in (ev, PhonemeEvent(ev.sample + 882, "a"))]
    series = measure_frames([jaw_clip], landmarker, IdentityReference.of(portrait, landmarker))  # scored twice
    open_score = score_series(series, rms, events_loud)
    shut_score = score_series(series, rms, events_quiet)
    assert open_score.bilabials == shut_score.bilabials == 3
    assert open_score.bilabial_closed is not None and open_score.bilabial_closed < 0.5
    assert shut_score.bilabial_closed == 1.0


def test_hard_edged_paste_shows_a_seam(landmarker, speech, portrait):
    import cv2

    mesh = detect_mesh(portrait, landmarker)
    assert mesh is not None
    x, y, w, h = mesh.box
    mask = np.zeros(portrait.shape[:2], np.uint8)
    cv2.ellipse(mask, (int(x + w / 2), int(y + h / 2)), (int(0.8 * w), int(0.75 * h)), 0, 0, 360, 255, -1)
    pasted = portrait.astype(np.int16)
    pasted[mask > 0] += 14
    pasted = np.clip(pasted, 0, 255).astype(np.uint8)
    n = 10
    score = score_frames([np.repeat(pasted[None], n, axis=0)], speech[:n * 882], RATE, portrait=portrait,
                         landmarker=landmarker)
    assert score.seam is not None and score.seam > 0.08
    assert any("seam" in p for p in score.problems)


def test_chunk_scores_are_measured_on_demand_and_stored(tmp_path, landmarker):
    """A one-line story rendered with the built-in backends: no score until asked; then one stored per chunk,
    read back cheaply (no face model) and not measured again."""
    from deepstory_core.cast import CastEntry
    from deepstory_core.project import Project
    from deepstory_core.quality_chunks import STAGE, chunk_scores, score_chunk
    from deepstory_core.render import chunk_status, render_story

    project = Project.create(tmp_path / "p", name="score")
    project.set_story("Alice: Maybe, Bob.\n")
    project.cast["Alice"] = CastEntry(voice_id="espeak:en-us+f2", portrait="builtin:eileen")
    project.save()
    render_story(project, until="animate")
    assert chunk_scores(project) == {}
    score = score_chunk(project, 0, "animate", landmarker)
    assert score.frames == chunk_status(project)[0].num_frames and score.face_found > 0.9
    stored = list((project.store.root / STAGE).glob("*.json"))
    assert len(stored) == 1
    mtime = stored[0].stat().st_mtime_ns
    assert chunk_scores(project) == {0: {"animate": score}}
    assert score_chunk(project, 0, "animate", landmarker) == score
    assert stored[0].stat().st_mtime_ns == mtime
