"""The built-in base's face track: what the base did to the face, left beside its frames and re-enacted exactly by
the built-in transfer (measured on the output with the face model); the base stage writes it atomically and never
leaves a stale one; the animate stage hands it only to a transfer that follows tracks. Also: a face turned away
opens its mouth by its true width, and a story's eyes are judged per speaker."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from deepstory_core import quality as Q
from deepstory_core.stages import base as base_stage
from deepstory_core.stages.animate import write_animated_clip
from deepstory_kernel.contracts import FaceTrack
from deepstory_kernel.media import SAMPLES_PER_FRAME
from modules.classic.lipsync import BuiltinLipSync
from modules.classic.rig import FaceRig, MouthPose
from modules.classic.transfer import BuiltinMotionTransfer
from modules.face import features as F
from modules.face.align import align_face
from modules.face.mesh import detect_mesh, mesh_near


@pytest.fixture(scope="module")
def eileen() -> np.ndarray:
    from deepstory_core.portraits import load_portrait

    return load_portrait("builtin:eileen")


def pose(jaw: float = 0.0, upper: float = 0.0, spread: float = 0.0, round_: float = 0.0, tuck: float = 0.0,
         blink: float = 0.0) -> MouthPose:
    return MouthPose(*(np.array([v], np.float32) for v in (jaw, upper, spread, round_, tuck, blink)))


def test_the_transfer_reenacts_the_base_track(eileen, grid_speech):
    """Lips and eyelids of the portrait follow the track's numbers, as the face model sees them."""
    identity = align_face(eileen).image
    lipsync = BuiltinLipSync()
    track = lipsync.track(grid_speech, identity, seed=3)
    driving = np.concatenate(list(lipsync.animate(grid_speech, identity, seed=3)))
    assert track is not None and len(track) == len(driving)
    assert track.mouth.shape == (len(driving), 5) and track.head.shape == (len(driving), 2, 3)
    clips = np.concatenate(list(BuiltinMotionTransfer().transfer(eileen, [driving], track=track)))
    assert clips.shape == (len(driving), 256, 256, 3)
    meshes = [detect_mesh(frame, thorough=False) for frame in clips]
    assert all(mesh is not None for mesh in meshes)
    gap = np.array([F.lip_gap_ratio(mesh) for mesh in meshes])
    assert np.corrcoef(gap, track.mouth[:, 0])[0, 1] >= 0.9, "the lip gap must follow the track's jaw"
    eyes = np.array([np.mean(F.eye_openness(mesh)) for mesh in meshes])
    shut = track.blink >= 0.99
    assert shut.sum() >= 2, "the utterance should hold a blink"
    assert np.all(eyes[shut] < 0.6 * np.median(eyes[track.blink == 0])), "the eyes close where the track shuts them"


def test_track_roundtrip_and_refusal_of_bad_arrays():
    track = FaceTrack(np.arange(10.0).reshape(2, 5), np.array([0.0, 1.0]), np.tile(np.eye(2, 3), (2, 1, 1)))
    back = FaceTrack.from_array(track.to_array())
    assert len(back) == 2 and np.array_equal(back.mouth, track.mouth) and np.array_equal(back.head, track.head)
    for bad in (np.zeros((3, 11)), np.zeros(12), np.full((2, 12), np.nan)):
        with pytest.raises(ValueError):
            FaceTrack.from_array(bad)


