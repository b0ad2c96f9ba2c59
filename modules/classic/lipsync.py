"""The built-in base animator: chunk audio → the aligned identity face talking, 25 fps, no model download.

1. controls for the whole chunk (tiny per-frame arrays): mouth opening and shape from the audio envelope and
   spectrum, sharpened by visemes when the voice gives phoneme events (lips shut on p/b/m, lower lip to the teeth
   on f/v, rounded o/u/w, spread i/e), seeded blinks, head motion that nods on stressed syllables;
2. a `FaceRig` on the identity's own face mesh (MediaPipe, `modules.face.mesh`) turns each frame's controls into
   a jaw drop, parted lips and a painted inner mouth; the head motion is one small similarity warp per frame.
Frames are rendered and yielded batch by batch, so memory is bounded by one batch whatever the chunk length.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import cv2
import numpy as np

from deepstory_kernel.contracts import FaceTrack, MotionStyle, PhonemeEvent
from deepstory_kernel.errors import InputError
from deepstory_kernel.media import FPS, SAMPLE_RATE
from modules.classic.audio_features import mouth_drive
from modules.classic.blinks import blink_closure
from modules.classic.head_motion import head_motion, motion_matrix, stress_times
from modules.classic.memo import image_key, remembered
from modules.classic.rig import FaceRig, MouthPose
from modules.classic.visemes import viseme_tracks
from modules.face import canonical as C

JAW_FULL = 0.30            # lower-lip drop at full opening, in mouth widths
UPPER_FULL = 0.05          # upper-lip raise at full opening
SPREAD_FULL = 0.07         # corners out on /i/ (each side)
ROUND_FULL = 0.17          # corners in on /u/ (each side)
TUCK_RAISE = 0.07          # f/v: lower lip held up onto the upper teeth's edge …
TUCK_JAW = 0.11            # … while the jaw opens a little
VISEME_WEIGHT = 0.7        # share of the mouth shape taken from phoneme events when they are known


def identity_rig(identity: np.ndarray) -> FaceRig | None:
    """The rig of an aligned identity (face mesh found once, remembered for its next chunks); None when the face
    model finds no face in it (a face placed by hand on a picture it cannot read: only the head moves)."""
    from modules.face.mesh import detect_mesh

    def make() -> FaceRig | None:
        mesh = detect_mesh(identity, thorough=False)
        return None if mesh is None else FaceRig(identity, mesh.landmarks)

    rig: FaceRig | None = remembered(image_key("identity-rig", identity), make)
    return rig


class BuiltinLipSync:
    """`deepstory_kernel.contracts.BaseAnimator` without weights: a mesh rig of the identity, driven by the voice."""

    def __init__(self, batch_size: int = 64, sample_rate: int = SAMPLE_RATE, fps: int = FPS) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.batch_size = batch_size
        self.sample_rate = sample_rate
        self.fps = fps
        self.samples_per_frame = sample_rate // fps

    def controls(self, audio: np.ndarray, seed: int, phonemes: Sequence[PhonemeEvent] = (),
                 style: MotionStyle | None = None) -> dict[str, np.ndarray]:
        """Per-frame controls for the chunk: opening, width, closure, tuck, the rig pose fields and motion (T, 3)."""
        style = style or MotionStyle()
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        n = len(audio) // self.samples_per_frame
        drive = mouth_drive(audio, self.samples_per_frame, self.sample_rate)
        opening, width = drive.opening, drive.width
        closure = np.zeros(n, np.float32)
        tuck = np.zeros(n, np.float32)
        if phonemes:
            v = viseme_tracks(phonemes, n, self.samples_per_frame, len(audio))
            opening = opening * (0.55 + 0.45 * v.opening)
            width = VISEME_WEIGHT * v.width + (1.0 - VISEME_WEIGHT) * width
            opening = np.minimum(opening / 0.85, 1.0)     # visemes rarely reach 1: keep the full range in use
            closure, tuck = v.closure, v.tuck * (opening > 0.02)
            opening = opening * (1.0 - closure)
        width = width * np.clip(opening * 4.0, 0.0, 1.0)     # no pursed or spread lips in silence
        blink_seed, motion_seed, style_seed = np.random.SeedSequence([int(seed) % 2**64, 0x11B5]).spawn(3)
        blink = blink_closure(n, self.fps, np.random.default_rng(blink_seed), rate=style.blink_rate)
        nods = stress_times(phonemes, self.sample_rate) if phonemes else None
        motion = head_motion(n, self.fps, np.random.default_rng(motion_seed), drive.loudness, nods, style.head)
        # a take's own articulation: another seed speaks a little wider or tighter
        take = np.random.default_rng(style_seed).uniform(0.9, 1.1)
        mouth = float(style.mouth) * take
        shape = float(style.expression) * min(float(style.mouth), 1.0)     # no mouth motion: no lip shapes either
        tuck = tuck * min(float(style.mouth), 1.0)
        open_ = opening * (1.0 - tuck)
        jaw = JAW_FULL * mouth * open_ + TUCK_JAW * tuck
        upper = UPPER_FULL * mouth * open_ + 0.5 * UPPER_FULL * tuck
        return {"opening": opening.astype(np.float32), "width": width.astype(np.float32),
                "closure": closure.astype(np.float32), "tuck": tuck.astype(np.float32),
                "jaw": jaw.astype(np.float32), "upper": upper.astype(np.float32),
                "spread": (SPREAD_FULL * shape * np.clip(width, 0, 1)).astype(np.float32),
                "round": (ROUND_FULL * shape * np.clip(-width, 0, 1)).astype(np.float32),
                "tuck_raise": (TUCK_RAISE * tuck).astype(np.float32),
                "blink": blink, "motion": motion}

    def track(self, audio: np.ndarray, identity: np.ndarray, seed: int, phonemes: Sequence[PhonemeEvent] = (),
              *, style: MotionStyle | None = None) -> FaceTrack | None:
        """Exactly what `animate` does to the face, frame by frame (None when the face model finds no face in the
        identity: then only the picture sways, and a transfer measures that)."""
        rig = identity_rig(np.asarray(identity))
        if rig is None:
            return None
        c = self.controls(np.asarray(audio, np.float32).reshape(-1), seed, phonemes, style)
        pivot = (float(rig.origin[0]), float(rig.origin[1]))
        head = np.array([motion_matrix(float(dx), float(dy), float(r), pivot) for dx, dy, r in c["motion"]])
        mouth = np.stack([c["jaw"], c["upper"], c["spread"], c["round"], c["tuck_raise"]], axis=1)
        return FaceTrack(mouth.astype(np.float64), c["blink"].astype(np.float64), head.reshape(-1, 2, 3))

    def animate(
        self,
        audio: np.ndarray,
        identity: np.ndarray,
        seed: int,
        phonemes: Sequence[PhonemeEvent] = (),
        style: MotionStyle | None = None,
    ) -> Iterator[np.ndarray]:
        """Yield uint8 (B, 128, 96, 3) batches, exactly `len(audio) // 882` frames in total.

        Inputs are checked here, before the first frame is asked for, so a bad call fails where it is made.
        """
        audio = np.asarray(audio)
        if audio.ndim != 1:
            raise InputError(f"Chunk audio must be mono (one dimension), got shape {audio.shape}; mix it down first.")
        identity = np.asarray(identity)
        if identity.shape != (C.ALIGNED_HEIGHT, C.ALIGNED_WIDTH, 3) or identity.dtype != np.uint8:
            raise InputError(f"The aligned face must be a uint8 RGB image of {C.ALIGNED_HEIGHT}×{C.ALIGNED_WIDTH} "
                             f"(H×W), got {identity.dtype} {identity.shape}; align the portrait first.")
        rig = identity_rig(identity)
        controls = self.controls(audio, seed, phonemes, style)
        return self._frames(rig, controls, identity)

    def _head_only(self, identity: np.ndarray, motion: np.ndarray) -> Iterator[np.ndarray]:
        """No face the model can read: the picture only sways with the head motion (nothing to open or blink)."""
        pivot = (C.ALIGNED_WIDTH / 2, C.ALIGNED_HEIGHT * 0.7)
        for start in range(0, len(motion), self.batch_size):
            part = motion[start:start + self.batch_size]
            yield np.stack([cv2.warpAffine(identity, motion_matrix(float(dx), float(dy), float(r), pivot),
                                           identity.shape[1::-1], flags=cv2.INTER_LINEAR,
                                           borderMode=cv2.BORDER_REPLICATE) for dx, dy, r in part])

    def _frames(self, rig: FaceRig | None, c: dict[str, np.ndarray], identity: np.ndarray) -> Iterator[np.ndarray]:
        n = len(c["opening"])
        if rig is None:
            yield from self._head_only(identity, c["motion"])
            return
        pose = MouthPose(c["jaw"], c["upper"], c["spread"], c["round"], c["tuck_raise"], c["blink"])
        pivot = (float(rig.origin[0]), float(rig.origin[1]))
        rest = rig.render(MouthPose(*(np.zeros(1, np.float32) for _ in range(6))))[0]
        for start in range(0, n, self.batch_size):
            stop = min(n, start + self.batch_size)
            batch = np.empty((stop - start, *rig.image.shape), np.uint8)
            for j, i in enumerate(range(start, stop)):
                still = (abs(pose.jaw[i]) < 1e-4 and abs(pose.spread[i]) < 1e-4 and abs(pose.round[i]) < 1e-4
                         and abs(pose.tuck[i]) < 1e-4 and abs(pose.upper[i]) < 1e-4)
                frame = rest.copy() if still else rig.image.copy()
                if not still:
                    rig.render_mouth(frame, rig.controls_to_coefs(pose, i))
                rig.render_eyes(frame, float(pose.blink[i]))
                dx, dy, roll = (float(x) for x in c["motion"][i])
                if abs(dx) + abs(dy) + abs(roll) > 1e-3:
                    frame = cv2.warpAffine(frame, motion_matrix(dx, dy, roll, pivot), frame.shape[1::-1],
                                           flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                batch[j] = frame
            yield batch
