"""The built-in lip-sync base, measured on its output pixels with the real GRID speech and face."""

from __future__ import annotations

import inspect

import cv2
import numpy as np
import pytest
import scipy.io.wavfile
from scipy.ndimage import median_filter
from scipy.signal import resample_poly
from skimage.metrics import structural_similarity

from deepstory_kernel.contracts import PhonemeEvent
from deepstory_kernel.errors import InputError
from deepstory_kernel.media import SAMPLE_RATE, SAMPLES_PER_FRAME
from modules.classic.lipsync import BuiltinLipSync
from modules.face import canonical as C

MOUTH_BOX = (int(C.MOUTH_CENTER[1] - 8), int(C.CHIN[1]), int(C.MOUTH_LEFT[0] - 6), int(C.MOUTH_RIGHT[0] + 7))
UPPER_FACE_BOX = (0, int(max(C.LEFT_EYE[1], C.RIGHT_EYE[1]) + 7), 8, 88)   # forehead, brows and eyes
EYE_BOXES = [(int(y - 6), int(y + 6), int(x - 10), int(x + 10)) for x, y in (C.LEFT_EYE, C.RIGHT_EYE)]


@pytest.fixture(scope="module")
def speech(samples_dir) -> np.ndarray:
    rate, data = scipy.io.wavfile.read(samples_dir / "grid" / "utterance_50khz.wav")
    audio = resample_poly(data.astype(np.float32) / 32768.0, SAMPLE_RATE, rate).astype(np.float32)
    return np.pad(audio, (0, (-len(audio)) % SAMPLES_PER_FRAME))


@pytest.fixture(scope="module")
def face(samples_dir) -> np.ndarray:
    bgr = cv2.imread(str(samples_dir / "grid" / "face_aligned_128x96.bmp"))
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def talking(speech, face) -> np.ndarray:
    return render(speech, face, seed=3)


def render(audio: np.ndarray, face: np.ndarray, seed: int, phonemes=(), batch_size: int = 64) -> np.ndarray:
    batches = list(BuiltinLipSync(batch_size=batch_size).animate(audio, face, seed, phonemes))
    return np.concatenate(batches) if batches else np.zeros((0, 128, 96, 3), np.uint8)


def box(frames: np.ndarray, b: tuple[int, int, int, int]) -> np.ndarray:
    y0, y1, x0, x1 = b
    return frames[..., y0:y1, x0:x1, :].astype(np.float32)


def frame_rms(audio: np.ndarray) -> np.ndarray:
    frames = audio.reshape(-1, SAMPLES_PER_FRAME).astype(np.float64)
    return np.sqrt((frames ** 2).mean(axis=1))


def mouth_change(frames: np.ndarray) -> np.ndarray:
    mouth = box(frames, MOUTH_BOX)
    return np.abs(mouth - mouth[:1]).mean(axis=(1, 2, 3))


def eye_change(frames: np.ndarray, face: np.ndarray) -> np.ndarray:
    return np.max([np.abs(box(frames, b) - box(face, b)).mean(axis=(1, 2, 3)) for b in EYE_BOXES], axis=0)


def blink_score(frames: np.ndarray, face: np.ndarray) -> np.ndarray:
    """Eye-region change above its local (±6 frames) median: a blink is brief, head motion is slow."""
    change = eye_change(frames, face)
    return change - median_filter(change, size=13, mode="nearest")


def blink_runs(frames: np.ndarray, face: np.ndarray, threshold: float = 3.0) -> list[tuple[int, int]]:
    """(first, last) frame of each run where an eye region departs briefly and strongly from the identity."""
    closed = blink_score(frames, face) > threshold
    runs, start = [], None
    for i, c in enumerate(closed.tolist() + [False]):
        if c and start is None:
            start = i
        elif not c and start is not None:
            runs.append((start, i - 1))
            start = None
    return runs


def speech_span(audio: np.ndarray) -> tuple[int, int]:
    rms = frame_rms(audio)
    loud = np.flatnonzero(rms > 0.1 * rms.max())
    return int(loud[0]), int(loud[-1])


