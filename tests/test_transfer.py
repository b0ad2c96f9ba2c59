"""Built-in motion transfer and output framing, measured on output pixels with the face model: the portrait's own
lips and jaw follow the base, the inner mouth is drawn at the portrait's resolution, the face keeps its identity,
nothing moves far from the face, a grey portrait stays grey; canvases have no black bars; FOM-style crops paste
back without a seam."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from deepstory_core.stages.animate import CANVAS_SIZES, canvas_size, fit_portrait
from deepstory_kernel.errors import InputError
from deepstory_kernel.media import SAMPLES_PER_FRAME
from modules.classic.lipsync import BuiltinLipSync
from modules.classic.paste import paste_back
from modules.classic.transfer import BuiltinMotionTransfer
from modules.face import features as F
from modules.face.align import align_face, crop_square_256
from modules.face.mesh import detect_mesh


@pytest.fixture(scope="module")
def hopper() -> np.ndarray:
    from deepstory_core.portraits import load_portrait

    return load_portrait("builtin:hopper")


def driving_for(portrait: np.ndarray, audio: np.ndarray, seed: int = 3) -> np.ndarray:
    identity = align_face(portrait).image
    return np.concatenate(list(BuiltinLipSync().animate(audio, identity, seed)))


def gaps(frames: np.ndarray) -> np.ndarray:
    out = []
    for frame in frames:
        mesh = detect_mesh(frame, thorough=False)
        assert mesh is not None
        out.append(F.lip_gap_ratio(mesh))
    return np.array(out)


@pytest.fixture(scope="module")
def hopper_clips(hopper, grid_speech) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    driving = driving_for(hopper, grid_speech)
    batches = [driving[:7], driving[7:32], driving[32:]]                       # uneven batches
    clips = np.concatenate(list(BuiltinMotionTransfer().transfer(hopper, batches)))
    full = np.concatenate(list(BuiltinMotionTransfer().transfer(hopper, batches, full_frame=True)))
    return driving, clips, full


def test_portrait_lips_follow_the_base(hopper_clips):
    driving, clips, _ = hopper_clips
    assert clips.shape == (len(driving), 256, 256, 3) and clips.dtype == np.uint8
    d, c = gaps(driving[::2]), gaps(clips[::2])
    assert np.corrcoef(d, c)[0, 1] >= 0.7, "the portrait's lip gap must follow the base's"
    assert c.max() >= 0.1 and np.percentile(c, 10) <= 0.03               # opens wide, and closes


def test_full_frame_at_portrait_resolution_keeps_identity_and_background(hopper, hopper_clips):
    driving, _, full = hopper_clips
    assert full.shape == (len(driving), *hopper.shape)
    # the face keeps its identity outside mouth and eyes (frame of greatest opening)
    g = gaps(full[::3])
    frame = full[3 * int(np.argmax(g))]
    from deepstory_core import quality as Q
    from modules.face.mesh import default_landmarker

    ref = Q.IdentityReference.of(hopper, default_landmarker())
    assert ref is not None
    scores = [Q.identity_and_seam(f, detect_mesh(f), ref) for f in (frame, full[len(full) // 2], full[-1])]
    ssim = np.array([s[0] for s in scores if s is not None])
    assert len(ssim) == 3 and ssim.min() >= 0.95, f"identity SSIM outside mouth and eyes {ssim}"


def test_far_from_the_head_nothing_changes(grid_speech):
    """A small face in a big picture: outside the head and its surroundings the frames equal the portrait bit for
    bit (the head's motion fades out well before)."""
    portrait = data.astronaut()
    driving = driving_for(portrait, grid_speech)
    out = np.concatenate(list(BuiltinMotionTransfer().transfer(portrait, [driving], full_frame=True)))
    found = detect_mesh(portrait)
    assert found is not None
    x, y, w, h = (int(v) for v in found.box)
    diff = np.abs(out.astype(np.int16) - portrait.astype(np.int16)).max(axis=(0, 3))
    far = np.ones(diff.shape, bool)
    far[max(0, y - 2 * h):y + 3 * h, max(0, x - 2 * w):x + 3 * w] = False
    assert far.sum() > 0.3 * far.size and diff[far].max() == 0
    assert diff[y:y + h, x:x + w].max() > 40                             # the face did move


def test_inner_mouth_drawn_at_portrait_resolution(hopper, hopper_clips):
    """The open mouth of the full-resolution result has a dark cavity and light teeth with crisp edges — not an
    upscaled 128×96 patch."""
    _, _, full = hopper_clips
    g = gaps(full[::3])
    frame = full[3 * int(np.argmax(g))]
    mesh = detect_mesh(frame)
    assert mesh is not None
    inner = F.region_mask(mesh, (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178,
                                 88, 95), frame.shape[:2]) > 0
    luma = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    inside = luma[inner]
    assert np.percentile(inside, 10) < 50, "no dark cavity"
    assert np.percentile(inside, 95) > 140, "no teeth"
    edges = np.abs(np.diff(luma, axis=0))[inner[:-1]]
    scale = mesh.face_size / 37.0                                          # × the base's face size
    assert scale > 2.0 and np.percentile(edges, 98) > 40, "the teeth edge should be sharp at this resolution"


def test_a_grey_portrait_stays_grey(hopper, grid_speech):
    grey = np.repeat(cv2.cvtColor(hopper, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    driving = driving_for(grey, grid_speech[: 40 * SAMPLES_PER_FRAME])
    out = np.concatenate(list(BuiltinMotionTransfer().transfer(grey, [driving], full_frame=True)))
    spread = out.astype(np.int16).max(axis=3) - out.astype(np.int16).min(axis=3)
    assert spread.max() <= 2


def test_single_frames_and_grey_driving(hopper, grid_speech):
    """A base of any kind works: 3-D batches (one frame) and greyscale frames are accepted; count preserved."""
    frames = driving_for(hopper, grid_speech[: 3 * SAMPLES_PER_FRAME])
    grey = frames.mean(axis=3).astype(np.uint8)
    out = list(BuiltinMotionTransfer().transfer(hopper, [frames[0], grey[1:]]))
    assert [b.shape[0] for b in out] == [1, 2]


def test_a_portrait_without_a_face_is_refused_clearly(grid_speech, hopper):
    frames = driving_for(hopper, grid_speech[: 2 * SAMPLES_PER_FRAME])
    wall = np.full((300, 300, 3), 128, np.uint8)
    with pytest.raises(InputError, match="[Nn]o face"):
        list(BuiltinMotionTransfer().transfer(wall, [frames], full_frame=True))


@pytest.mark.parametrize("canvas", sorted(CANVAS_SIZES))
def test_portraits_fit_the_canvas_without_black_bars(canvas):
    size = canvas_size(canvas)
    for portrait in (data.astronaut()[:400, 96:416], data.astronaut()[100:300], data.coffee()):
        fitted, fit = fit_portrait(portrait, size)
        assert fit.background.shape == (size[1], size[0], 3)
        assert max(fitted.shape[1] / size[0], fitted.shape[0] / size[1]) == pytest.approx(1.0, abs=0.01)  # whole, as large as fits
        frame = fit.compose(fitted[None])[0]
        assert frame.shape == (size[1], size[0], 3)
        left, top = fit.offset
        w, h = fit.fitted
        assert np.array_equal(frame[top:top + h, left:left + w], fitted)
        bars = [frame[:, :left], frame[:, left + w:], frame[:top], frame[top + h:]]
        for bar in (b for b in bars if b.size):
            # filled with the blurred portrait: about as bright as the picture (dimmed), not a flat black band
            assert bar.mean() > 0.3 * portrait.mean() and bar.std() > 1.0, "black bars"
    with pytest.raises(InputError, match="canvas"):
        canvas_size("4k")


def test_face_crops_paste_back_without_a_seam():
    """FOM animates a 256² crop; pasted back, a crop that differs from the portrait fades in over a wide rim."""
    portrait = data.astronaut()
    crop = crop_square_256(portrait)
    out = next(paste_back(portrait, [crop.image[None]], crop.matrix))[0]
    assert np.percentile(np.abs(out.astype(np.int16) - portrait.astype(np.int16)), 99) <= 12   # back in place
    flat = np.full((300, 400, 3), 100, np.uint8)
    to_crop = np.array([[1.2, 0.1, -60.0], [-0.1, 1.2, -20.0]])
    brighter = np.full((1, 256, 256, 3), 140, np.uint8)
    change = next(paste_back(flat, [brighter], to_crop))[0].astype(np.float32).mean(axis=2) - 100
    centre = np.array([128.0, 128.0]) @ np.linalg.inv(to_crop[:, :2]).T - np.linalg.inv(to_crop[:, :2]) @ to_crop[:, 2]
    assert change[int(centre[1]), int(centre[0])] == pytest.approx(40, abs=1)     # pasted
    assert change[0, 0] == 0 and change[-1, -1] == 0                              # outside untouched
    step = max(np.abs(np.diff(change, axis=0)).max(), np.abs(np.diff(change, axis=1)).max())
    assert step < 2.5, "the pasted crop's edge shows"                          # 40 levels over a feathered rim
