"""Built-in motion transfer, measured on output pixels: the portrait follows the driving mouth, the background
stays still, shapes and frame counts hold, and the full-resolution paste-back leaves everything else untouched."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from modules.classic.transfer import BuiltinMotionTransfer
from modules.face import canonical
from modules.face.align import aligned_matrix, analyze_portrait, crop_square_256


def talking_sequence(face: np.ndarray, openings: np.ndarray) -> np.ndarray:
    """The GRID face with its mouth opened by `opening` (0..1) per frame: lower lip and jaw pulled down smoothly,
    a dark cavity between the lips — a stand-in for any base video."""
    h, w = face.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = canonical.MOUTH_CENTER
    below = np.clip((yy - cy + 2) / 6.0, 0, 1)
    fall = np.exp(-(((xx - cx) / 20.0) ** 2)) * np.clip(1 - (yy - cy) / 40.0, 0, 1)
    frames = []
    for o in map(float, openings):
        drop = 7.0 * o
        out = cv2.remap(face, xx, (yy - drop * below * fall).astype(np.float32), cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        cavity = np.exp(-(((xx - cx) / (11.0 + 2 * o)) ** 2) - (((yy - cy - drop / 2 - 0.5) / max(0.6, drop / 2)) ** 2))
        cavity = (cavity * min(1.0, 2 * o))[:, :, None]
        out = out * (1 - cavity) + np.array([40, 15, 20], np.float32) * cavity
        frames.append(np.clip(out + 0.5, 0, 255).astype(np.uint8))
    return np.stack(frames)


@pytest.fixture(scope="module")
def grid_face(samples_dir) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(samples_dir / "grid" / "face_aligned_128x96.bmp")), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def openings() -> np.ndarray:
    rng = np.random.default_rng(7)
    syllables = np.clip(np.sin(np.arange(60) / 2.3) + 0.3 * rng.standard_normal(60), 0, 1)
    syllables[:8] = 0          # leading silence: the first driving frame is the closed mouth
    return syllables


def _mouth_motion(frames: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x, y, w, h = box
    region = frames[:, y:y + h, x:x + w].astype(np.float32).mean(axis=3)
    return np.abs(region - region[0]).mean(axis=(1, 2))


def _clip_box(matrix: np.ndarray, box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    x, y, w, h = box
    pts = np.array([[x, y], [x + w, y + h]]) @ matrix[:, :2].T + matrix[:, 2]
    (x0, y0), (x1, y1) = np.floor(pts.min(0)).astype(int), np.ceil(pts.max(0)).astype(int)
    return max(0, x0), max(0, y0), x1 - max(0, x0), y1 - max(0, y0)


def _check_transfer(portrait: np.ndarray, driving: np.ndarray) -> None:
    geometry = analyze_portrait(portrait)
    batches = [driving[:7], driving[7:32], driving[32:]]                       # uneven batches
    out = np.concatenate(list(BuiltinMotionTransfer().transfer(portrait, batches)))
    assert out.shape == (len(driving), 256, 256, 3) and out.dtype == np.uint8

    # mouth: the canonical mouth box mapped into the clip through both alignments
    clip = crop_square_256(portrait, geometry)
    aligned_to_clip = (np.vstack([clip.matrix, [0, 0, 1]]) @ np.vstack([cv2.invertAffineTransform(
        aligned_matrix(geometry)), [0, 0, 1]]))[:2]
    driving_motion = _mouth_motion(driving, canonical.MOUTH_BOX)
    portrait_motion = _mouth_motion(out, _clip_box(aligned_to_clip, canonical.MOUTH_BOX))
    r = np.corrcoef(driving_motion, portrait_motion)[0, 1]
    assert r >= 0.6, f"mouth motion correlation {r:.2f}"
    assert portrait_motion.max() > 3.0                                           # it visibly moves

    # outside the face box nothing swims
    x, y, w, h = _clip_box(clip.matrix, geometry.box)
    outside = np.ones((256, 256), bool)
    outside[y:y + h, x:x + w] = False
    change = np.abs(out.astype(np.float32).mean(axis=3) - clip.image.astype(np.float32).mean(axis=2))
    assert change[:, outside].mean() < 2.0


def test_transfer_follows_synthetic_talking_grid_face(grid_face, openings):
    _check_transfer(data.astronaut(), talking_sequence(grid_face, openings))


def test_transfer_of_builtin_lipsync_on_real_speech(samples_dir):
    from scipy.io import wavfile
    from scipy.signal import resample_poly

    from modules.classic import lipsync
    from modules.face.align import align_face

    rate, pcm = wavfile.read(samples_dir / "grid" / "utterance_50khz.wav")
    audio = resample_poly(pcm.astype(np.float32) / 32768.0, 441, 1000 * rate // 50000).astype(np.float32)
    audio = audio[: len(audio) // 882 * 882]
    portrait = data.astronaut()
    identity = align_face(portrait).image
    driving = np.concatenate(list(lipsync.BuiltinLipSync().animate(audio, identity, 3)))
    _check_transfer(portrait, driving)


def test_full_frame_keeps_background_untouched(grid_face, openings):
    portrait = cv2.resize(data.astronaut(), (700, 700), interpolation=cv2.INTER_CUBIC)
    driving = talking_sequence(grid_face, openings[:20])
    geometry = analyze_portrait(portrait)
    out = np.concatenate(list(BuiltinMotionTransfer().transfer(portrait, [driving[:9], driving[9:]], full_frame=True)))
    assert out.shape == (20, 700, 700, 3)
    diff = np.abs(out.astype(np.int16) - portrait.astype(np.int16)).max(axis=(0, 3))
    x, y, w, h = (int(v) for v in geometry.box)
    pad = int(0.6 * w)
    far = np.ones(diff.shape, bool)
    far[max(0, y - pad):y + h + pad, max(0, x - pad):x + w + pad] = False
    assert diff[far].max() == 0                                   # background bit-for-bit identical
    assert diff[y:y + h, x:x + w].max() > 20                      # the face did move
    # no seam: the change fades out before the untouched area (the ring around the face barely changes)
    ring = ~far
    ring[max(0, y - pad // 3):y + h + pad // 3, max(0, x - pad // 3):x + w + pad // 3] = False
    assert diff[ring].mean() < 1.0


def test_single_frames_and_grey_driving(grid_face):
    """A base of any kind works: 3-D batches (one frame) and greyscale frames are accepted; count preserved."""
    frames = talking_sequence(grid_face, np.array([0.0, 0.5, 1.0]))
    grey = frames.mean(axis=3).astype(np.uint8)
    out = list(BuiltinMotionTransfer(flow_preset="ultrafast").transfer(data.astronaut(), [frames[0], grey[1:]]))
    assert [b.shape[0] for b in out] == [1, 2]