class _StillAnimator:
    """A base animator without a track (like SDA): frames only."""

    def animate(self, audio: np.ndarray, identity: np.ndarray, seed: int, phonemes=(), *, style=None
                ) -> Iterator[np.ndarray]:
        yield np.repeat(identity[None], len(audio) // SAMPLES_PER_FRAME, axis=0)


def test_base_stage_leaves_the_track_beside_the_frames(eileen, grid_speech, tmp_path):
    identity = align_face(eileen).image
    audio = grid_speech[: 30 * SAMPLES_PER_FRAME]
    frames_path = tmp_path / "0123456789abcdef.npy"
    base_stage.write_base_frames(frames_path, BuiltinLipSync(), audio, identity, seed=5)
    assert base_stage.track_path(frames_path) == tmp_path / "0123456789abcdef.track.npy"
    track = base_stage.read_track(frames_path, 30)
    assert track is not None and len(track) == 30
    assert base_stage.read_track(frames_path, 31) is None                     # does not fit those frames
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]    # nothing half-written left
    # the same file rewritten by an animator without a track: the old track must not survive it
    base_stage.write_base_frames(frames_path, _StillAnimator(), audio, identity, seed=5)
    assert not base_stage.track_path(frames_path).exists() and base_stage.read_track(frames_path, 30) is None
    # a damaged track is no track (the transfer then measures the motion from the frames)
    base_stage.track_path(frames_path).write_bytes(b"\x93NUMPY garbage")
    assert base_stage.read_track(frames_path, 30) is None


class _RecordingTransfer:
    """Yields the portrait unchanged and records what it was handed (the stage's plumbing, not a face model)."""

    def __init__(self, follows: bool) -> None:
        if follows:
            self.follows_tracks = True
        self.tracks: list[object] = []

    def transfer(self, portrait: np.ndarray, driving: Iterable[np.ndarray], *, full_frame: bool = False,
                 geometry=None, **extra) -> Iterator[np.ndarray]:
        self.tracks.append(extra.get("track"))
        for batch in driving:
            yield np.repeat(cv2.resize(portrait, (256, 256))[None], len(batch), axis=0)


def test_animate_stage_hands_the_track_only_to_a_transfer_that_follows_tracks(eileen, tmp_path):
    base = np.zeros((6, 128, 96, 3), np.uint8)
    track = FaceTrack(np.zeros((6, 5)), np.zeros(6), np.tile(np.eye(2, 3), (6, 1, 1)))
    follows, plain = _RecordingTransfer(True), _RecordingTransfer(False)
    write_animated_clip(tmp_path / "a.mp4", base, follows, eileen, track=track)
    write_animated_clip(tmp_path / "b.mp4", base, plain, eileen, track=track)
    assert follows.tracks == [track] and plain.tracks == [None]


def test_a_turned_face_opens_by_its_true_mouth_width():
    """The cameraman is seen nearly in profile: his mouth looks 9 px wide but is twice that. Its jaw must still
    drop visibly — the lower lip by a good share of the true width, the lip gap the face model reads growing."""
    image = np.ascontiguousarray(np.repeat(data.camera()[:, :, None], 3, axis=2))
    mesh = detect_mesh(image)
    assert mesh is not None
    rig = FaceRig(image, mesh.landmarks)
    assert rig.vertical_unit >= 1.8 * rig.mouth_width
    rest, opened = (mesh_near(rig.render(p)[0], mesh.box) for p in (pose(), pose(jaw=0.3, upper=0.05)))
    assert rest is not None and opened is not None
    drop = float(opened.landmarks[14, 1] - rest.landmarks[14, 1])
    assert drop >= 0.12 * rig.vertical_unit, f"lower lip dropped {drop:.1f} px"
    assert F.lip_gap_ratio(opened) - F.lip_gap_ratio(rest) >= 0.1


def test_a_storys_eyes_are_judged_per_speaker():
    """Two clips: one speaker looks down the whole time (a low eyelid gap), the other blinks once. Judged against
    each clip's own resting level: one blink — not also a 5-second 'closure' of the downcast speaker."""
    down = np.full(125, 0.12)
    open_ = np.full(200, 0.36)
    open_[60:63] = 0.05
    n = len(down) + len(open_)
    series = Q.FrameSeries(jaw_open=[0.0] * n, lip_gap=[0.0] * n, blink=[0.05] * n,
                           eye_open=list(np.concatenate([down, open_])), rest_gap=[0.0] * n)
    minutes = n / 25 / 60
    per_clip = Q.score_series(series, np.zeros(n), clips=[len(down), len(open_)])
    whole = Q.score_series(series, np.zeros(n))
    assert round(per_clip.blinks_per_min * minutes) == 1 and per_clip.eye_flickers == 0
    assert round(whole.blinks_per_min * minutes) == 2          # the downcast clip read as one long closure


