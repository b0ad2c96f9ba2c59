"""Render aligned-face frames from per-frame controls by warping one identity image.

Why warping: the identity's own lips, skin and lighting move, so the result looks like that person and the
motion transfer downstream sees real texture motion. Per frame:
  1. mouth/jaw: a smooth backward displacement field (cv2.remap) splits the lips — upper lip up a little,
     lower lip and jaw down, corners out (wide) or in (round);
  2. the opened gap is filled with a dark red cavity with a hint of upper teeth, feathered over one pixel;
  3. blinks: the upper lid is drawn down over each eye in the colour of the skin just above it (the eye
     squashed below the lid margin), with a soft lash line;
  4. head motion: one small similarity warp of the whole frame.
Geometry comes from `modules.face.canonical`, moved onto the lip line `modules.face.mouth.locate_mouth` finds.
Work is vectorised over a batch and confined to small regions, so a frame costs well under a millisecond.
"""

from __future__ import annotations

import cv2
import numpy as np

from deepstory_kernel.errors import InputError
from modules.classic.head_motion import motion_matrix
from modules.face import canonical as C
from modules.face.mouth import locate_mouth

JAW_DROP_PX = 6.5          # lower-lip drop at full opening
UPPER_LIP_RATIO = 0.3      # upper lip rises by this share of the jaw drop
CHIN_RATIO = 0.85          # chin follows the lower lip by this share
VERTICAL_SCALE_RANGE = (0.7, 1.2)   # eye-to-mouth height vs the canonical face's
CORNER_OUT_PX = 2.0        # corner shift at width +1 (wide)
CORNER_IN_PX = 3.0         # corner shift at width −1 (round)
CAVITY_WIDTH_RATIO = 0.82  # inner lip opening vs corner-to-corner half width
EYE_HALF_WIDTH = 9.5
EYE_TOP = 3.5              # eye opening spans [eye_y − EYE_TOP, eye_y + EYE_BOTTOM]
EYE_BOTTOM = 4.0
LID_SKIN = 2.0             # rows of skin just above the eye whose colour paints the closing lid
DEEP_CAVITY_RGB = np.array([52.0, 16.0, 20.0], dtype=np.float32)   # dim red throat, not a black hole
TONGUE_RGB = np.array([150.0, 66.0, 68.0], dtype=np.float32)
TEETH_RGB = np.array([185.0, 175.0, 160.0], dtype=np.float32)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


