"""Built-in portraits: made from images shipped in scikit-image, stored atomically, faces findable; uploads load."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from deepstory_kernel.errors import InputError


@pytest.fixture()
def portraits(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPSTORY_PORTRAITS_DIR", str(tmp_path / "portraits"))
    import deepstory_core.portraits as module
    return module


def test_builtin_portraits_are_prepared_and_distinct(portraits, tmp_path):
    infos = portraits.builtin_portraits()
    assert len(infos) >= 2 and len({i.id for i in infos}) == len(infos)
    from modules.face import canonical
    from modules.face.align import align_face, analyze_portrait
    from modules.face.mouth import locate_mouth

    images = []
    for info in infos:
        assert info.path.parent == tmp_path / "portraits" and info.path.is_file() and info.label
        img = portraits.load_portrait(f"builtin:{info.id}")
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3 and min(img.shape[:2]) >= 256
        geometry = analyze_portrait(img)
        assert geometry.eye_distance > 30
        assert "not found" not in (geometry.notice or ""), geometry.notice    # eyes detected, not guessed
        aligned = align_face(img, geometry).image
        for eye in (canonical.LEFT_EYE, canonical.RIGHT_EYE):      # the pupils land on the canonical eyes
            assert np.hypot(*np.subtract(_darkest_near(aligned, eye), eye)) <= 3.5, (info.id, eye)
        assert 74 <= locate_mouth(aligned)[1] <= 98, info.id
        images.append(cv2.resize(img, (64, 64)).astype(np.float32))
    assert {"eileen", "hopper"} <= {i.id for i in infos}       # two different people (astronaut, Grace Hopper)
    assert np.abs(images[0] - images[1]).mean() > 20          # not the same picture twice
    assert not list((tmp_path / "portraits").glob(".*"))     # no temp files left behind


def _darkest_near(aligned: np.ndarray, point: tuple[float, float]) -> tuple[int, int]:
    """(x, y) of the darkest (blurred) pixel within ±7×±5 px of `point`: the pupil when the eye is there."""
    gray = cv2.GaussianBlur(cv2.cvtColor(aligned, cv2.COLOR_RGB2GRAY).astype(np.float32), (0, 0), 1.0)
    x0, y0 = int(point[0] - 7), int(point[1] - 5)
    patch = gray[y0:y0 + 11, x0:x0 + 15]
    y, x = np.unravel_index(int(np.argmin(patch)), patch.shape)
    return x0 + int(x), y0 + int(y)


def test_load_upload_and_errors(portraits, tmp_path):
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    rgba = np.zeros((40, 30, 4), np.uint8)
    rgba[..., 2] = 200
    rgba[..., 3] = 255
    cv2.imwrite(str(uploads / "me.png"), rgba)
    img = portraits.load_portrait("me.png", uploads)
    assert img.shape == (40, 30, 3) and tuple(img[0, 0]) == (200, 0, 0)   # BGR file → RGB
    (uploads / "broken.jpg").write_bytes(b"not an image")
    with pytest.raises(InputError, match="not a readable image"):
        portraits.load_portrait("broken.jpg", uploads)
    with pytest.raises(InputError, match="does not exist"):
        portraits.load_portrait("missing.png", uploads)
    with pytest.raises(InputError, match="no built-in portrait"):
        portraits.load_portrait("builtin:nobody")