def test_stale_track_cannot_describe_new_frames(eileen, grid_speech, tmp_path):
    """A base written again (another seed) gets its own track: the old one is replaced, never mixed."""
    identity = align_face(eileen).image
    audio = grid_speech[: 20 * SAMPLES_PER_FRAME]
    path = Path(tmp_path / "fedcba9876543210.npy")
    base_stage.write_base_frames(path, BuiltinLipSync(), audio, identity, seed=1)
    first = base_stage.read_track(path, 20)
    base_stage.write_base_frames(path, BuiltinLipSync(), audio, identity, seed=2)
    second = base_stage.read_track(path, 20)
    expected = BuiltinLipSync().track(audio, identity, seed=2)
    assert first is not None and second is not None and expected is not None
    assert np.array_equal(second.to_array(), expected.to_array())
    assert not np.array_equal(first.head, second.head)


@pytest.mark.parametrize("portrait", ["eileen", "camera"])
def test_without_a_track_the_jaw_is_measured_from_the_chin(portrait, eileen, grid_speech):
    """A base without a track (SDA's, or one whose track was lost) is measured: the jaw read from the chin's
    outline follows the base's true jaw — frames where teeth appear beside the lips included — on a frontal and a
    nearly profile face."""
    from modules.classic.transfer import _Driving

    image = eileen if portrait == "eileen" else np.ascontiguousarray(np.repeat(data.camera()[:, :, None], 3, axis=2))
    identity = align_face(image).image
    lipsync = BuiltinLipSync()
    truth = lipsync.controls(grid_speech, seed=3)["jaw"]
    driving = np.concatenate(list(lipsync.animate(grid_speech, identity, seed=3)))
    reference = _Driving.from_frame(driving[0])
    measured = np.array([reference.measure(frame)[1][1] for frame in driving])
    assert np.corrcoef(measured, truth)[0, 1] >= 0.95
    opened = truth > 0.15
    assert np.all(measured[opened] > 0.05), "an open mouth read as closed"
    gain = float(np.polyfit(truth, measured, 1)[0])                      # the portrait opens as far as the base
    assert (0.9 <= gain <= 1.1) if portrait == "eileen" else (0.65 <= gain <= 1.3), f"gain {gain:.2f}"


def test_the_track_not_the_pixels_decides(eileen):
    """Still driving frames with a track that opens the jaw halfway through: the portrait opens — the transfer
    follows the track, it does not measure the frames again."""
    identity = align_face(eileen).image
    driving = np.repeat(identity[None], 12, axis=0)
    mouth = np.zeros((12, 5))
    mouth[6:, 0], mouth[6:, 1] = 0.3, 0.05
    track = FaceTrack(mouth, np.zeros(12), np.tile(np.eye(2, 3), (12, 1, 1)))
    with_track = np.concatenate(list(BuiltinMotionTransfer().transfer(eileen, [driving], track=track)))
    measured = np.concatenate(list(BuiltinMotionTransfer().transfer(eileen, [driving])))
    gap = np.array([F.lip_gap_ratio(detect_mesh(frame, thorough=False)) for frame in with_track])
    still = np.array([F.lip_gap_ratio(detect_mesh(frame, thorough=False)) for frame in measured])
    assert gap[6:].min() > gap[:6].max() + 0.1, "the track's jaw drop must open the portrait's mouth"
    assert np.ptp(still) < 0.02, "without the track, still frames give a still mouth"
