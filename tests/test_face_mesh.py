"""The MediaPipe face model on real photographs that ship in installed packages (no mocks of the model)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from modules.face import features
from modules.face import mesh as M
from modules.face.mesh import FaceLandmarker, detect_mesh, detect_meshes


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return np.ascontiguousarray(data.astronaut())


def test_mesh_on_astronaut(landmarker, astronaut):
    mesh = detect_mesh(astronaut, landmarker)
    assert mesh is not None and mesh.source == "mediapipe"
    assert mesh.landmarks.shape == (M.NUM_LANDMARKS, 3)
    assert len(mesh.blendshapes) == 52 and "jawOpen" in mesh.blendshapes
    x, y, w, h = mesh.box
    assert 160 < x < 200 and 55 < y < 95 and 70 < w < 110        # Eileen Collins' face in skimage's photo
    # image-left eye is left of the image-right eye, both above the nose, nose above the mouth, mouth above chin
    assert mesh.left_eye[0] < mesh.point(M.NOSE_TIP)[0] < mesh.right_eye[0]
    assert mesh.left_eye[1] < mesh.point(M.NOSE_TIP)[1] < mesh.point(M.INNER_LIP_TOP)[1] < mesh.point(M.CHIN)[1]
    assert mesh.point(M.RIGHT_EYE_OUTER)[0] < mesh.left_eye[0] < mesh.point(M.RIGHT_EYE_INNER)[0]
    # a nearly closed mouth (a smile shows a little of the teeth) and open eyes
    assert features.lip_gap_ratio(mesh) < 0.15 and mesh.blendshape("jawOpen") < 0.2
    assert all(0.15 < o < 0.6 for o in features.eye_openness(mesh))


def test_moved_mesh_follows_the_transform(landmarker, astronaut):
    mesh = detect_mesh(astronaut, landmarker)
    assert mesh is not None
    m = np.array([[0.5, 0.0, 10.0], [0.0, 0.5, -4.0]])
    half = mesh.moved(m, (256, 256))
    assert np.allclose(half.points, mesh.points * 0.5 + [10.0, -4.0], atol=1e-3)
    assert abs(half.face_size - mesh.face_size / 2) < 1e-3


def test_closed_landmarker_refuses(astronaut):
    model = FaceLandmarker()
    model.close()
    model.close()   # idempotent
    with pytest.raises(RuntimeError):
        model.detect(astronaut)


def test_face_off_centre_in_a_wide_picture_found_by_tiles(landmarker, astronaut):
    """A 93 px face in a 1500×900 picture is too small for one pass; the tiles find it, mapped back to pixels."""
    canvas = cv2.resize(astronaut, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    wide = np.pad(canvas, ((500, 144), (1150, 94), (0, 0)), mode="edge")
    meshes = detect_meshes(wide, landmarker)
    assert len(meshes) == 1
    x, y, w, h = meshes[0].box
    assert abs(x - (1150 + 90)) < 12 and abs(y - (500 + 36)) < 12


def test_no_face_in_a_photo_without_people(landmarker):
    assert detect_meshes(np.ascontiguousarray(data.coffee()), landmarker) == []