def test_mouth_motion_follows_loudness(speech, talking):
    change = mouth_change(talking)
    rms = frame_rms(speech)
    r = float(np.corrcoef(change, rms)[0, 1])
    assert r >= 0.6, f"mouth change vs RMS envelope: Pearson r = {r:.3f}"


def test_mouth_stays_closed_in_silence(speech, talking):
    change = mouth_change(talking)
    first, last = speech_span(speech)
    assert first > 5 and last < len(change) - 5, "the sample must have leading and trailing silence"
    speaking = np.median(change[first:last + 1])
    silent = np.concatenate([change[: first - 1], change[last + 3:]])   # one frame of anticipation, two of release
    ratio = float(silent.max() / speaking)
    assert ratio < 0.15, f"mouth change in silence is {ratio:.1%} of its median during speech"


def test_mouth_level_is_relative_to_the_chunks_speech_level(speech, face, talking):
    quiet = render(0.1 * speech, face, seed=3)
    assert np.corrcoef(mouth_change(quiet), mouth_change(talking))[0, 1] > 0.95
    assert mouth_change(quiet).max() > 0.8 * mouth_change(talking).max()


def test_a_silent_chunk_keeps_the_mouth_shut(face):
    rng = np.random.default_rng(0)
    hiss = (rng.standard_normal(50 * SAMPLES_PER_FRAME) * 3e-4).astype(np.float32)   # a quiet room, ≈ −70 dBFS
    frames = render(hiss, face, seed=1)
    assert len(frames) == 50
    assert mouth_change(frames).max() < 1.0


def test_upper_face_keeps_identity_outside_blinks(talking, face):
    runs = blink_runs(talking, face)
    in_blink = np.zeros(len(talking), bool)
    for a, b in runs:
        in_blink[max(0, a - 1): b + 2] = True
    gray = lambda im: cv2.cvtColor(np.ascontiguousarray(im), cv2.COLOR_RGB2GRAY)
    y0, y1, x0, x1 = UPPER_FACE_BOX
    ref = gray(face)[y0:y1, x0:x1]
    scores = [structural_similarity(ref, gray(f)[y0:y1, x0:x1], data_range=255)
              for f, b in zip(talking, in_blink) if not b]
    assert len(scores) > len(talking) // 2
    assert min(scores) >= 0.9, f"upper-face SSIM fell to {min(scores):.3f} outside blinks"


def test_blinks_at_natural_intervals(speech, face):
    long_audio = np.tile(speech, 3)                       # ~9 s
    frames = render(long_audio, face, seed=11)
    runs = blink_runs(frames, face)
    seconds = len(frames) / 25
    assert len(runs) >= int(np.ceil(seconds / 6)), f"{len(runs)} blinks in {seconds:.1f} s"
    starts = [0] + [a for a, _ in runs] + [len(frames)]
    assert max(np.diff(starts)) <= 6 * 25, f"a gap of {max(np.diff(starts)) / 25:.1f} s without a blink"
    for a, b in runs:
        assert b - a + 1 <= 8, f"a blink of {b - a + 1} frames is too slow"


@pytest.mark.parametrize("n_frames", [0, 1, 37, 64, 65, 130])
def test_exact_frame_count_and_format(speech, face, n_frames):
    audio = np.resize(speech, n_frames * SAMPLES_PER_FRAME)   # repeats the utterance when longer
    stream = BuiltinLipSync(batch_size=64).animate(audio, face, seed=0)
    assert inspect.isgenerator(stream)
    batches = list(stream)
    assert sum(len(b) for b in batches) == n_frames
    for b in batches:
        assert b.dtype == np.uint8 and b.shape[1:] == (128, 96, 3) and 1 <= len(b) <= 64


def test_frame_count_ignores_a_partial_tail(speech, face):
    frames = render(speech[: 5 * SAMPLES_PER_FRAME + 300], face, seed=0)
    assert len(frames) == 5


