"""Every portrait of the real-photo test set is found by the face model (tilted ±30°, eyes down, glasses, 112 px
face, greyscale, a group); a photo without a face gets the clear message and manual placement still works."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from deepstory_kernel.errors import InputError
from modules.face.align import align_face, analyze_portrait, geometry_from_box
from modules.face.mesh import detect_meshes

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from face_photos import ONE_FACE, astronaut, group, no_face_photos


@pytest.mark.parametrize("name", sorted(ONE_FACE))
def test_one_visible_face_is_found(landmarker, name):
    image = ONE_FACE[name][0]()
    g = analyze_portrait(image, landmarker)
    assert g.method == "mediapipe" and g.method_label == "MediaPipe face model"
    assert len(g.candidates) == 1, g.candidates
    assert g.landmarks is not None and g.landmarks.shape == (68, 2)
    # eyes inside the face box, left of right, about a third of the box apart
    x, y, w, h = g.box
    for ex, ey in (g.left_eye, g.right_eye):
        assert x < ex < x + w and y < ey < y + 0.7 * h
    assert g.left_eye[0] < g.right_eye[0] or "tilt" in name
    assert 0.2 * w < g.eye_distance < 0.7 * w
    aligned = align_face(image, g)
    assert aligned.image.shape == (128, 96, 3)
    # the built-in lip-sync rigs the face on the aligned identity: the face model must find it there too
    assert detect_meshes(aligned.image, landmarker), f"no face in the aligned 128×96 identity of {name}"


def test_tilt_is_measured(landmarker):
    """The eye line of a photo turned by ±30° follows the turn (cv2 angles are counter-clockwise)."""
    for name, sign in (("astronaut-tilt+30", -1), ("astronaut-tilt-30", 1)):
        g = analyze_portrait(ONE_FACE[name][0](), landmarker)
        tilt = math.degrees(math.atan2(g.right_eye[1] - g.left_eye[1], g.right_eye[0] - g.left_eye[0]))
        assert abs(tilt - sign * 30) < 8, (name, tilt)


def test_group_photo_gives_the_largest_face_and_every_candidate(landmarker):
    g = analyze_portrait(group(), landmarker)
    assert len(g.candidates) == 3
    assert g.box == g.candidates[0]
    assert 512 < g.box[0] + g.box[2] / 2 < 1024            # Grace Hopper's, in the middle photo
    # picking another face: the user's box around the astronaut
    ax, ay, aw, ah = next(c for c in g.candidates if c[0] + c[2] / 2 < 512)
    picked = geometry_from_box(group(), (ax - 10, ay - 10, aw + 20, ah + 20), landmarker)
    assert picked.method == "manual" and picked.mesh is not None
    assert picked.mesh.box[0] + picked.mesh.box[2] / 2 < 512


@pytest.mark.parametrize("name", ["coffee", "rocket"])
def test_no_face_message_and_manual_placement(landmarker, name):
    image = no_face_photos()[name]
    with pytest.raises(InputError) as err:
        analyze_portrait(image, landmarker)
    msg = str(err.value)
    assert msg.startswith("No face found in the portrait") and "place the face manually" in msg
    h, w = image.shape[:2]
    placed = geometry_from_box(image, (w * 0.3, h * 0.2, w * 0.4, h * 0.4), landmarker)
    assert placed.method == "manual" and placed.mesh is None
    assert align_face(image, placed).image.shape == (128, 96, 3)


def test_manual_box_on_a_face_uses_the_mesh(landmarker):
    auto = analyze_portrait(astronaut(), landmarker)
    placed = geometry_from_box(astronaut(), (170, 60, 110, 125), landmarker)
    assert placed.method == "manual" and placed.landmarks is not None
    assert math.dist(placed.left_eye, auto.left_eye) < 2 and math.dist(placed.right_eye, auto.right_eye) < 2
    assert np.allclose(placed.box, (170, 60, 110, 125))
