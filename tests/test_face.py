"""Face geometry: Haar detection on real faces in hard conditions, alignment onto the canonical 128×96 frame."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from skimage import data

from deepstory_kernel.errors import InputError
from modules.face import canonical
from modules.face.align import (
    CLIP_EYE_DISTANCE,
    align_face,
    aligned_matrix,
    analyze_portrait,
    crop_square_256,
    geometry_from_box,
)
from modules.face.landmarks import detect_landmarks, weights_cached

ASTRONAUT_BOX = (177, 67, 93, 93)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return data.astronaut()


@pytest.fixture(scope="module")
def grid_face(samples_dir) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(samples_dir / "grid" / "face_aligned_128x96.bmp")), cv2.COLOR_BGR2RGB)


def _centre(box):
    return box[0] + box[2] / 2, box[1] + box[3] / 2


def _assert_astronaut_face(geometry, scale=1.0, offset=(0.0, 0.0)):
    cx, cy = _centre(geometry.box)
    ex, ey = _centre(ASTRONAUT_BOX)
    assert abs(cx - (ex * scale + offset[0])) < 12 * scale and abs(cy - (ey * scale + offset[1])) < 12 * scale
    assert 0.7 < geometry.box[2] / (ASTRONAUT_BOX[2] * scale) < 1.4
    assert 30 * scale < geometry.eye_distance < 60 * scale


@pytest.mark.parametrize("detectors", [("mediapipe",), ("face-alignment", "haar")])
def test_astronaut_face_and_eyes(astronaut, detectors):
    """The face model, and the fallbacks on their own: the same face and eyes."""
    g = analyze_portrait(astronaut, detectors=detectors)
    _assert_astronaut_face(g)
    assert g.method == "mediapipe" if detectors == ("mediapipe",) else g.method in ("haar", "face-alignment")
    assert g.left_eye[0] < g.right_eye[0]
    # both eyes inside the upper half of the face box
    for x, y in (g.left_eye, g.right_eye):
        assert g.box[0] < x < g.box[0] + g.box[2] and g.box[1] < y < g.box[1] + 0.6 * g.box[3]
    if g.method == "haar" and not weights_cached():
        assert g.notice and "face-alignment" in g.notice
    if g.method == "mediapipe":
        assert g.landmarks is not None and g.landmarks.shape == (68, 2) and g.mesh is not None
        assert g.notice is None and g.candidates == (g.box,)


def test_grid_face_eyes_land_on_canonical_points(grid_face):
    big = cv2.resize(grid_face, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    g = analyze_portrait(big)
    for found, expected in ((g.left_eye, canonical.LEFT_EYE), (g.right_eye, canonical.RIGHT_EYE)):
        assert math.dist((found[0] / 4, found[1] / 4), expected) < 2.0


def test_already_aligned_face_is_used_as_is(grid_face):
    g = analyze_portrait(grid_face)
    assert g.method == "aligned"
    aligned = align_face(grid_face)
    assert np.array_equal(aligned.image, grid_face)


def test_alignment_undoes_rotation_and_scale(grid_face):
    """A GRID face enlarged 3.5×, tilted 15° and placed in a bigger photo aligns back onto the canonical points."""
    s, angle = 3.5, 15.0
    src = cv2.copyMakeBorder(grid_face, 40, 40, 60, 60, cv2.BORDER_REPLICATE)
    m = cv2.getRotationMatrix2D((src.shape[1] / 2, src.shape[0] / 2), angle, s)
    m[:, 2] += (700 - src.shape[1]) / 2, (700 - src.shape[0]) / 2
    photo = cv2.warpAffine(src, m, (700, 700), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    true_eyes = np.array([[canonical.LEFT_EYE[0] + 60, canonical.LEFT_EYE[1] + 40],
                          [canonical.RIGHT_EYE[0] + 60, canonical.RIGHT_EYE[1] + 40]]) @ m[:, :2].T + m[:, 2]
    g = analyze_portrait(photo)
    to_aligned = aligned_matrix(g)
    mapped = true_eyes @ to_aligned[:, :2].T + to_aligned[:, 2]
    assert math.dist(mapped[0], canonical.LEFT_EYE) < 3.0
    assert math.dist(mapped[1], canonical.RIGHT_EYE) < 3.0
    aligned = align_face(photo, g).image
    assert aligned.shape == (128, 96, 3) and aligned.dtype == np.uint8
    centre = (slice(30, 110), slice(20, 76))
    assert np.abs(aligned[centre].astype(float) - grid_face[centre]).mean() < 14


@pytest.mark.parametrize("angle", [-20.0, 20.0])
def test_tilted_faces(astronaut, angle):
    m = cv2.getRotationMatrix2D((256, 256), angle, 1.0)
    rotated = cv2.warpAffine(astronaut, m, (512, 512), borderMode=cv2.BORDER_REFLECT)
    g = analyze_portrait(rotated)
    true_centre = m[:, :2] @ np.array(_centre(ASTRONAUT_BOX)) + m[:, 2]
    assert math.dist(_centre(g.box), true_centre) < 15
    tilt = math.degrees(math.atan2(g.right_eye[1] - g.left_eye[1], g.right_eye[0] - g.left_eye[0]))
    # the eye line follows the rotation (cv2 angles are counter-clockwise, image y points down)
    assert abs(tilt - (-angle + 1.5)) < 7


def test_small_face(astronaut):
    small = cv2.resize(astronaut, (160, 160), interpolation=cv2.INTER_AREA)    # face ≈ 29 px wide
    _assert_astronaut_face(analyze_portrait(small), scale=160 / 512)


def test_large_face(astronaut):
    crop = astronaut[40:200, 150:300]
    large = cv2.resize(crop, None, fx=5, fy=5, interpolation=cv2.INTER_CUBIC)  # face ≈ 465 px wide
    _assert_astronaut_face(analyze_portrait(large), scale=5, offset=(-150 * 5, -40 * 5))


def test_4000_px_wide_input(astronaut):
    huge = cv2.resize(astronaut, (4000, 4000), interpolation=cv2.INTER_LINEAR)
    s = 4000 / 512
    g = analyze_portrait(huge)
    _assert_astronaut_face(g, scale=s)
    aligned = align_face(huge, g)
    assert aligned.image.shape == (128, 96, 3)
    ref = align_face(astronaut).image
    assert np.abs(aligned.image.astype(float) - ref).mean() < 10


def test_grayscale_and_rgba(astronaut):
    gray = cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY)
    _assert_astronaut_face(analyze_portrait(gray))
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
    _assert_astronaut_face(analyze_portrait(rgba))
    assert align_face(gray).image.shape == (128, 96, 3)


def test_no_face_gives_clear_message():
    with pytest.raises(InputError) as err:
        analyze_portrait(data.coffee())
    msg = str(err.value)
    assert msg.startswith("No face found in the portrait (600×400 px).")
    assert "at least" in msg and "place the face manually" in msg


def test_manual_box_and_clip_framing(astronaut):
    g = geometry_from_box(astronaut, ASTRONAUT_BOX)
    assert g.method == "manual"
    auto = analyze_portrait(astronaut)
    assert math.dist(g.left_eye, auto.left_eye) < 8 and math.dist(g.right_eye, auto.right_eye) < 8
    clip = crop_square_256(astronaut, auto)
    assert clip.image.shape == (256, 256, 3)
    eyes = np.array([auto.left_eye, auto.right_eye]) @ clip.matrix[:, :2].T + clip.matrix[:, 2]
    assert abs(np.linalg.norm(eyes[1] - eyes[0]) - CLIP_EYE_DISTANCE) < 1e-6
    assert abs(eyes.mean(0)[0] - 128) < 1e-6
    with pytest.raises(InputError):
        geometry_from_box(astronaut, (10, 10, 3, 3))


def test_landmarks_never_load_without_cached_weights(tmp_path, monkeypatch, astronaut):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    import modules.face.landmarks as lm
    assert not lm.weights_cached()
    assert lm.load_model("cpu") is None
    assert detect_landmarks(astronaut) is None


def test_landmark_geometry_aligns_through_eyes_nose_and_mouth():
    """With face-alignment's 68 points (here placed by a known similarity), the fit recovers that similarity."""
    from modules.face.align import _geometry_from_landmarks

    canon = np.zeros((68, 2))
    canon[36:42] = canonical.LEFT_EYE
    canon[42:48] = canonical.RIGHT_EYE
    canon[30] = canonical.NOSE_TIP
    canon[48] = canonical.MOUTH_LEFT
    canon[54] = canonical.MOUTH_RIGHT
    canon[0:17] = np.linspace((10, 40), (86, 40), 17)     # jaw line, only used for the box
    angle, scale, shift = math.radians(12), 4.0, np.array([300.0, 150.0])
    rot = scale * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    pts = canon @ rot.T + shift
    g = _geometry_from_landmarks((800, 800), pts.astype(np.float32))
    assert g.method == "face-alignment" and g.notice is None
    m = aligned_matrix(g)
    back = pts[[36, 42, 30, 48, 54]] @ m[:, :2].T + m[:, 2]
    assert np.abs(back - canon[[36, 42, 30, 48, 54]]).max() < 0.01


def test_small_face_in_a_big_photo(astronaut):
    """A 93 px face in a 1600 px photo with a flat surround: found when shrunk, eyes found again at full size."""
    canvas = np.full((1600, 1600, 3), 200, np.uint8)
    canvas[500:1012, 500:1012] = astronaut
    g = analyze_portrait(canvas)
    _assert_astronaut_face(g, offset=(500, 500))
    ref = analyze_portrait(astronaut)
    assert math.dist(g.left_eye, (ref.left_eye[0] + 500, ref.left_eye[1] + 500)) < 4
    assert math.dist(g.right_eye, (ref.right_eye[0] + 500, ref.right_eye[1] + 500)) < 4