def test_same_seed_same_frames_new_seed_new_motion(speech, face, talking):
    again = render(speech, face, seed=3, batch_size=7)       # batching does not change a frame
    assert np.array_equal(again, talking)
    other = render(speech, face, seed=4)
    assert not np.array_equal(other, talking)
    upper = lambda frames: box(frames, UPPER_FACE_BOX)       # the mouth is audio-driven; the rest is seeded
    assert np.abs(upper(other) - upper(talking)).mean() > 0.3
    assert blink_runs(talking, face) != blink_runs(other, face), "blink timing should depend on the seed"


def cavity_shape(frames: np.ndarray, face: np.ndarray) -> tuple[float, float]:
    """Median width (px) and height/width ratio of the dark mouth opening over the frames where it shows."""
    mouth = box(frames, MOUTH_BOX).mean(axis=-1)
    ref = box(face, MOUTH_BOX).mean(axis=-1)
    dark = mouth < 0.6 * ref[None]
    widths = dark.any(axis=1).sum(axis=1)
    heights = dark.any(axis=2).sum(axis=1)
    shown = widths > 0
    assert shown.sum() >= 5, "the mouth never opened"
    return float(np.median(widths[shown])), float(np.median(heights[shown] / widths[shown]))


def test_phoneme_events_shape_the_mouth(speech, face):
    def events(phoneme: str) -> list[PhonemeEvent]:
        return [PhonemeEvent(s, phoneme) for s in range(0, len(speech), 2205)]

    open_a = render(speech, face, 5, events("a"))
    wide_w, wide_aspect = cavity_shape(open_a, face)
    round_w, round_aspect = cavity_shape(render(speech, face, 5, events("'u:")), face)
    assert round_w <= wide_w - 4, f"'u:' mouth {round_w:.0f} px wide vs 'a' {wide_w:.0f} px"
    assert round_aspect > wide_aspect, f"'u:' height/width {round_aspect:.2f} vs 'a' {wide_aspect:.2f}"
    pressed = render(speech, face, 5, events("m"))            # bilabial: lips stay together
    assert mouth_change(pressed).max() < 0.2 * mouth_change(open_a).max()


def test_rejects_a_face_that_is_not_aligned_or_audio_that_is_not_mono(speech, face):
    with pytest.raises(InputError, match="128"):
        BuiltinLipSync().animate(speech, np.zeros((256, 256, 3), np.uint8), seed=0)
    with pytest.raises(InputError, match="mono"):
        BuiltinLipSync().animate(np.stack([speech, speech], axis=1), face, seed=0)


def test_mouth_opens_at_the_real_lips_of_a_short_face(speech):
    """Aligned by the eyes, the astronaut's lips sit near y≈81, not at the canonical y=90: the opening must
    happen where `locate_mouth` finds them, and the collar below the chin must stay put."""
    from skimage import data

    from modules.face.align import align_face, analyze_portrait
    from modules.face.mouth import locate_mouth

    photo = data.astronaut()
    aligned = align_face(photo, analyze_portrait(photo)).image
    mx, my = locate_mouth(aligned)
    assert my < C.MOUTH_CENTER[1] - 5, f"astronaut mouth found at y={my:.1f}"
    frames = render(speech, aligned, seed=3)
    change = np.abs(frames.astype(np.float32) - frames[:1].astype(np.float32)).mean(axis=(0, 3))   # (128, 96)
    at_lips = change[int(my) - 5:int(my) + 5, int(mx) - 15:int(mx) + 15].mean()
    lower = change[int(my) + 5:int(my) + 15, int(mx) - 15:int(mx) + 15].mean()
    assert at_lips > 2.0 * lower, f"change at the lips {at_lips:.1f} vs 10 px lower {lower:.1f}"
    rows = change[70:110, int(mx) - 15:int(mx) + 15].mean(axis=1)
    assert abs(70 + int(np.argmax(rows)) - my) <= 3
    assert change[122:, :].mean() < 1.0                     # below the chin: the collar does not move