class FaceRenderer:
    """Prepared once per identity (uint8 RGB (128, 96, 3)); `render` turns control arrays into frames."""

    def __init__(self, identity: np.ndarray) -> None:
        if identity.shape != (C.ALIGNED_HEIGHT, C.ALIGNED_WIDTH, 3) or identity.dtype != np.uint8:
            raise InputError(f"The aligned face must be a uint8 RGB image of {C.ALIGNED_HEIGHT}×{C.ALIGNED_WIDTH} "
                             f"(H×W), got {identity.dtype} {identity.shape}; align the portrait first.")
        self.identity = np.ascontiguousarray(identity)
        self.height, self.width = C.ALIGNED_SHAPE
        self._prepare_mouth()
        self._eyes = [self._prepare_eye(C.LEFT_EYE), self._prepare_eye(C.RIGHT_EYE)]
        self.pivot = self.mouth_center            # roll about the mouth

    # ---------- preparation ----------
    def _prepare_mouth(self) -> None:
        """Mouth geometry placed on this face's real lip line (`locate_mouth`), scaled by its eye-to-mouth height.

        Aligning by the eyes leaves a short face's lips well above the canonical mouth (the astronaut's sit at
        y≈81, not 90): the canonical mouth shape is moved there, and vertical distances (jaw drop, falloffs)
        shrink with the eye-to-mouth height so a short face does not get a giant's jaw.
        """
        mouth_x, mouth_y = locate_mouth(self.identity)
        self.mouth_center = (float(mouth_x), float(mouth_y))
        (lx, ly), (rx, ry) = C.MOUTH_LEFT, C.MOUTH_RIGHT
        self.mouth_x = float(mouth_x)
        self.half_width = 0.5 * (rx - lx)
        slope = (ry - ly) / (rx - lx)
        canonical_height = C.MOUTH_CENTER[1] - C.EYES_MID[1]
        self.vertical_scale = float(np.clip((mouth_y - C.EYES_MID[1]) / canonical_height, *VERTICAL_SCALE_RANGE))
        s = self.vertical_scale
        x0 = int(max(0, np.floor(self.mouth_x - 2.4 * self.half_width)))
        x1 = int(min(self.width, np.ceil(self.mouth_x + 2.4 * self.half_width)))
        y0 = int(max(0, np.floor(min(C.NOSE_TIP[1] + 5, mouth_y - 8.0 * s))))
        self.mouth_box = (y0, self.height, x0, x1)
        xs = np.arange(x0, x1, dtype=np.float32)
        ys = np.arange(y0, self.height, dtype=np.float32)
        self._mx = xs - self.mouth_x                                   # (w,) x relative to the mouth centre
        line = mouth_y + slope * self._mx                              # (w,) lip contact line
        self._line = line
        rel = ys[:, None] - line[None, :]                              # (h, w) rows below the lip line
        self._grid_x, self._grid_y = np.meshgrid(xs, ys)
        self._below = (rel >= 0).astype(np.float32)
        self._toward_chin = _smoothstep(rel / (14.0 * s)) * self._below   # 0 at the lips → 1 at the chin
        chin_rel = (C.CHIN[1] - C.MOUTH_CENTER[1]) * s                 # this face's chin, rows below the lips
        self._above_neck = (1.0 - _smoothstep((rel - chin_rel) / (8.0 * s))).astype(np.float32)  # collar stays
        self._upper_falloff = (1.0 - _smoothstep(-rel / (7.0 * s))) * (1.0 - self._below)
        u = self._mx / (1.45 * self.half_width)
        self._broad = (1.0 - _smoothstep((np.abs(u) - 0.75) / 0.65)).astype(np.float32)  # jaw width profile
        sigma = 0.75
        un = self._mx / self.half_width
        side = un * np.exp((1.0 - un ** 2) / (2.0 * sigma ** 2))
        self._side = side.astype(np.float32)                           # corner shift profile, ±1 at corners
        self._corner_vertical = np.exp(-(rel / (6.0 * s)) ** 2).astype(np.float32)
        self._rel = rel.astype(np.float32)
        lip_rows = np.clip(np.round(line).astype(int), 1, self.height - 2)
        inner = np.abs(self._mx) < 0.6 * self.half_width
        cols = np.arange(x0, x1)[inner]
        samples = np.concatenate([self.identity[lip_rows[inner] - 1, cols], self.identity[lip_rows[inner] + 1, cols]])
        self._lip_rgb = samples.reshape(-1, 3).astype(np.float32).mean(axis=0)

    def _prepare_eye(self, centre: tuple[float, float]) -> dict:
        ex, ey = centre
        top_skin = ey - EYE_TOP - LID_SKIN
        x0 = int(max(0, np.floor(ex - EYE_HALF_WIDTH - 1)))
        x1 = int(min(self.width, np.ceil(ex + EYE_HALF_WIDTH + 2)))
        y0 = int(max(0, np.floor(top_skin)))
        y1 = int(min(self.height, np.ceil(ey + EYE_BOTTOM + 2)))
        xs = np.arange(x0, x1, dtype=np.float32)
        ys = np.arange(y0, y1, dtype=np.float32)
        arc = np.sqrt(np.clip(1.0 - ((xs - ex) / EYE_HALF_WIDTH) ** 2, 0.0, 1.0))
        gx, gy = np.meshgrid(xs, ys)
        lid = ey - EYE_TOP
        band = self.identity[int(np.floor(lid - LID_SKIN)):int(np.floor(lid)), x0:x1].astype(np.float32).mean(axis=0)
        below_row = int(min(self.height - 2, np.ceil(ey + EYE_BOTTOM + 2)))
        cheek = self.identity[below_row:below_row + 2, x0:x1].astype(np.float32).mean(axis=0)
        band = 0.65 * band + 0.35 * cheek        # a shut lid catches more light than the crease above an open eye
        skin = cv2.blur(band[None], (5, 1), borderType=cv2.BORDER_REPLICATE)[0]      # (w, 3) per-column lid colour
        return {"box": (y0, y1, x0, x1), "arc": arc.astype(np.float32), "gx": gx, "gy": gy,
                "lid": lid, "bottom": ey + EYE_BOTTOM, "skin": skin}

    # ---------- rendering ----------
    def render(self, opening: np.ndarray, width: np.ndarray, blink: np.ndarray, motion: np.ndarray) -> np.ndarray:
        """Controls (B,) each (+ motion (B, 3): dx, dy, roll°) → uint8 (B, 128, 96, 3).

        `opening` in [0, 1] scales the jaw drop; `width` in [-1, 1] (round … wide); `blink` in [0, 1] (shut).
        """
        n = len(opening)
        jaw = np.asarray(opening, np.float32) * (JAW_DROP_PX * self.vertical_scale)
        frames = np.repeat(self.identity[None], n, axis=0)
        moving = (jaw > 0.05) | (np.abs(width) > 0.02)
        if moving.any():
            idx = np.flatnonzero(moving)
            frames[idx] = self._render_mouths(frames[idx], jaw[idx], np.asarray(width, np.float32)[idx])
        for i in np.flatnonzero(np.asarray(blink) > 0.02):
            for eye in self._eyes:
                self._close_eye(frames[i], eye, float(blink[i]))
        for i in range(n):
            dx, dy, roll = (float(v) for v in motion[i])
            if abs(dx) + abs(dy) + abs(roll) > 1e-3:
                matrix = motion_matrix(dx, dy, roll, self.pivot)
                frames[i] = cv2.warpAffine(frames[i], matrix, (self.width, self.height), flags=cv2.INTER_LINEAR,
                                           borderMode=cv2.BORDER_REPLICATE)
        return frames

    def _render_mouths(self, frames: np.ndarray, jaw: np.ndarray, width: np.ndarray) -> np.ndarray:
        y0, y1, x0, x1 = self.mouth_box
        corner = np.where(width >= 0, width * CORNER_OUT_PX, width * CORNER_IN_PX).astype(np.float32)   # (B,)
        rounding = np.clip(-width, 0.0, 1.0)                 # puckered lips: a smaller, taller, rounder hole
        cavity_half = (CAVITY_WIDTH_RATIO - 0.17 * rounding) * (self.half_width + corner)           # (B,)
        u = self._mx[None, :] / cavity_half[:, None]                                                  # (B, w)
        lens_shape = np.clip(1.0 - u ** 2, 0.0, 1.0)
        lens_cavity = np.sqrt(lens_shape)                      # elliptic opening outline
        lens_lips = lens_shape ** 0.8                          # softer for the lip displacement (never exceeds it)
        upper = (UPPER_LIP_RATIO + 0.3 * rounding) * jaw
        lower_lip = jaw * (1.0 + 0.25 * rounding)
        t = self._toward_chin[None]
        lower_dy = (lower_lip[:, None, None] * lens_lips[:, None, :] * (1.0 - t)
                    + jaw[:, None, None] * CHIN_RATIO * self._broad[None, None, :] * t) * self._above_neck[None]
        dy = lower_dy * self._below[None] - upper[:, None, None] * lens_lips[:, None, :] * self._upper_falloff[None]
        dx = corner[:, None, None] * self._side[None, None, :] * self._corner_vertical[None]
        map_x = (self._grid_x[None] - dx).astype(np.float32)
        map_y = (self._grid_y[None] - dy).astype(np.float32)
        region = np.empty((len(jaw), y1 - y0, x1 - x0, 3), dtype=np.uint8)
        for i in range(len(jaw)):
            region[i] = cv2.remap(self.identity, map_x[i], map_y[i], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        region = self._paint_cavity(region, lower_lip, upper, lens_cavity, u, rounding)
        frames[:, y0:y1, x0:x1] = region
        return frames

    def _paint_cavity(self, region: np.ndarray, jaw: np.ndarray, upper: np.ndarray, lens: np.ndarray,
                      u: np.ndarray, rounding: np.ndarray) -> np.ndarray:
        rel = self._rel[None]                                   # rows below the lip line, (1, h, w)
        top = -upper[:, None, None] * lens[:, None, :]          # (B, 1, w)
        bottom = jaw[:, None, None] * lens[:, None, :]
        alpha = np.clip(rel - top + 0.5, 0.0, 1.0) * np.clip(bottom - rel + 0.5, 0.0, 1.0)
        alpha *= np.clip((bottom - top) / 1.5, 0.0, 1.0)        # a hair-line gap stays a shadow, not a hole
        gap = np.maximum(bottom - top, 1e-3)
        v = np.clip((rel - top) / gap, 0.0, 1.0)                # 0 at the upper lip, 1 at the lower lip
        depth = np.sqrt(lens)[:, None, :] * np.sin(np.pi * v)   # deepest in the middle of the opening
        edge_rgb = 0.45 * self._lip_rgb
        colour = edge_rgb + (DEEP_CAVITY_RGB - edge_rgb) * depth[..., None]
        teeth_rows = np.minimum(2.2, 0.35 * gap)
        teeth = ((rel - top) < teeth_rows).astype(np.float32) * np.clip((gap - 2.5) / 2.0, 0.0, 1.0)
        teeth *= np.clip(1.0 - (np.abs(u)[:, None, :] - 0.45) / 0.2, 0.0, 1.0) * 0.4
        teeth *= (1.0 - 0.7 * rounding)[:, None, None]       # pursed lips hide the teeth
        colour = colour + (TEETH_RGB - colour) * teeth[..., None]
        tongue = _smoothstep((v - 0.55) / 0.35) * np.clip((gap - 3.0) / 3.0, 0.0, 1.0) * (np.abs(u)[:, None, :] < 0.7)
        colour = colour + (TONGUE_RGB - colour) * (0.35 * tongue)[..., None]     # a hint of tongue in a wide-open mouth
        out = region.astype(np.float32) * (1.0 - alpha[..., None]) + colour * alpha[..., None]
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)

    def _close_eye(self, frame: np.ndarray, eye: dict, closure: float) -> None:
        """Upper lid drawn down to `closure` of the eye height in lid-skin colour; the eye squashed below it."""
        y0, y1, x0, x1 = eye["box"]
        lid, bottom = eye["lid"], eye["bottom"]
        gy, arc = eye["gy"], eye["arc"][None, :]
        edge = lid + closure * arc * (bottom - lid)                          # lid margin per column, (1, w)
        squashed = bottom - (bottom - gy) * (bottom - lid) / np.maximum(bottom - edge, 0.3)
        map_y = np.where((gy > edge) & (gy <= bottom), squashed, gy).astype(np.float32)
        patch = cv2.remap(self.identity, eye["gx"], map_y, cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        # Lid: skin colour of the band just above the eye, darkening a little toward the lash line.
        cover = np.clip(edge - gy + 0.5, 0.0, 1.0) * np.clip(gy - lid + 0.5, 0.0, 1.0) * np.clip(edge - lid, 0.0, 1.0)
        shade = 1.0 - 0.12 * np.clip((gy - lid) / np.maximum(edge - lid, 1.0), 0.0, 1.0)
        lid_rgb = eye["skin"][None] * shade[..., None]
        patch = patch * (1.0 - cover[..., None]) + lid_rgb * cover[..., None]
        lash = np.exp(-((gy - edge) / 0.7) ** 2) * (0.3 * closure) * np.clip(arc / 0.4, 0.0, 1.0)
        patch *= (1.0 - lash[..., None])
        frame[y0:y1, x0:x1] = np.clip(patch + 0.5, 0, 255).astype(np.uint8)
